"""What a caller gives one run: the keyword options every entry point accepts, checked once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic

from typing_extensions import TypedDict, TypeVar

if TYPE_CHECKING:
    from covey.core.limits import Budget
    from covey.spec import ChatModel, ModelRequest, ModelResponse, ModelSettings, UserContent
    from covey.spec.store import Run, Store

__all__ = ["ResumeInput", "RunKwargs", "RunOptions", "check_run_kwargs"]

DepsT = TypeVar("DepsT", default=Any)


class RunKwargs(TypedDict, Generic[DepsT], total=False):
    """The keyword options of `Agent.run`, `run_stream`, `run_sync` and `iter`, all optional."""

    session_id: str | None
    """Continue (or start) this session: its history and state are loaded and saved."""
    user_id: str | None
    """The user the run is for (scopes every store call)."""
    tenant_id: str | None
    """The tenant the run is for (default `"default"`)."""
    deps: DepsT | None
    """Dependencies handed to tools, instructions and hooks through `ctx.deps`."""
    state: dict[str, Any] | None
    """Session state to merge in (saved with the session when the run starts)."""
    message_history: Sequence[ModelRequest | ModelResponse] | None
    """History to use instead of the session's stored runs."""
    model: ChatModel | str | None
    """Use this model instead of the agent's."""
    model_settings: ModelSettings | None
    """Settings merged over the agent's `model_settings`."""
    store: Store | None
    """Where the run, its events and its session are kept (defaults to the agent's store)."""
    run_id: str | None
    """The run's id (a fresh one by default)."""
    parent_run_id: str | None
    """The run that started this one (a team leader, a workflow, an agent used as a tool)."""
    metadata: dict[str, Any] | None
    """Free-form data stored with the run."""
    stream_model: bool | None
    """Ask the model for a streamed response. Only a streamed request yields `text.delta`,
    `thinking.delta`, `tool_call.delta` and `output.delta` events; every other event is the same.
    Default: `True` for `run_stream` (whose caller reads events as they come), `False` for
    `run`, `run_sync` and `iter` (a plain request is cheaper: no per-chunk parsing)."""


_KNOWN = frozenset(RunKwargs.__annotations__)


def check_run_kwargs(where: str, given: Mapping[str, Any]) -> None:
    """Refuse keywords that are not run options, naming the known ones.

    Raises:
        TypeError: a keyword is not a run option (a typo, or an option of another call).
    """
    unknown = sorted(set(given) - _KNOWN)
    if unknown:
        raise TypeError(
            f"{where}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"run options are: {', '.join(sorted(_KNOWN))}"
        )


@dataclass(slots=True, kw_only=True)
class RunOptions:
    """Everything a caller gives one run, built once from the call's keywords."""

    input: str | Sequence[UserContent] | None
    run_id: str
    session_id: str | None
    user_id: str | None
    tenant_id: str | None
    parent_run_id: str | None
    deps: Any
    state: dict[str, Any] | None
    message_history: Sequence[ModelRequest | ModelResponse] | None
    model: ChatModel
    model_settings: ModelSettings | None
    store: Store | None
    stream: bool
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])
    shared_state: dict[str, Any] | None = None
    """A parent run's state dict, used as this run's `ctx.state` as is (a team member reads and
    updates the team's state in place); the parent loads and saves the session."""
    budgets: tuple[Budget, ...] = ()
    """Enclosing runs' limits this run's usage counts against too (a team member's)."""


@dataclass(slots=True, kw_only=True)
class ResumeInput:
    """The decisions a paused run waits for, and the run they apply to."""

    run: Run
    approvals: dict[str, Any]
    inputs: dict[str, dict[str, Any]]
    results: dict[str, Any]
