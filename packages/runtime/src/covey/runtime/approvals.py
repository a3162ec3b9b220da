"""The approvals inbox: every tool call a paused run waits on a person for, and its decision.

A paused run is the source of truth: its `requirements` of kind `approval` (its own calls, its
team members' and workflow steps' calls, learning proposals — all are run requirements) are what
waits. Each one is recorded as an `Approval` row the first time someone reads the inbox or
decides, with `save_approval(create_only=True)`, so concurrent readers all get the one row and
none resets a decision made meanwhile.

A decision is `resolve_approval`, the store's compare-and-set on a pending row: of two deciders
of one approval exactly one wins, the other gets a 409. The row keeps who decided, when, and the
note (the audit). When the last approval of a pause is decided, the run is resumed with all the
decisions through the same path as `POST /v1/runs/{id}/resume`, whose claim of the paused run
is itself a compare-and-set: when two deciders of sibling approvals both see the pause complete,
one resumes the run and the other's resume is refused (and ignored here).

An approval's id names one pause of one run (the run, the member run, the tool call and the
event seq the run paused at), so a run that pauses again on a call with the same id gets fresh
approvals instead of the decided ones.

Expiry (`approval_expiry`) is applied when the inbox is read or someone decides: an approval
older than that is rejected with the note `expired` (no `resolved_by`), and the run goes on with
the rejection once its pause is complete.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from covey.runtime.approvals_dto import ApprovalOut, ApprovalPage
from covey.runtime.auth import Principal
from covey.runtime.dto import ApprovalDecision, ResumeRequest
from covey.runtime.problems import ApiError
from covey.runtime.state import RuntimeState
from covey.spec import RunStatus
from covey.spec.errors import ConflictError, InvalidInputError
from covey.spec.runs import Requirement
from covey.spec.store import MAX_PAGE_SIZE, Approval, ApprovalStatus, Run, Scope, check_id

__all__ = ["EXPIRED_NOTE", "Approvals", "approval_id", "record_decisions"]

log = logging.getLogger("covey.runtime")

EXPIRED_NOTE = "expired"
"""The note of an approval rejected because nobody decided in time."""


def approval_id(run: Run, requirement: Requirement) -> str:
    """The id of the approval of `requirement` in this pause of `run` (stable while paused)."""
    pause = str(run.metadata.get("last_seq", ""))
    key = "\x00".join((run.id, requirement.run_id or "", requirement.tool_call_id, pause))
    return "apr_" + hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass(slots=True)
class _Pause:
    """A paused top-level run and its approval requirements, by approval id."""

    run: Run
    approvals: dict[str, Requirement] = field(default_factory=dict[str, Requirement])
    others: bool = False
    """Whether it also waits for inputs or external results (given through `/resume` only)."""
    rows: dict[str, Approval] = field(default_factory=dict[str, Approval])
    """Its approval rows as `record` read or wrote them."""


class Approvals:
    """The inbox of one runtime: reads paused runs, records and decides their approvals."""

    __slots__ = ("_state",)

    def __init__(self, state: RuntimeState) -> None:
        self._state = state

    # --- reading -----------------------------------------------------------------------------------

    async def list_page(
        self,
        principal: Principal,
        *,
        status: ApprovalStatus | None,
        run_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> ApprovalPage:
        """A page of the caller's approvals (pending ones: only those still open)."""
        scope = principal.read_scope
        store = self._state.store
        pauses: dict[str, _Pause | None] = {}
        if cursor is None:  # record new pauses once per listing, not on every page
            await self._record_paused(scope, run_id, pauses)
            await self._finish_decided(principal, pauses)
        page = await store.list_approvals(
            scope, status=status, run_id=run_id, limit=limit, cursor=cursor
        )
        items: list[ApprovalOut] = []
        expired: dict[str, _Pause] = {}
        for row in page.items:
            pause = await self._pause_of(scope, row.run_id, pauses)
            is_open = row.status == "pending" and pause is not None and row.id in pause.approvals
            if is_open and _expired(row):
                assert pause is not None
                row = await self._expire(scope, row)
                expired[pause.run.id] = pause
                is_open = row.status == "pending"
            if status == "pending" and not is_open:
                continue
            items.append(ApprovalOut.from_approval(row, open=is_open))
        for pause in expired.values():
            await self._go_on(principal, pause)
        return ApprovalPage(items=items, next_cursor=page.next_cursor)

    async def get(self, principal: Principal, approval_id: str) -> ApprovalOut:
        """One approval of the caller's, or a 404 problem."""
        scope = principal.read_scope
        row = await self._state.store.get_approval(scope, approval_id)
        if row is None:
            row = await self._record_for(scope, approval_id)
        if row is None:
            raise ApiError(404, "not-found", f"No approval {approval_id!r}")
        pause = await self._pause_of(scope, row.run_id, {})
        is_open = row.status == "pending" and pause is not None and row.id in pause.approvals
        return ApprovalOut.from_approval(row, open=is_open)

    # --- deciding ----------------------------------------------------------------------------------

    async def decide(
        self, principal: Principal, approval_id: str, *, approved: bool, note: str | None
    ) -> ApprovalOut:
        """Approve or reject one approval, once; resume its run when its pause is complete.

        Raises:
            ApiError: 404 no such approval of the caller's; 409 `approval-decided` (someone
                decided first), `approval-closed` (the run no longer waits for it) or
                `approval-expired`.
        """
        scope = principal.read_scope
        store = self._state.store
        row = await store.get_approval(scope, approval_id)
        if row is None:
            row = await self._record_for(scope, approval_id)
        if row is None:
            raise ApiError(404, "not-found", f"No approval {approval_id!r}")
        if row.status != "pending":
            raise _decided(row)
        pause = await self._pause_of(scope, row.run_id, {})
        if pause is None or row.id not in pause.approvals:
            raise ApiError(
                409,
                "approval-closed",
                f"Run {row.run_id!r} no longer waits for approval {row.id!r} (it was resumed "
                "through /v1/runs/{id}/resume, cancelled, or paused anew)",
            )
        owner = Scope(scope.tenant_id, row.user_id)
        if _expired(row):
            await self._expire(owner, row)
            await self._go_on(principal, pause)
            raise ApiError(
                409, "approval-expired", f"Approval {row.id!r} expired before a decision"
            )
        try:
            row = await store.resolve_approval(
                owner,
                row.id,
                status="approved" if approved else "rejected",
                resolved_by=principal.user_id,
                note=note,
            )
        except ConflictError:
            now = await store.get_approval(scope, row.id)
            raise _decided(now or row) from None
        out = ApprovalOut.from_approval(row, open=False)
        out.waiting_for, out.run_status = await self._go_on(principal, pause)
        return out

    async def _finish_decided(self, principal: Principal, pauses: dict[str, _Pause | None]) -> None:
        """Resume the paused runs whose approvals are all decided.

        The decider resumes the run right after the last decision; this catches a run left
        paused for longer than a lease (`lease_seconds`) after it, when that failed (the
        decider's process died in between, or the run's agent was not served there).
        """
        grace = timedelta(seconds=self._state.settings.lease_seconds)
        for pause in pauses.values():
            if pause is None or pause.others or not pause.approvals:
                continue
            decided = [r for r in pause.rows.values() if r.status != "pending"]
            if len(decided) < len(pause.approvals):
                continue
            # A decider that is alive claims the run right after its decision: leave it a lease
            # to do so, so that its own resume is not refused by this one.
            last = max((r.resolved_at for r in decided if r.resolved_at is not None), default=None)
            if last is not None and datetime.now(UTC) - last < grace:
                continue
            log.info("run %s: its approvals are decided; resuming it", pause.run.id)
            await self._go_on(principal, pause)

    async def _go_on(self, principal: Principal, pause: _Pause) -> tuple[list[str], str]:
        """Resume the paused run when every approval of the pause is decided.

        Returns the approvals still undecided and the run's status as this call leaves it.
        """
        store = self._state.store
        owner = Scope(principal.tenant_id, pause.run.user_id)
        rows: dict[str, Approval] = {}
        for approval in pause.approvals:
            row = await store.get_approval(owner, approval)
            if row is not None:
                rows[approval] = row
        waiting = [a for a in pause.approvals if a not in rows or rows[a].status == "pending"]
        if waiting or pause.others:
            return waiting, RunStatus.PAUSED.value
        decisions = {
            pause.approvals[a].tool_call_id: ApprovalDecision(
                approved=row.status == "approved", note=row.note
            )
            for a, row in rows.items()
        }
        body = ResumeRequest.model_construct(
            approvals=decisions, inputs={}, results={}, stream=False, background=True
        )
        try:
            await self._state.resume(principal, pause.run.id, body, deltas=False)
        except ApiError as exc:
            if exc.status_code == 409 and exc.slug == "run-not-paused":
                # Another decider of this pause resumed it first: the run goes on anyway.
                return [], RunStatus.RUNNING.value
            log.warning("run %s: decided but not resumed: %s", pause.run.id, exc.detail)
            return [], RunStatus.PAUSED.value
        return [], RunStatus.RUNNING.value

    # --- recording pauses --------------------------------------------------------------------------

    async def _record_paused(
        self, scope: Scope, run_id: str | None, pauses: dict[str, _Pause | None]
    ) -> None:
        """Record an approval row for each approval requirement of the paused runs in `scope`."""
        store = self._state.store
        if run_id is not None:
            await self._pause_of(scope, run_id, pauses, record=True)
            return
        cursor: str | None = None
        while True:
            page = await store.list_runs(
                scope, status=RunStatus.PAUSED, limit=MAX_PAGE_SIZE, cursor=cursor
            )
            for run in page.items:
                if run.parent_run_id is None:
                    pauses[run.id] = await self.record(scope, run)
            cursor = page.next_cursor
            if cursor is None:
                return

    async def _record_for(self, scope: Scope, approval_id: str) -> Approval | None:
        """Find and record the open approval `approval_id` of a paused run not listed yet."""
        cursor: str | None = None
        while True:
            page = await self._state.store.list_runs(
                scope, status=RunStatus.PAUSED, limit=MAX_PAGE_SIZE, cursor=cursor
            )
            for run in page.items:
                if run.parent_run_id is None and approval_id in _ids(run):
                    await self.record(scope, run)
                    return await self._state.store.get_approval(scope, approval_id)
            cursor = page.next_cursor
            if cursor is None:
                return None

    async def _pause_of(
        self, scope: Scope, run_id: str, pauses: dict[str, _Pause | None], *, record: bool = False
    ) -> _Pause | None:
        """The run's current pause, when it is a paused top-level run of the scope (cached)."""
        if run_id in pauses:
            return pauses[run_id]
        run = await self._state.store.get_run(scope, run_id)
        pause: _Pause | None = None
        if run is not None and run.status is RunStatus.PAUSED and run.parent_run_id is None:
            pause = await self.record(scope, run) if record else _pause(run)
        pauses[run_id] = pause
        return pause

    async def record(self, scope: Scope, run: Run) -> _Pause:
        """Record an approval row (once) for each approval requirement of a paused run."""
        pause = _pause(run)
        owner = Scope(scope.tenant_id, run.user_id)
        expiry = self._state.settings.approval_expiry
        paused_at = run.updated_at
        kind = run.metadata.get("kind") or self._state.registry.kind(run.agent_id or "")
        # One read first: recorded pauses (most of them, on every read of the inbox) cost no
        # write, which on SQLite would take the database's write lock.
        store = self._state.store
        page = await store.list_approvals(owner, run_id=run.id, limit=MAX_PAGE_SIZE)
        known = {r.id: r for r in page.items if r.id in pause.approvals}
        for index, (approval, requirement) in enumerate(pause.approvals.items()):
            found = known.get(approval)
            if found is None and page.next_cursor is not None:  # a run paused very often
                found = await store.get_approval(owner, approval)
            if found is not None:
                pause.rows[approval] = found
                continue
            meta: dict[str, Any] = {
                "kind": kind,
                "agent_id": run.agent_id,
                "session_id": run.session_id,
                "member_run_id": requirement.run_id,
                "description": requirement.description,
            }
            if expiry is not None:
                meta["expires_at"] = (paused_at + timedelta(seconds=expiry)).isoformat()
            row = Approval(
                id=approval,
                run_id=run.id,
                tool_call_id=requirement.tool_call_id,
                tool_name=requirement.tool_name,
                args=requirement.args,
                user_id=run.user_id,
                # The inbox lists oldest first, then by id: a microsecond apart, a pause's
                # approvals keep the order of the run's requirements (the model's call order).
                created_at=paused_at + timedelta(microseconds=index),
                metadata={k: v for k, v in meta.items() if v is not None},
            )
            pause.rows[approval] = await store.save_approval(owner, row, create_only=True)
        return pause

    async def _expire(self, scope: Scope, row: Approval) -> Approval:
        owner = Scope(scope.tenant_id, row.user_id)
        try:
            return await self._state.store.resolve_approval(
                owner, row.id, status="rejected", note=EXPIRED_NOTE
            )
        except ConflictError:  # decided meanwhile: that decision stands
            return await self._state.store.get_approval(owner, row.id) or row


async def record_decisions(
    state: RuntimeState, principal: Principal, run: Run, approvals: dict[str, Any]
) -> None:
    """Record the approval decisions of a `/resume` of `run` in its approval rows, first.

    `POST /v1/runs/{id}/resume` decides the same approvals the inbox lists: each decision goes
    through the same compare-and-set on the pending row (so the inbox keeps who decided through
    `/resume` too), and a decision that contradicts one already made — through the inbox, by
    someone else — is refused with `409 approval-decided` before the run is claimed. A decision
    equal to the recorded one passes (the inbox's own resume, with the rows' decisions).

    Args:
        state: The runtime.
        principal: Who resumes.
        run: The paused top-level run.
        approvals: The resume's approval decisions by tool call id (`bool` or a decision with
            `approved` and `note`), already checked against the run's requirements.
    """
    owner = Scope(principal.tenant_id, run.user_id)
    pause = await Approvals(state).record(owner, run)
    for approval, requirement in pause.approvals.items():
        given = approvals.get(requirement.tool_call_id)
        if given is None:
            continue
        decision: dict[str, Any] = (
            cast("dict[str, Any]", given) if isinstance(given, dict) else {"approved": given}
        )
        approved = decision.get("approved") is True
        note = decision.get("note")
        note = note if isinstance(note, str) else None
        status: Literal["approved", "rejected"] = "approved" if approved else "rejected"
        try:
            await state.store.resolve_approval(
                owner, approval, status=status, resolved_by=principal.user_id, note=note
            )
        except ConflictError:
            row = await state.store.get_approval(owner, approval)
            if row is not None and row.status != status:
                raise _decided(row) from None


def _pause(run: Run) -> _Pause:
    pause = _Pause(run)
    for requirement in run.requirements:
        if requirement.kind == "approval" and _storable(requirement.tool_call_id):
            pause.approvals[approval_id(run, requirement)] = requirement
        else:
            # An input, an external result, or a call whose id the store cannot keep (a
            # provider's odd tool call id): only `/resume` can give it, so the inbox leaves
            # the whole pause to `/resume` (and lists what it can keep).
            pause.others = True
    return pause


def _ids(run: Run) -> list[str]:
    return list(_pause(run).approvals)


def _storable(tool_call_id: str) -> bool:
    try:
        check_id(tool_call_id, "tool_call_id")
    except InvalidInputError:
        return False
    return True


def _expired(row: Approval) -> bool:
    raw = row.metadata.get("expires_at")
    if not isinstance(raw, str):
        return False
    try:
        return datetime.fromisoformat(raw) <= datetime.now(UTC)
    except ValueError:
        return False


def _decided(row: Approval) -> ApiError:
    status: Literal["approved", "rejected"] | str = row.status
    by = f" by {row.resolved_by!r}" if row.resolved_by else ""
    when = f" at {row.resolved_at.isoformat()}" if row.resolved_at else ""
    return ApiError(409, "approval-decided", f"Approval {row.id!r} was already {status}{by}{when}")
