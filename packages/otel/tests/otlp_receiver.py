"""A real OTLP/HTTP trace receiver on 127.0.0.1: decodes the protobuf bodies a collector gets."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from covey.testing.http import Exchange, LoopbackServer, RecordedRequest


class OtlpReceiver(LoopbackServer[RecordedRequest, Any]):
    """Accepts `POST /v1/traces` (application/x-protobuf) and keeps every request."""

    def serve(self, exchange: Exchange) -> None:
        self.record(exchange.request)
        body = ExportTraceServiceResponse().SerializeToString()
        exchange.send(200, body, content_type="application/x-protobuf")

    def spans(self) -> list[Any]:
        """Every span received, decoded (`opentelemetry.proto.trace.v1.Span`)."""
        found: list[Any] = []
        for request in self.requests:
            message = ExportTraceServiceRequest()
            message.ParseFromString(request.body)
            for resource in message.resource_spans:
                for scope in resource.scope_spans:
                    found.extend(scope.spans)
        return found

    def service_names(self) -> set[str]:
        names: set[str] = set()
        for request in self.requests:
            message = ExportTraceServiceRequest()
            message.ParseFromString(request.body)
            for resource in message.resource_spans:
                for attribute in resource.resource.attributes:
                    if attribute.key == "service.name":
                        names.add(attribute.value.string_value)
        return names
