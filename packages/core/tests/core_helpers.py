"""Shared helpers for covey-core tests: run collectors and the event-log invariants."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart
from covey.spec import events as ev

FINAL = (ev.RunCompleted, ev.RunFailed, ev.RunPaused, ev.RunCancelled)


def check_invariants(events: list[ev.BaseEvent]) -> None:
    """Every `X.started` closed exactly once by a later ending of the same subject; `seq`
    strictly increasing per run; exactly one final run event, last, carrying the result."""
    last_seq: dict[str, int] = {}
    open_: dict[tuple[str, str], int] = {}
    for event in events:
        assert event.seq > last_seq.get(event.run_id, 0), f"seq not increasing at {event.type}"
        last_seq[event.run_id] = event.seq
        subject, _, verb = event.type.partition(".")
        key = (event.run_id, subject + ":" + str(getattr(event, "tool_call_id", "")))
        if subject == "run":
            key = (event.run_id, "run")
        if subject == "model_request":
            key = (event.run_id, "model_request")
        if subject == "step":
            key = (event.run_id, "step:" + str(getattr(event, "step_path", "")))
        if verb == "started":
            assert open_.get(key, 0) == 0, f"{event.type} started twice without ending"
            open_[key] = 1
        elif verb in ("completed", "failed", "paused", "cancelled", "skipped") and subject in (
            "run",
            "model_request",
            "tool_call",
            "step",
        ):
            assert open_.get(key) == 1, f"{event.type} without a matching start"
            open_[key] = 0
    assert all(v == 0 for v in open_.values()), f"unclosed: {[k for k, v in open_.items() if v]}"
    finals = [e for e in events if isinstance(e, FINAL)]
    assert finals, "no final run event"
    assert isinstance(events[-1], FINAL)
    for final in finals:
        assert final.result.run_id == final.run_id  # type: ignore[attr-defined]


async def collect(stream: AsyncIterator[ev.BaseEvent]) -> list[ev.BaseEvent]:
    events = [e async for e in stream]
    check_invariants(events)
    return events


def text(content: str) -> ModelResponse:
    return ModelResponse(parts=[TextPart(content=content)])


def call(name: str, args: dict[str, Any] | str, call_id: str = "c1") -> ToolCallPart:
    return ToolCallPart(tool_name=name, args=args, tool_call_id=call_id)


def last_request(messages: list[ModelRequest | ModelResponse]) -> ModelRequest:
    request = messages[-1]
    assert isinstance(request, ModelRequest)
    return request
