"""Every run event round-trips through JSON as its own class; events are immutable."""

from __future__ import annotations

import typing

import pytest
from pydantic import ValidationError

from covey.spec import ErrorInfo, ModelResponse, Requirement, RunResult, RunStatus, TextPart, Usage
from covey.spec import events as ev
from covey.spec.learning import LearningChange

RESULT = RunResult(run_id="r", status=RunStatus.COMPLETED, output={"a": 1}, usage=Usage(requests=1))
ERROR = ErrorInfo(type="RateLimitedError", message="slow down", details={"retry_after": 2.0})
EXAMPLES: list[ev.BaseEvent] = [
    ev.RunStarted(run_id="r", seq=1, session_id="s", user_id="u", input="hi", resumed=True),
    ev.RunCompleted(run_id="r", seq=2, result=RESULT),
    ev.RunFailed(run_id="r", seq=2, result=RESULT),
    ev.RunPaused(run_id="r", seq=2, result=RESULT),
    ev.RunCancelled(run_id="r", seq=2, result=RESULT),
    ev.ModelRequestStarted(run_id="r", seq=3, model_name="m", step=1),
    ev.ModelRequestCompleted(
        run_id="r",
        seq=4,
        model_name="m",
        step=1,
        response=ModelResponse(parts=[TextPart(content="x")]),
        usage=Usage(input_tokens=3),
    ),
    ev.ModelRequestFailed(run_id="r", seq=4, model_name="m", step=1, error=ERROR),
    ev.ModelRequestCancelled(run_id="r", seq=4, model_name="m", step=1),
    ev.ModelRequestRetry(run_id="r", seq=4, model_name="m", attempt=1, delay=0.5, error=ERROR),
    ev.ModelFallback(run_id="r", seq=5, from_model="a", to_model="b", error=ERROR),
    ev.TextDelta(run_id="r", seq=5, delta="he", part_index=1),
    ev.ThinkingDelta(run_id="r", seq=5, delta="hm"),
    ev.ToolCallDelta(run_id="r", seq=5, tool_call_id="c", tool_name="t", args_delta='{"a'),
    ev.ToolCallStarted(run_id="r", seq=6, tool_call_id="c", tool_name="t", args={"a": 1}),
    ev.ToolCallCompleted(run_id="r", seq=7, tool_call_id="c", tool_name="t", result=[1, 2]),
    ev.ToolCallFailed(run_id="r", seq=7, tool_call_id="c", tool_name="t", error="boom", retry=True),
    ev.ToolCallCancelled(run_id="r", seq=7, tool_call_id="c", tool_name="t"),
    ev.ToolCallPaused(run_id="r", seq=7, tool_call_id="c", tool_name="delegate_task"),
    ev.StepStarted(
        run_id="w",
        seq=2,
        step_name="draft",
        step_path="refine[2].draft",
        step_type="agent",
        step_run_id="s1",
    ),
    ev.StepCompleted(
        run_id="w",
        seq=3,
        step_name="draft",
        step_path="draft",
        step_type="function",
        output={"n": 1},
        step_run_id="s1",
    ),
    ev.StepFailed(
        run_id="w",
        seq=3,
        step_name="draft",
        step_path="draft",
        step_type="function",
        error=ERROR,
    ),
    ev.StepSkipped(run_id="w", seq=3, step_name="legal", step_path="check", step_type="condition"),
    ev.StepPaused(
        run_id="w",
        seq=3,
        step_name="ok",
        step_path="ok",
        step_type="function",
        requirements=[Requirement(tool_call_id="ok:1", tool_name="confirm", kind="approval")],
    ),
    ev.StepCancelled(run_id="w", seq=3, step_name="ok", step_path="ok", step_type="function"),
    ev.LearningChanged(
        run_id="r",
        seq=9,
        learner="memory",
        change=LearningChange(kind="memory", action="created", id="m1", content="Likes tea"),
    ),
    ev.LearningCompleted(run_id="r", seq=10, learner="memory", usage=Usage(requests=1), changes=1),
    ev.LearningFailed(run_id="r", seq=11, learner="memory", error="daily cap reached"),
    ev.RequirementCreated(
        run_id="r",
        seq=8,
        requirement=Requirement(tool_call_id="c", tool_name="t", kind="approval", args={"a": 1}),
    ),
    ev.OutputRetry(run_id="r", seq=9, retry=1, errors=[{"loc": ["x"], "msg": "bad"}]),
    ev.OutputDelta(run_id="r", parent_run_id="p", seq=10, output={"x": 1}),
    ev.GuardrailTripped(run_id="r", seq=2, guardrail="pii", stage="input", reason="email found"),
]


def test_the_examples_cover_every_event_type() -> None:
    members = typing.get_args(typing.get_args(ev.RunEvent)[0])
    assert {type(e) for e in EXAMPLES} == set(members)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.type)
def test_each_event_round_trips_as_its_own_class(event: ev.BaseEvent) -> None:
    loaded = ev.load_event(ev.dump_event(event))
    assert type(loaded) is type(event)
    assert loaded == event
    assert ev.load_event(event.model_dump(mode="json")) == event


def test_types_follow_subject_dot_verb() -> None:
    for event in EXAMPLES:
        subject, dot, verb = event.type.partition(".")
        assert dot and subject and verb


def test_events_are_immutable_and_strict() -> None:
    event = EXAMPLES[0]
    with pytest.raises(ValidationError):
        event.seq = 99  # type: ignore[misc]
    with pytest.raises(ValidationError):
        ev.load_event({"type": "run.exploded", "run_id": "r"})
