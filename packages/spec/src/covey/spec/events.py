"""One typed schema for everything a run emits, streamed to callers and kept by the store.

Every event has `type` (`<subject>.<verb>`), `run_id`, `parent_run_id`, `seq` (strictly
increasing within a run) and `time`. Every `<subject>.started` is closed by exactly one
`<subject>.completed`, `.failed`, `.paused` or `.cancelled` of the same subject (a workflow step
also by `.skipped`), and the final run event carries the `RunResult`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from covey.spec.learning import LearningChange
from covey.spec.messages import ModelResponse
from covey.spec.runs import ErrorInfo, Requirement, RunResult
from covey.spec.usage import Usage

__all__ = [
    "BaseEvent",
    "GuardrailTripped",
    "LearningChanged",
    "LearningCompleted",
    "LearningFailed",
    "ModelFallback",
    "ModelRequestCancelled",
    "ModelRequestCompleted",
    "ModelRequestFailed",
    "ModelRequestRetry",
    "ModelRequestStarted",
    "OutputDelta",
    "OutputRetry",
    "RequirementCreated",
    "RunCancelled",
    "RunCompleted",
    "RunEvent",
    "RunFailed",
    "RunPaused",
    "RunStarted",
    "StepCancelled",
    "StepCompleted",
    "StepFailed",
    "StepPaused",
    "StepSkipped",
    "StepStarted",
    "TextDelta",
    "ThinkingDelta",
    "ToolCallCancelled",
    "ToolCallCompleted",
    "ToolCallDelta",
    "ToolCallFailed",
    "ToolCallPaused",
    "ToolCallStarted",
    "dump_event",
    "event_adapter",
    "load_event",
    "run_event_classes",
]


def _now() -> datetime:
    return datetime.now(UTC)


class BaseEvent(BaseModel, frozen=True):
    """Fields every event has. Events are immutable once emitted."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    type: str
    run_id: str
    parent_run_id: str | None = None
    seq: int = 0
    """Position in the run's event log, from 1; assigned by the run loop."""
    time: datetime = Field(default_factory=_now)
    agent_name: str | None = None


# --- run -----------------------------------------------------------------------------------------


class RunStarted(BaseEvent, frozen=True):
    """A run began (or resumed: `resumed` is then true)."""

    type: Literal["run.started"] = "run.started"
    session_id: str | None = None
    user_id: str | None = None
    input: Any = None
    resumed: bool = False


class RunCompleted(BaseEvent, frozen=True):
    """The run finished with an output."""

    type: Literal["run.completed"] = "run.completed"
    result: RunResult[Any]


class RunFailed(BaseEvent, frozen=True):
    """The run ended with an error (`result.error`)."""

    type: Literal["run.failed"] = "run.failed"
    result: RunResult[Any]


class RunPaused(BaseEvent, frozen=True):
    """The run waits for `result.requirements` to be met, then `resume` continues it."""

    type: Literal["run.paused"] = "run.paused"
    result: RunResult[Any]


class RunCancelled(BaseEvent, frozen=True):
    """The run was cancelled."""

    type: Literal["run.cancelled"] = "run.cancelled"
    result: RunResult[Any]


# --- model requests ------------------------------------------------------------------------------


class ModelRequestStarted(BaseEvent, frozen=True):
    """A request to the model is on its way."""

    type: Literal["model_request.started"] = "model_request.started"
    model_name: str
    step: int
    """1 for the run's first model request, 2 for the next..."""


class ModelRequestCompleted(BaseEvent, frozen=True):
    """The model answered."""

    type: Literal["model_request.completed"] = "model_request.completed"
    model_name: str
    step: int
    response: ModelResponse
    usage: Usage


class ModelRequestFailed(BaseEvent, frozen=True):
    """The request failed for good (after retries and fallbacks)."""

    type: Literal["model_request.failed"] = "model_request.failed"
    model_name: str
    step: int
    error: ErrorInfo


class ModelRequestCancelled(BaseEvent, frozen=True):
    """The run was cancelled while the request was in flight."""

    type: Literal["model_request.cancelled"] = "model_request.cancelled"
    model_name: str
    step: int


class ModelRequestRetry(BaseEvent, frozen=True):
    """A request failed and is retried after `delay` seconds."""

    type: Literal["model_request.retry"] = "model_request.retry"
    model_name: str
    attempt: int
    """The attempt that failed, from 1."""
    delay: float
    error: ErrorInfo


class ModelFallback(BaseEvent, frozen=True):
    """A model failed and the next one of a `FallbackModel` takes over."""

    type: Literal["model.fallback"] = "model.fallback"
    from_model: str
    to_model: str
    error: ErrorInfo


class TextDelta(BaseEvent, frozen=True):
    """More text from the model."""

    type: Literal["text.delta"] = "text.delta"
    delta: str
    part_index: int = 0


class ThinkingDelta(BaseEvent, frozen=True):
    """More reasoning from the model."""

    type: Literal["thinking.delta"] = "thinking.delta"
    delta: str
    part_index: int = 0


class ToolCallDelta(BaseEvent, frozen=True):
    """A fragment of a tool call's arguments as the model writes them."""

    type: Literal["tool_call.delta"] = "tool_call.delta"
    tool_call_id: str | None = None
    tool_name: str | None = None
    args_delta: str = ""
    part_index: int = 0


# --- tool calls ----------------------------------------------------------------------------------


class ToolCallStarted(BaseEvent, frozen=True):
    """A tool call begins."""

    type: Literal["tool_call.started"] = "tool_call.started"
    tool_call_id: str
    tool_name: str
    args: dict[str, Any] = Field(default_factory=dict[str, Any])


class ToolCallCompleted(BaseEvent, frozen=True):
    """A tool call returned."""

    type: Literal["tool_call.completed"] = "tool_call.completed"
    tool_call_id: str
    tool_name: str
    result: Any = None
    duration: float = 0.0


class ToolCallFailed(BaseEvent, frozen=True):
    """A tool call failed; `retry` says whether the model is asked to try again."""

    type: Literal["tool_call.failed"] = "tool_call.failed"
    tool_call_id: str
    tool_name: str
    error: str
    retry: bool = False
    duration: float = 0.0


class ToolCallCancelled(BaseEvent, frozen=True):
    """The run was cancelled while the tool ran."""

    type: Literal["tool_call.cancelled"] = "tool_call.cancelled"
    tool_call_id: str
    tool_name: str


class RequirementCreated(BaseEvent, frozen=True):
    """The run needs an approval, an input or an external result before it can go on."""

    type: Literal["requirement.created"] = "requirement.created"
    requirement: Requirement


# --- output --------------------------------------------------------------------------------------


class OutputRetry(BaseEvent, frozen=True):
    """The model's structured output did not validate; it is asked to try again."""

    type: Literal["output.retry"] = "output.retry"
    retry: int
    errors: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]])
    message: str = ""


class OutputDelta(BaseEvent, frozen=True):
    """A partial structured output, as far as the model has written it."""

    type: Literal["output.delta"] = "output.delta"
    output: Any


class ToolCallPaused(BaseEvent, frozen=True):
    """A tool call waits for something a person gives (a team member's run paused for an
    approval, an input or an external result); the run pauses after it, and `resume` calls the
    tool again, which then starts and ends anew."""

    type: Literal["tool_call.paused"] = "tool_call.paused"
    tool_call_id: str
    tool_name: str


# --- workflow steps -------------------------------------------------------------------------------


class _StepEvent(BaseEvent, frozen=True):
    step_name: str
    step_path: str
    """Where the step sits in its workflow, stable across processes: `review`,
    `fan_out.legal`, `refine[2].draft` (a loop's third iteration)."""
    step_type: str
    """`function`, `agent` (any runnable: agent, team, workflow), `steps`, `parallel`,
    `condition`, `loop` or `router`."""


class StepStarted(_StepEvent, frozen=True):
    """A workflow step began."""

    type: Literal["step.started"] = "step.started"
    step_run_id: str | None = None
    """The child run the step runs as (an agent, team or workflow step)."""


class StepCompleted(_StepEvent, frozen=True):
    """A workflow step finished; its output is stored before the next step starts."""

    type: Literal["step.completed"] = "step.completed"
    output: Any = None
    step_run_id: str | None = None
    """The stored child run holding the step's output."""


class StepFailed(_StepEvent, frozen=True):
    """A workflow step failed (the workflow run fails with the same error)."""

    type: Literal["step.failed"] = "step.failed"
    error: ErrorInfo


class StepSkipped(_StepEvent, frozen=True):
    """A `Condition` whose predicate was false: its steps did not run."""

    type: Literal["step.skipped"] = "step.skipped"


class StepPaused(_StepEvent, frozen=True):
    """A workflow step waits for a human; `resume` continues it."""

    type: Literal["step.paused"] = "step.paused"
    requirements: list[Requirement] = Field(default_factory=list[Requirement])


class StepCancelled(_StepEvent, frozen=True):
    """The workflow run was cancelled while the step ran."""

    type: Literal["step.cancelled"] = "step.cancelled"


# --- guardrails ----------------------------------------------------------------------------------


class GuardrailTripped(BaseEvent, frozen=True):
    """A guardrail stopped the run; `run.failed` follows with `GuardrailTripped` as its error.

    `stage` is `input` (a pre-run hook) or `output` (a post-run hook or an output validator).
    `reason` names what was found, never the text it was found in.
    """

    type: Literal["guardrail.tripped"] = "guardrail.tripped"
    guardrail: str | None = None
    stage: Literal["input", "output"] | None = None
    reason: str


# --- learning (after the run's work: `Learner.learn`) ----------------------------------------------


class LearningChanged(BaseEvent, frozen=True):
    """A learner changed (or, in propose mode, proposed) what it knows because of this run.

    In background mode (the default) learning events come after the run's final event, appended
    to its stored log; in foreground mode before it.
    """

    type: Literal["learning.changed"] = "learning.changed"
    learner: str
    change: LearningChange


class LearningCompleted(BaseEvent, frozen=True):
    """A learner finished its work on this run; `usage` is its own model usage."""

    type: Literal["learning.completed"] = "learning.completed"
    learner: str
    usage: Usage = Field(default_factory=Usage)
    changes: int = 0
    skipped: list[str] = Field(default_factory=list[str])


class LearningFailed(BaseEvent, frozen=True):
    """A learner gave up on this run (a failing memory model, a cap): the run is not affected."""

    type: Literal["learning.failed"] = "learning.failed"
    learner: str
    error: str
    usage: Usage = Field(default_factory=Usage)
    changes: int = 0


RunEvent = Annotated[
    RunStarted
    | RunCompleted
    | RunFailed
    | RunPaused
    | RunCancelled
    | ModelRequestStarted
    | ModelRequestCompleted
    | ModelRequestFailed
    | ModelRequestCancelled
    | ModelRequestRetry
    | ModelFallback
    | TextDelta
    | ThinkingDelta
    | ToolCallDelta
    | ToolCallStarted
    | ToolCallCompleted
    | ToolCallFailed
    | ToolCallCancelled
    | RequirementCreated
    | OutputRetry
    | OutputDelta
    | ToolCallPaused
    | StepStarted
    | StepCompleted
    | StepFailed
    | StepSkipped
    | StepPaused
    | StepCancelled
    | LearningChanged
    | LearningCompleted
    | LearningFailed
    | GuardrailTripped,
    Field(discriminator="type"),
]
"""Any run event; the discriminator is `type`."""


@cache
def event_adapter() -> TypeAdapter[Any]:
    """The `TypeAdapter` for one `RunEvent`; built on first use."""
    return TypeAdapter(RunEvent)


@cache
def run_event_classes() -> frozenset[type[BaseEvent]]:
    """The classes of `RunEvent`: an instance of one of them is a run event as it is built."""
    union = get_args(RunEvent)[0]
    return frozenset(get_args(union))


def dump_event(event: BaseEvent) -> bytes:
    """Serialise an event to JSON bytes."""
    return event.model_dump_json().encode()


def load_event(data: str | bytes | dict[str, Any]) -> BaseEvent:
    """Load any event from JSON or a dict, as its concrete class."""
    if isinstance(data, dict):
        return event_adapter().validate_python(data)
    return event_adapter().validate_json(data)
