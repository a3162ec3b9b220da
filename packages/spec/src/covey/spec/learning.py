"""Learners: what an agent, team or workflow learns from its runs.

A `Learner` is attached to a definition (`Agent(learning=...)`). For every run it can

- put what it knows into the system prompt (`context`, before the first model request),
- give the model tools to manage what it knows itself (`toolsets`, the agentic mode),
- read the finished exchange and change what it knows (`learn`), in the background after the
  run by default, so the user's answer is not delayed.

The run engine turns each `LearningChange` a learner reports into a `learning.changed` event of
the run that caused it, and ends each learner's work with `learning.completed` or
`learning.failed`: a learner never fails the run. `covey-learn` implements `Learner` with
`MemoryManager` and `LearningMachine`; anything with the same methods works.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast, runtime_checkable

from pydantic import BaseModel, Field

from covey.spec.usage import Usage

if TYPE_CHECKING:
    from covey.spec.runs import RunResult
    from covey.spec.store import Scope, Store
    from covey.spec.tools import Toolset

__all__ = [
    "LearnReport",
    "Learner",
    "LearningAction",
    "LearningChange",
    "LearningRun",
    "learners",
]

LearningAction = Literal["created", "updated", "deleted", "proposed"]
"""What happened to the item: `proposed` waits for a person to confirm it (propose mode)."""


class LearningChange(BaseModel):
    """One change a learner made to what it knows (or proposed to make)."""

    kind: str
    """What was changed: `memory`, `profile`, `entity`, `knowledge`, `decision`,
    `session_context`, `summary`, or a learner's own kind."""
    action: LearningAction
    id: str | None = None
    """The stored item's id (the memory's, the learning's...), when it has one."""
    content: str | None = None
    """The item's text as stored (learners refuse to store credentials)."""
    topics: list[str] = Field(default_factory=list[str])
    user_id: str | None = None
    """The user it is about; `None` for what is shared within the tenant."""


class LearnReport(BaseModel):
    """What one learner did after one run."""

    changes: list[LearningChange] = Field(default_factory=list[LearningChange])
    usage: Usage = Field(default_factory=Usage)
    """The learner's own model usage (not counted in the run's)."""
    skipped: list[str] = Field(default_factory=list[str])
    """Why proposed changes were not applied (a cap, a credential, an unknown id...)."""
    error: str | None = None
    """Why the learner gave up, without anything secret; `None` when it did its work."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LearningRun:
    """The run a learner serves: who it is for, where it is stored."""

    scope: Scope
    """The run's tenant and user (`scope.user_id` is `None` for a run without a user)."""
    run_id: str
    session_id: str | None = None
    agent_name: str | None = None
    parent_run_id: str | None = None
    store: Store | None = None
    """The run's store, for learners that keep what they learn beside the runs."""


@runtime_checkable
class Learner(Protocol):
    """Learns from the runs of the definition it is attached to.

    `context` and `toolsets` are asked for on every run and must be cheap; `learn` may call
    models. None of them may raise for a failing model or store: `context` returns `""`,
    `learn` a report with `error` set (the engine still catches anything that escapes, so a
    learner never fails a run).
    """

    @property
    def name(self) -> str:
        """The learner's name in events (`memory`, `learning`...)."""
        ...

    @property
    def background(self) -> bool:
        """`True`: `learn` runs after the run ended, its events appended to the run's log.
        `False`: it runs before the run's final event, which waits for it."""
        ...

    def toolsets(self) -> Sequence[Toolset]:
        """Tools the model manages what is known with (agentic mode); `()` for none."""
        ...

    async def context(self, run: LearningRun, query: str) -> str:
        """A section for the system prompt about `query` (the user's input), or `""`."""
        ...

    async def learn(self, run: LearningRun, result: RunResult[Any]) -> LearnReport:
        """Read the finished run (`result.messages`, `result.output`) and update what is known."""
        ...


def learners(value: object) -> tuple[Learner, ...]:
    """`learning=` as a tuple of learners, each checked, names unique."""
    from covey.spec.errors import ConfigurationError

    if value is None:
        return ()
    items: tuple[object, ...] = (
        tuple(cast("Sequence[object]", value)) if isinstance(value, list | tuple) else (value,)
    )
    found: list[Learner] = []
    names: set[str] = set()
    for item in items:
        if not isinstance(item, Learner):
            raise ConfigurationError(
                "learning= takes learners (covey.learn.MemoryManager, covey.learn.LearningMachine "
                f"or an object with name, background, toolsets, context and learn), got "
                f"{type(item).__name__}"
            )
        if item.name in names:
            raise ConfigurationError(f"Two learners are named {item.name!r}")
        names.add(item.name)
        found.append(item)
    return tuple(found)
