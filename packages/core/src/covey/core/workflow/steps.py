"""What a workflow is made of: `Step` and the constructs that arrange steps, and the
`StepInput` a function step receives. All are immutable definitions, shared by every run."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeAlias

from typing_extensions import TypeVar

from covey.spec import Requirement
from covey.spec.errors import ConfigurationError

if TYPE_CHECKING:
    from covey.spec import RunContext

__all__ = [
    "Condition",
    "Loop",
    "Parallel",
    "Router",
    "Step",
    "StepInput",
    "StepLike",
    "StepPause",
    "Steps",
]

PreviousT = TypeVar("PreviousT", default=Any)

StepLike: TypeAlias = (
    "Step | Steps | Parallel | Condition | Loop | Router | Callable[..., Any] | Any"
)
"""What a workflow's step list takes: a construct, a `Step`, a plain function (sync or async),
or anything with the run API of an agent (`Agent`, `Team`, `Workflow`)."""

Predicate = Callable[["StepInput[Any]"], bool | Awaitable[bool]]
"""`predicate(step_input) -> bool`, sync or async (sync ones run inline: keep them cheap)."""

Selector = Callable[["StepInput[Any]"], Any]
"""`selector(step_input)` returns the choice to run: its name, the step itself, or a list of
them (run in order); sync or async."""


class StepPause(Exception):  # noqa: N818 - a signal, like StopIteration
    """Raised by `StepInput.confirm` / `StepInput.ask` when the step needs a human: the
    workflow pauses, persisted, and `resume(run_id, approvals=..., inputs=...)` runs the step
    again with the answer. Do not catch it in a step."""

    def __init__(self, requirement: Requirement) -> None:
        super().__init__(requirement.description or f"step {requirement.tool_name} waits")
        self.requirement = requirement


@dataclass(slots=True, kw_only=True)
class StepInput(Generic[PreviousT]):
    """What a function step (and a predicate, selector or loop test) is given.

    Attributes:
        input: The workflow run's input.
        previous: The previous step's output (for the first step, the workflow input).
        outputs: Every finished step's output by step name (in a loop, the latest iteration's).
        state: The workflow's session state, shared by its steps; saved with the session.
        ctx: The workflow run's context (`run_id`, `session_id`, `user_id`, `deps`, ...).
        step_name: The step being run.
        step_path: Its stable path in the workflow (`review`, `refine[2].draft`).
        iteration: Inside a `Loop`: the iteration, from 0.
    """

    input: Any
    previous: PreviousT
    outputs: Mapping[str, Any]
    state: dict[str, Any]
    ctx: RunContext[Any]
    step_name: str
    step_path: str
    iteration: int | None = None
    decisions: Mapping[str, Any] = field(default_factory=dict[str, Any], repr=False)
    """The answers `resume` was given for this step's requests, by request id."""
    _asked: list[int] = field(default_factory=lambda: [0], repr=False)

    def _next_id(self) -> str:
        self._asked[0] += 1
        return f"{self.step_path}:{self._asked[0]}"

    def confirm(self, message: str) -> bool:
        """Ask a human to approve going on; returns their decision once the run is resumed.

        The first call pauses the workflow (nothing after it in the step runs); `resume(run_id,
        approvals={request_id: True | False | {"approved": bool, "note": str}})` runs the step
        again from its start, and this call then returns the decision. Ask before acting: what
        the step did before asking is done again on resume.
        """
        request_id = self._next_id()
        if request_id in self.decisions:
            decision = self.decisions[request_id]
            if isinstance(decision, Mapping):
                return bool(decision.get("approved"))  # pyright: ignore[reportUnknownMemberType,reportUnknownArgumentType]
            return bool(decision)
        raise StepPause(
            Requirement(
                tool_call_id=request_id,
                tool_name=self.step_name,
                kind="approval",
                description=message,
            )
        )

    def ask(self, fields: Sequence[str], message: str | None = None) -> dict[str, Any]:
        """Ask a human for values; returns `{field: value}` once the run is resumed with
        `inputs={request_id: {field: value}}` (the step runs again from its start)."""
        request_id = self._next_id()
        if request_id in self.decisions:
            return dict(self.decisions[request_id])
        raise StepPause(
            Requirement(
                tool_call_id=request_id,
                tool_name=self.step_name,
                kind="input",
                input_fields=list(fields),
                description=message,
            )
        )


@dataclass(frozen=True, slots=True)
class Step:
    """One step: an agent, a team, a workflow, or a function.

    An agent, team or workflow runs as a child run (`parent_run_id` = the workflow run) with
    the previous output as its prompt (or `input`). A function gets a `StepInput` (or, when its
    one parameter is annotated with a pydantic model, the previous output validated as that
    model) and returns the step's output (validated when its return annotation is a pydantic
    model). Sync functions run in a worker thread.

    Args:
        target: The agent, team, workflow or function.
        name: The step's name, unique in the workflow (default: the function's or agent's name).
        input: For an agent step, the prompt: a template (`"Review: {previous}"`, with
            `{input}`, `{previous}` and `{outputs[step_name]}`) or a function of the
            `StepInput`. Default: the previous output.
        description: Shown in the workflow's description and diagram.
    """

    target: Any
    _: KW_ONLY
    name: str | None = None
    input: str | Callable[[StepInput[Any]], Any] | None = None
    description: str | None = None


def _steps(items: Sequence[StepLike] | StepLike) -> tuple[StepLike, ...]:
    if isinstance(items, list | tuple):
        return tuple(items)  # pyright: ignore[reportUnknownArgumentType]
    return (items,)


@dataclass(frozen=True, slots=True, init=False)
class Steps:
    """Steps run one after another; the output is the last one's."""

    steps: tuple[StepLike, ...]
    name: str | None

    def __init__(self, steps: Sequence[StepLike], *, name: str | None = None) -> None:
        object.__setattr__(self, "steps", _steps(steps))
        object.__setattr__(self, "name", name)


@dataclass(frozen=True, slots=True, init=False)
class Parallel:
    """Steps run concurrently, each given the same previous output; the output is
    `{step_name: output}`. The group waits for every branch; a failed branch then fails it."""

    steps: tuple[StepLike, ...]
    name: str | None

    def __init__(self, *steps: StepLike, name: str | None = None) -> None:
        if not steps:
            raise ConfigurationError("Parallel() needs at least one step")
        object.__setattr__(self, "steps", tuple(steps))
        object.__setattr__(self, "name", name)


@dataclass(frozen=True, slots=True, init=False)
class Condition:
    """Run `steps` when `predicate(step_input)` is true; otherwise skip them (a `step.skipped`
    event) and pass the previous output on."""

    predicate: Predicate
    steps: tuple[StepLike, ...]
    name: str | None

    def __init__(
        self, predicate: Predicate, steps: Sequence[StepLike] | StepLike, *, name: str | None = None
    ) -> None:
        object.__setattr__(self, "predicate", predicate)
        object.__setattr__(self, "steps", _steps(steps))
        object.__setattr__(self, "name", name)


@dataclass(frozen=True, slots=True, init=False)
class Loop:
    """Run `steps` again and again: until `until(step_input)` is true after an iteration
    (`previous` is that iteration's output, `iteration` its index), at most `max_iterations`
    times. The output is the last iteration's. Iteration `i`'s steps have the paths
    `<loop>[i].<step>`."""

    steps: tuple[StepLike, ...]
    until: Predicate | None
    max_iterations: int
    name: str | None

    def __init__(
        self,
        steps: Sequence[StepLike] | StepLike,
        *,
        until: Predicate | None = None,
        max_iterations: int = 3,
        name: str | None = None,
    ) -> None:
        if type(max_iterations) is not int or max_iterations < 1:
            raise ConfigurationError(
                f"Loop(max_iterations=...) must be 1 or more, got {max_iterations!r}"
            )
        object.__setattr__(self, "steps", _steps(steps))
        object.__setattr__(self, "until", until)
        object.__setattr__(self, "max_iterations", max_iterations)
        object.__setattr__(self, "name", name)


@dataclass(frozen=True, slots=True, init=False)
class Router:
    """Run the choice(s) `selector(step_input)` picks (by name, or the step itself; a list runs
    in order); the output is the last chosen step's."""

    selector: Selector
    choices: tuple[StepLike, ...]
    name: str | None

    def __init__(
        self, selector: Selector, choices: Sequence[StepLike], *, name: str | None = None
    ) -> None:
        if not choices:
            raise ConfigurationError("Router() needs at least one choice")
        object.__setattr__(self, "selector", selector)
        object.__setattr__(self, "choices", tuple(choices))
        object.__setattr__(self, "name", name)


StepKind = Literal["function", "agent", "steps", "parallel", "condition", "loop", "router"]
