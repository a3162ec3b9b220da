"""`/v1/traces`: the spans covey-otel kept in the store, by trace.

A root run's trace id is its run id (member runs and workflow step runs are in their root's
trace), so `GET /v1/traces/{run_id}` is the trace of a run. The listing walks the caller's
latest root runs and keeps those that have stored spans (a trace sampled out has none).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from pydantic import BaseModel, ConfigDict, Field

from covey.runtime.auth import Principal
from covey.runtime.guards import require_scope
from covey.runtime.problems import ApiError, problem_responses
from covey.runtime.state import RuntimeState
from covey.runtime.tracing import TRACING_STATE, flush_stored_spans
from covey.spec.runs import RunStatus
from covey.spec.store import TraceSpan

__all__ = ["SpanOut", "TraceController", "TraceOut", "TracePage", "TraceSummary"]

_TRACE_ID = re.compile(r"[0-9a-f]{32}")
MAX_TRACES_PAGE = 100
"""Traces listed per page at most (each is one span query)."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpanOut(_Wire):
    """One span: OTel's ids in hex, times in UTC, GenAI attributes."""

    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    name: str
    start: datetime
    end: datetime | None = None
    duration_ms: float | None = None
    status: str
    status_message: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict[str, Any])

    @classmethod
    def from_span(cls, span: TraceSpan) -> SpanOut:
        duration = None
        if span.end is not None:
            duration = (span.end - span.start).total_seconds() * 1000
        return cls(
            trace_id=span.trace_id,
            span_id=span.span_id,
            parent_span_id=span.parent_span_id,
            name=span.name,
            start=span.start,
            end=span.end,
            duration_ms=duration,
            status=span.status,
            status_message=span.status_message,
            attributes=span.attributes,
        )


class TraceOut(_Wire):
    """A trace: its spans by start time (parents before children)."""

    trace_id: str
    spans: list[SpanOut]


class TraceSummary(_Wire):
    """A trace in a listing: its root run and what its spans add up to (tokens: every model
    request of the trace, member and step runs included)."""

    trace_id: str
    run_id: str
    agent_id: str | None = None
    status: str
    start: datetime
    duration_ms: float | None = None
    span_count: int
    error_count: int
    input_tokens: int = 0
    output_tokens: int = 0


class TracePage(_Wire):
    """One page of traces, newest first; pass `next_cursor` as `cursor` for the next."""

    items: list[TraceSummary]
    next_cursor: str | None = None


def _summary(run_id: str, agent_id: str | None, spans: list[TraceSpan]) -> TraceSummary:
    """A trace's summary. A run paused and resumed has one root span per part it ran: the
    status is the latest part's, the duration runs from the first start to the last end."""
    roots = sorted((s for s in spans if s.parent_span_id is None), key=lambda s: s.start)
    roots = roots or [spans[0]]
    first, last = roots[0], roots[-1]
    ends = [s.end for s in roots if s.end is not None]
    duration = (max(ends) - first.start).total_seconds() * 1000 if ends else None
    chats = [s for s in spans if s.attributes.get("gen_ai.operation.name") == "chat"]
    return TraceSummary(
        trace_id=first.trace_id,
        run_id=run_id,
        agent_id=agent_id,
        status=str(last.attributes.get("covey.run.status", last.status)),
        start=first.start,
        duration_ms=duration,
        span_count=len(spans),
        error_count=sum(1 for s in spans if s.status == "error"),
        input_tokens=sum(int(s.attributes.get("gen_ai.usage.input_tokens", 0)) for s in chats),
        output_tokens=sum(int(s.attributes.get("gen_ai.usage.output_tokens", 0)) for s in chats),
    )


class TraceController(Controller):
    """Browse stored traces; the caller sees its own runs' traces (admins: the tenant's)."""

    path = "/v1/traces"
    tags = ["traces"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012

    @get(
        "/",
        opt={"scope": "runs:read"},
        summary="List traces",
        responses=problem_responses(400, 401, 403),
        description="The caller's latest root runs that have stored spans, newest first "
        "(`status=failed`: only failed runs). "
        "A page may hold fewer than `limit` traces (runs sampled out have none); follow "
        "`next_cursor` until it is null.",
    )
    async def list_traces(
        self,
        request: Request[Any, Any, Any],
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_TRACES_PAGE)] = 20,
        cursor: Annotated[str | None, QueryParameter(max_length=4096)] = None,
        status: Annotated[RunStatus | None, QueryParameter()] = None,
    ) -> TracePage:
        """Trace summaries: root run, status, duration, span and error counts, tokens."""
        await flush_stored_spans(request.app.state.get(TRACING_STATE))
        scope = principal.read_scope
        page = await runtime.store.list_runs(
            scope, limit=limit, cursor=cursor, order="desc", status=status
        )
        items: list[TraceSummary] = []
        try:
            from covey.otel.ids import trace_id_for_run
        except ImportError:  # covey-otel is not installed: no span was ever stored
            return TracePage(items=[], next_cursor=None)
        for run in page.items:
            if run.parent_run_id is not None:
                continue
            spans = await runtime.store.list_spans(scope, f"{trace_id_for_run(run.id):032x}")
            if spans:
                items.append(_summary(run.id, run.agent_id, spans))
        return TracePage(items=items, next_cursor=page.next_cursor)

    @get(
        "/{trace_id:str}",
        opt={"scope": "runs:read"},
        summary="Get a trace",
        responses=problem_responses(400, 401, 403, 404),
        description="Every stored span of the trace the caller may see, by start time. A "
        "root run's trace id is its run id.",
    )
    async def get_trace(
        self,
        request: Request[Any, Any, Any],
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        trace_id: FromPath[str],
    ) -> TraceOut:
        """The trace's spans."""
        if not _TRACE_ID.fullmatch(trace_id):
            raise ApiError(
                400,
                "validation-error",
                "trace_id must be 32 lower-case hex digits (a root run's id)",
                errors=[{"field": "trace_id", "message": "not a trace id"}],
            )
        await flush_stored_spans(request.app.state.get(TRACING_STATE))
        spans = await runtime.store.list_spans(principal.read_scope, trace_id)
        if not spans:
            raise ApiError(404, "not-found", f"No trace {trace_id!r} is stored for the caller")
        return TraceOut(trace_id=trace_id, spans=[SpanOut.from_span(s) for s in spans])
