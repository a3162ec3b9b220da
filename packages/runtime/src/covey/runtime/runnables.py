"""What the runtime serves: agents, teams and workflows, all run through one API.

`Team` and `Workflow` (covey-core) expose the run API of `Agent`: `name`, `description`,
`run_stream(input, **RunKwargs)`, `resume_stream(run_id, *, approvals=, inputs=, results=,
store=, user_id=, tenant_id=, stream_model=)` and `cancel(run_id, *, store=, user_id=,
tenant_id=)`. The runtime holds them through the `Runnable` protocol below, so it starts,
follows, resumes and cancels a run the same way whatever runs it; only listing and describing
them depends on their kind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal, Protocol, runtime_checkable

from covey.core import Agent
from covey.spec import events as ev
from covey.spec.store import Store

__all__ = ["KINDS", "Kind", "Runnable", "check_ready", "kind_of"]

Kind = Literal["agent", "team", "workflow"]

KINDS: tuple[Kind, ...] = ("agent", "team", "workflow")


@runtime_checkable
class Runnable(Protocol):
    """Anything the runtime can run: an `Agent`, a `Team`, a `Workflow`.

    A structural type: `covey.core.Runnable` is the base class `Agent` and `Team` share, and a
    `Workflow` is not one, yet all three (and a test double) fit this protocol.

    Its `name` is its id in the API, unique across kinds: a stored run names what ran it only by
    `Run.agent_id`, and that name is how `/v1/runs/{run_id}/resume` and `/cancel` find it.
    """

    @property
    def name(self) -> str | None:
        """Its id in the API."""
        ...

    @property
    def description(self) -> str | None:
        """What it is for."""
        ...

    def run_stream(self, input: Any = None, **options: Any) -> AsyncIterator[ev.BaseEvent]:
        """Run, yielding every event (its children's too, each with its own `run_id`)."""
        ...

    def resume_stream(
        self,
        run_id: str,
        *,
        approvals: dict[str, Any] | None = None,
        inputs: dict[str, dict[str, Any]] | None = None,
        results: dict[str, Any] | None = None,
        store: Store | None = None,
        user_id: str | None = None,
        tenant_id: str | None = None,
        stream_model: bool = True,
    ) -> AsyncIterator[ev.BaseEvent]:
        """Continue a paused run, yielding the events of the rest of it."""
        ...

    async def cancel(
        self,
        run_id: str,
        *,
        store: Store | None = None,
        user_id: str | None = None,
        tenant_id: str | None = None,
    ) -> bool:
        """Cancel a run wherever it is (its children with it)."""
        ...


def _core_class(name: str) -> type | None:
    """`covey.core.<name>` when this covey-core has it (teams and workflows are newer)."""
    import covey.core

    try:
        found: Any = getattr(covey.core, name)
    except (AttributeError, ImportError):
        return None
    return found if isinstance(found, type) else None


def kind_of(item: object) -> Kind | None:
    """`"agent"`, `"team"` or `"workflow"` for covey-core's classes; `None` for anything else."""
    if isinstance(item, Agent):
        return "agent"
    team = _core_class("Team")
    if team is not None and isinstance(item, team):
        return "team"
    workflow = _core_class("Workflow")
    if workflow is not None and isinstance(item, workflow):
        return "workflow"
    return None


def check_ready(runnable: Runnable) -> None:
    """Fail before a run starts when its model cannot be resolved (a 503, not a failed run).

    An agent and a team's leader have a model to check; a workflow has none of its own.
    """
    if isinstance(runnable, Agent):
        runnable.resolved_model()
        return
    resolve: Any = getattr(runnable, "resolved_model", None)
    if resolve is not None:
        resolve()
