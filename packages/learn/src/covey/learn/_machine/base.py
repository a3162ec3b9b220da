"""What every learning store of a `LearningMachine` implements.

A learning store keeps one kind of learned thing (the user's profile, their memories, the
session's context, entities, learned knowledge, decisions) and works in one `Mode`:

- `always`: the machine's single extraction request after each completed run carries one field
  per `always` store (`extraction_field`); the store shows the model what it knows now
  (`current`) and applies the model's answer for its field (`apply`).
- `agentic`: the store's `tools` go to the model, which changes what is known itself.
- `propose`: the same tools, but a call pauses the run with an approval requirement
  (`ApprovalRequired`); the change is kept only after a person approves it through the
  ordinary approvals flow (resume with a yes re-runs the call with `ctx.tool_call_approved`).

In every mode the store's `context` goes into the system prompt. Changes made by tools are
reported through `StoreContext.record` / the `Recorder` so the machine reports them as
`learning.changed` events of their run, like those of `apply`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from covey.spec.function_toolset import Tool
from covey.spec.learning import LearningChange
from covey.spec.store import Scope, Store, utc_now

__all__ = ["Applied", "LearningStore", "Mode", "Recorder", "StoreContext"]

Mode = Literal["always", "agentic", "propose"]
MODES: tuple[Mode, ...] = ("always", "agentic", "propose")

Recorder = Callable[[str, LearningChange], None]
"""`record(run_id, change)`: a tool reports a change it made, for the run's `learning.changed`
events."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreContext:
    """One run, as a learning store sees it."""

    scope: Scope
    """Tenant and user of the run; `scope.user_id` is `None` for a run without a user."""
    store: Store
    run_id: str
    session_id: str | None = None
    agent_name: str | None = None
    now: datetime = field(default_factory=utc_now)
    transcript: str = ""
    """The run's exchange as text (what the extraction model reads), so `current` can show
    what is relevant to it rather than everything (entities, insights); "" when not known."""


@dataclass(slots=True)
class Applied:
    """What `apply` did: the changes made, and why parts of the answer were not applied."""

    changes: list[LearningChange] = field(default_factory=list[LearningChange])
    skipped: list[str] = field(default_factory=list[str])


class LearningStore(ABC):
    """One kind of learned thing, kept in the Covey store, in one mode."""

    kind: ClassVar[str]
    """`profile`, `memory`, `session_context`, `entity`, `knowledge`, `decision`: the
    `LearningChange.kind` of its changes and its key in the extraction answer."""
    needs_user: ClassVar[bool] = True
    """Runs without a user skip the store (its context, extraction and tools say so)."""
    needs_session: ClassVar[bool] = False

    def __init__(self, mode: Mode) -> None:
        if mode not in MODES:
            from covey.spec.errors import ConfigurationError

            raise ConfigurationError(
                f"{self.kind}: mode must be one of {', '.join(MODES)}, got {mode!r}"
            )
        self.mode: Mode = mode

    # --- always mode ---------------------------------------------------------------------------

    @abstractmethod
    def extraction_field(self) -> tuple[Any, str]:
        """The type of this store's field in the extraction answer (a pydantic-compatible
        annotation; the field is optional) and the instructions the model gets for it."""

    @abstractmethod
    async def current(self, ctx: StoreContext) -> str:
        """What is known now, shown to the extraction model (with the ids it may change)."""

    @abstractmethod
    async def apply(self, ctx: StoreContext, value: Any) -> Applied:
        """Apply the model's answer for this store's field (already validated against the
        field's type). Must refuse ids the scope does not own and credential-looking text."""

    # --- every mode ----------------------------------------------------------------------------

    @abstractmethod
    async def context(self, ctx: StoreContext, query: str, budget_tokens: int) -> str:
        """What is known that helps answer `query`, for the system prompt ("" for nothing),
        at most about `budget_tokens` tokens (four characters a token)."""

    # --- agentic and propose modes -------------------------------------------------------------

    @abstractmethod
    def tools(self, store: Store, record: Recorder) -> Sequence[Tool[..., Any]]:
        """The tools of agentic mode (and of propose mode, where the machine makes each call
        wait for approval). Tools take `ctx: RunContext` first; they scope every read and write
        to `ctx.tenant_id` / `ctx.user_id` and return an error result for a run without a user
        when `needs_user`."""

    def describe_call(self, tool_name: str, args: dict[str, Any]) -> str:
        """What a person approving a proposed call is shown (propose mode)."""
        shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
        return f"Save to {self.kind.replace('_', ' ')}: {tool_name}({shown})"
