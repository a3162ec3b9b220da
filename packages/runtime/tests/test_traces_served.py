"""`/v1/traces` over real HTTP: a served run's spans are stored and browsable right after its
answer, scoped like runs (users never see each other's traces), bad ids are 400 problems, and
with tracing off nothing is stored; a configured collector (a real receiver on loopback) gets
the spans, and planted secrets are in no span, stored row, exported body or log line."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import pytest
from test_auth import SECRET, good

from covey.core import Agent
from covey.core.testing import FunctionModel
from covey.runtime.config import RuntimeSettings
from covey.runtime.registry import Registry
from covey.runtime.tracing import tracing_enabled
from covey.spec import ModelResponse, TextPart, ToolCallPart
from covey.testing.http import Exchange, LoopbackServer, RecordedRequest


def test_a_served_runs_trace_is_listed_and_read_back(serve) -> None:
    _, api = serve(tracing=True)
    run = api.post("/v1/agents/weather/runs", json={"input": "Weather in Paris?"}).json()
    assert run["status"] == "completed"
    trace = api.get(f"/v1/traces/{run['run_id']}")
    assert trace.status_code == 200, trace.text
    spans = trace.json()["spans"]
    names = [s["name"] for s in spans]
    assert names[0] == "invoke_agent weather"
    assert "execute_tool get_weather" in names
    assert sum(n == "chat test" for n in names) == 2
    root = spans[0]
    assert root["parent_span_id"] is None and root["status"] == "ok"
    assert root["attributes"]["gen_ai.operation.name"] == "invoke_agent"
    assert root["attributes"]["covey.run.id"] == run["run_id"]
    assert root["duration_ms"] >= 0
    chat = next(s for s in spans if s["name"] == "chat test")
    assert chat["attributes"]["gen_ai.request.model"] == "test"
    assert chat["parent_span_id"] == root["span_id"]
    # Not recorded unless capture is on.
    assert "Paris" not in trace.text

    listing = api.get("/v1/traces")
    assert listing.status_code == 200
    items = listing.json()["items"]
    assert items[0]["trace_id"] == run["run_id"] == items[0]["run_id"]
    assert items[0]["agent_id"] == "weather"
    assert items[0]["status"] == "completed"
    assert items[0]["span_count"] == len(spans)
    assert items[0]["input_tokens"] == run["usage"]["input_tokens"]
    assert api.get("/v1/traces?status=failed").json()["items"] == []
    assert api.get("/v1/traces?status=completed").json()["items"][0]["run_id"] == run["run_id"]
    assert api.get("/v1/traces?status=nonsense").status_code == 400


def test_a_paused_and_resumed_run_is_one_trace_summarised_by_its_end(serve) -> None:
    """Each part of a resumed run is a root span of the same trace; the listing shows the
    run's final status and the time from its first start to its last end."""
    _, api = serve(tracing=True)
    run = api.post("/v1/agents/approver/runs", json={"input": "/tmp/x"}).json()
    assert run["status"] == "paused"
    call_id = run["requirements"][0]["tool_call_id"]
    done = api.post(f"/v1/runs/{run['run_id']}/resume", json={"approvals": {call_id: True}})
    assert done.json()["status"] == "completed"
    spans = api.get(f"/v1/traces/{run['run_id']}").json()["spans"]
    roots = [s for s in spans if s["parent_span_id"] is None]
    assert len(roots) == 2
    (summary,) = api.get("/v1/traces").json()["items"]
    assert summary["status"] == "completed"

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    first_start = min(at(r["start"]) for r in roots)
    last_end = max(at(r["end"]) for r in roots)
    assert at(summary["start"]) == first_start
    assert summary["duration_ms"] == pytest.approx((last_end - first_start).total_seconds() * 1000)


def test_bad_and_unknown_trace_ids(serve) -> None:
    _, api = serve(tracing=True)
    for bad in ("nothex", "A" * 32, "0" * 31, "%27%20or%201=1"):
        response = api.get(f"/v1/traces/{bad}")
        assert response.status_code == 400, bad
        assert response.json()["type"] == "urn:covey:problem:validation-error"
    missing = api.get(f"/v1/traces/{'ab' * 16}")
    assert missing.status_code == 404
    assert missing.json()["type"] == "urn:covey:problem:not-found"
    assert api.get("/v1/traces?limit=0").status_code == 400
    assert api.get("/v1/traces?limit=101").status_code == 400


def test_users_never_see_each_others_traces(serve) -> None:
    _, api = serve(
        tracing=True,
        auth="jwt",
        jwt_secret=SECRET,
        jwt_audience="covey-api",
        jwt_issuer="https://issuer",
    )
    alice = api.post(
        "/v1/agents/weather/runs", json={"input": "Rome?"}, headers=good("alice")
    ).json()
    assert api.get(f"/v1/traces/{alice['run_id']}", headers=good("alice")).status_code == 200
    assert api.get(f"/v1/traces/{alice['run_id']}", headers=good("bob")).status_code == 404
    other_tenant = good("alice", tenant="globex")
    assert api.get(f"/v1/traces/{alice['run_id']}", headers=other_tenant).status_code == 404
    assert api.get("/v1/traces", headers=good("bob")).json()["items"] == []
    assert (
        api.get("/v1/traces", headers=good("alice")).json()["items"][0]["run_id"] == alice["run_id"]
    )
    # Reading traces needs runs:read.
    assert api.get("/v1/traces", headers=good("alice", scope="agents:run")).status_code == 403
    assert api.get("/v1/traces").status_code == 401


def test_tracing_off_stores_nothing(serve) -> None:
    _, api = serve()
    run = api.post("/v1/agents/weather/runs", json={"input": "Oslo?"}).json()
    assert api.get(f"/v1/traces/{run['run_id']}").status_code == 404
    assert api.get("/v1/traces").json()["items"] == []


def test_an_otlp_endpoint_turns_tracing_on_and_bad_settings_are_refused() -> None:
    assert not tracing_enabled(RuntimeSettings(store="memory://"))
    assert tracing_enabled(
        RuntimeSettings(store="memory://", otlp_endpoint="http://127.0.0.1:4318")
    )
    from covey.runtime import create_app
    from covey.runtime.registry import Registry
    from covey.spec.errors import ConfigurationError

    settings = RuntimeSettings(
        store="memory://",
        otlp_endpoint="ftp://collector",
        otlp_headers={"x-api-key": "hdr-secret-123456"},  # type: ignore[dict-item]
    )
    with pytest.raises(ConfigurationError) as caught:
        create_app(settings, registry=Registry([]))
    assert "otlp_endpoint" in str(caught.value)
    assert "hdr-secret-123456" not in str(caught.value)
    assert "hdr-secret-123456" not in repr(settings)


PLANTED = "sk-live-RUNTIMEPLANTED0123456789"
PLANTED_PASSWORD = "correct-horse-battery-staple"


def login(user: str, password: str, api_key: str) -> str:
    """Log in."""
    return f"{user} in with {api_key}"


def _vault_model(messages: list[Any], info: Any) -> ModelResponse:
    if len(messages) == 1:
        call = ToolCallPart(
            tool_name="login",
            args={"user": "ada", "password": PLANTED_PASSWORD, "api_key": PLANTED},
            tool_call_id="c1",
        )
        return ModelResponse(parts=[call], finish_reason="tool_calls")
    return ModelResponse(parts=[TextPart(content=f"key {PLANTED}")], finish_reason="stop")


def test_served_spans_reach_a_real_collector_and_no_secret_is_anywhere(
    serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    vault = Agent(name="vault", model=FunctionModel(_vault_model), tools=[login])
    with Collector() as collector:
        server, api = serve(
            registry=Registry([vault]),
            otlp_endpoint=collector.url,
            otlp_headers={"authorization": f"Bearer {PLANTED}"},
            tracing_capture_content=True,
            tracing_service_name="served",
        )
        run = api.post("/v1/agents/vault/runs", json={"input": "open it"}).json()
        assert run["status"] == "completed"
        stored = api.get(f"/v1/traces/{run['run_id']}")
        assert stored.status_code == 200  # an endpoint turns storing on too
        listed = api.get("/v1/traces")
        server.stop()  # shutdown flushes the exporter: every span has been sent
        bodies = b"".join(r.body for r in collector.requests)
    assert collector.requests and collector.requests[0].path == "/v1/traces"
    assert collector.requests[0].headers["authorization"] == f"Bearer {PLANTED}"
    assert bytes.fromhex(run["run_id"]) in bodies  # the trace id is the run id
    assert b"invoke_agent vault" in bodies and b"execute_tool login" in bodies
    assert b"[REDACTED]" in bodies
    texts = [
        bodies.decode("utf-8", "replace"),
        stored.text,
        listed.text,
        "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records),
    ]
    for text in texts:
        assert PLANTED not in text and PLANTED_PASSWORD not in text
    args = next(s for s in stored.json()["spans"] if s["name"] == "execute_tool login")
    assert json.loads(args["attributes"]["gen_ai.tool.call.arguments"]) == {
        "user": "ada",
        "password": "[REDACTED]",
        "api_key": "[REDACTED]",
    }


class Collector(LoopbackServer[RecordedRequest, Any]):
    """A loopback OTLP/HTTP receiver: answers 200 with an empty protobuf response."""

    def serve(self, exchange: Exchange) -> None:
        self.record(exchange.request)
        exchange.send(200, b"", content_type="application/x-protobuf")
