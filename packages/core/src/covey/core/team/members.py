"""Running one member for the leader: a real run of its own (stored with `parent_run_id`, in the
team's session, sharing the team run's state and limits), its events relayed into the team's
stream; and what the leader hears back — the output, an error text, or a pause."""

from __future__ import annotations

import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python

from covey.core.run.relay import ResumedCall, RunRelay
from covey.spec import Requirement, RunContext, RunStatus
from covey.spec import events as ev
from covey.spec.errors import ConflictError

if TYPE_CHECKING:
    from covey.core.team.definition import Member, Team
    from covey.spec.store import Run, Store

__all__ = ["MemberOutcome", "cancel_paused_members", "run_member"]

_FINAL = (ev.RunCompleted, ev.RunFailed, ev.RunPaused, ev.RunCancelled)
SEPARATOR = "/"
"""Between a member run's id and its own requirement's id, in the team's requirement ids."""


@dataclass(slots=True)
class MemberOutcome:
    """How one member run ended, as the leader's tool sees it."""

    member: str
    run_id: str | None
    status: RunStatus
    output: Any = None
    error: str | None = None
    requirements: list[Requirement] = field(default_factory=list[Requirement])
    """Its requirements as the team's: ids prefixed with `<member run id>/`."""

    def text(self) -> Any:
        """What the leader reads: the output, or what went wrong."""
        if self.status is RunStatus.COMPLETED:
            return to_jsonable_python(self.output)
        if self.status is RunStatus.CANCELLED:
            return f"Member {self.member!r} was cancelled before it finished."
        return f"Member {self.member!r} failed: {self.error or self.status.value}"


async def run_member(
    team: Team[Any, Any],
    name: str,
    input: str,
    ctx: RunContext[Any],
    relay: RunRelay,
    *,
    resume_run_id: str | None = None,
    decisions: ResumedCall | None = None,
) -> MemberOutcome:
    """Run member `name` on `input` (or resume its paused run `resume_run_id` with the part of
    `decisions` that is its own), relaying its events; never raises for the member's failure."""
    from covey.core.run.engine import RunEngine
    from covey.core.run.options import RunOptions
    from covey.core.run.resuming import resume_engine

    member = team.roster()[name]
    if relay.cancelled:
        return MemberOutcome(name, None, RunStatus.CANCELLED)
    store = relay.store if relay.store is not None else member.store
    try:
        plan = member.plan()
        if resume_run_id is not None:
            approvals, inputs, results = _own(resume_run_id, decisions)
            engine = await resume_engine(
                plan,
                resume_run_id,
                stream=relay.stream,
                approvals=approvals,
                inputs=inputs,
                results=results,
                store=store,
                user_id=ctx.user_id,
                tenant_id=ctx.tenant_id,
                deps=ctx.deps,
                shared_state=ctx.state,
                budgets=relay.budgets,
            )
        else:
            options = RunOptions(
                input=input,
                run_id=uuid.uuid4().hex,
                session_id=ctx.session_id,
                user_id=ctx.user_id,
                tenant_id=ctx.tenant_id,
                parent_run_id=ctx.run_id,
                deps=ctx.deps,
                state=None,
                message_history=None,
                model=plan.model,
                model_settings=None,
                store=store,
                stream=relay.stream,
                shared_state=ctx.state,
                budgets=relay.budgets,
            )
            engine = RunEngine(plan, options)
    except Exception as exc:
        return MemberOutcome(name, resume_run_id, RunStatus.FAILED, error=_error_text(exc))
    run_id = engine.ctx.run_id
    relay.children.add(run_id)
    final: Any = None
    try:
        async for event in engine.events():
            handle = engine.handle
            if relay.cancelled and handle is not None and not handle.cancelled:
                handle.cancel()  # started after the team was cancelled: stop it too
            relay.send(event)
            if isinstance(event, _FINAL):
                final = event.result
    finally:
        relay.children.discard(run_id)
    assert final is not None, "a run always ends with a final run event"
    runs = relay.metadata.get("member_runs")
    if runs is None:
        runs = relay.metadata["member_runs"] = dict(ctx.metadata.get("member_runs") or {})
    runs[run_id] = {
        "member": name,
        "status": final.status.value,
        "usage": final.usage.model_dump(mode="json", exclude_defaults=True),
    }
    error = None
    if final.error is not None:
        error = f"{final.error.type}: {final.error.message}"
    requirements = [
        r.model_copy(
            update={
                "tool_call_id": f"{run_id}{SEPARATOR}{r.tool_call_id}",
                "run_id": r.run_id or run_id,
                "description": r.description or f"Asked by member {name!r}",
            }
        )
        for r in final.requirements
    ]
    return MemberOutcome(name, run_id, final.status, final.output, error, requirements)


def _own(
    run_id: str, decisions: ResumedCall | None
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, Any]]:
    """The decisions that belong to member run `run_id`, keyed as its own requirements."""
    if decisions is None:
        return {}, {}, {}
    prefix = run_id + SEPARATOR

    def pick(given: dict[str, Any]) -> dict[str, Any]:
        return {k[len(prefix) :]: v for k, v in given.items() if k.startswith(prefix)}

    return pick(decisions.approvals), pick(decisions.inputs), pick(decisions.results)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def cancel_paused_members(
    team: Team[Any, Any],
    run: Run,
    *,
    store: Store | None,
    user_id: str | None,
    tenant_id: str | None,
) -> None:
    """End the paused member runs (at every depth) of a paused team run that was cancelled."""
    from covey.core.cancellation import cancel_paused
    from covey.spec.store import Scope

    run_ids: list[str] = []
    for requirement in run.requirements:
        for run_id in requirement.tool_call_id.split(SEPARATOR)[:-1]:
            if run_id not in run_ids:
                run_ids.append(run_id)
    if store is None:
        for member in _all_members(team):
            for run_id in run_ids:
                member._paused_runs().pop(run_id)  # pyright: ignore[reportPrivateUsage]
        return
    scope = Scope(tenant_id=tenant_id or "default", user_id=user_id)
    for run_id in run_ids:
        child = await store.get_run(scope, run_id)
        if child is not None and child.status is RunStatus.PAUSED:
            with suppress(ConflictError):  # resumed or ended meanwhile
                await cancel_paused(store, scope, child)


def _all_members(team: Team[Any, Any]) -> list[Member]:
    from covey.core.team.definition import Team

    found: list[Member] = []
    for member in team.members:
        found.append(member)
        if isinstance(member, Team):
            found.extend(_all_members(member))
    return found
