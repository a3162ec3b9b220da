"""Sessions, runs and run events of `InMemoryStore`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

from pydantic import ValidationError

from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.events import BaseEvent, load_event
from covey.spec.runs import ErrorInfo, RunStatus
from covey.spec.store import (
    Page,
    Run,
    Scope,
    Session,
    check_id,
    check_limit,
    check_search,
    utc_now,
)
from covey.testing.memory_tables import (
    InMemoryTables,
    check_optional,
    copy_row,
    micros,
    page_of,
    stamp,
    visible,
    writable,
)

__all__ = ["InMemoryHistory"]


class InMemoryHistory(InMemoryTables):
    """The sessions, runs and run-event logs of `InMemoryStore`."""

    # --- sessions --------------------------------------------------------------------------------

    async def get_session(self, scope: Scope, session_id: str) -> Session | None:
        """See `Store.get_session`."""
        check_id(session_id, "session_id")
        async with self._lock:
            row = self._sessions.get((scope.tenant_id, scope.user_id, session_id))
            return None if row is None else copy_row(row)

    async def list_sessions(
        self,
        scope: Scope,
        *,
        agent_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        search: str | None = None,
    ) -> Page[Session]:
        """See `Store.list_sessions`."""
        check_optional(agent_id, "agent_id")
        text = check_search(search)
        async with self._lock:
            rows = [
                r
                for (tenant, _, _), r in self._sessions.items()
                if tenant == scope.tenant_id
                and visible(scope, r.user_id)
                and (agent_id is None or r.agent_id == agent_id)
                and (text is None or _matches(r, text))
            ]
            return page_of(
                "sessions",
                rows,
                lambda r: (micros(r.updated_at), r.id, r.user_id or ""),
                descending=True,
                limit=limit,
                cursor=cursor,
            )

    async def save_session(
        self, scope: Scope, session: Session, *, expected_version: int | None
    ) -> Session:
        """See `Store.save_session`."""
        check_id(session.id, "session.id")
        check_optional(session.agent_id, "session.agent_id")
        user_id = _session_user(scope, session.user_id)
        if expected_version is not None and expected_version < 0:
            raise InvalidInputError(f"expected_version must be 0 or more, got {expected_version}")
        async with self._lock:
            key = (scope.tenant_id, user_id, session.id)
            existing = self._sessions.get(key)
            current = existing.version if existing is not None else 0
            if expected_version is not None and expected_version != current:
                raise ConflictError(
                    f"Session {session.id!r} is at version {current}, not {expected_version}: "
                    "someone saved it since you read it. Reload it and apply your change again."
                )
            stored = copy_row(session).model_copy(
                update={
                    "user_id": user_id,
                    "version": current + 1,
                    "created_at": existing.created_at if existing else session.created_at,
                    "updated_at": utc_now(),
                }
            )
            self._sessions[key] = stored
            return copy_row(stored)

    async def delete_session(self, scope: Scope, session_id: str) -> None:
        """See `Store.delete_session`."""
        check_id(session_id, "session_id")
        async with self._lock:
            key = (scope.tenant_id, scope.user_id, session_id)
            if key not in self._sessions:
                raise NotFoundError(f"No session {session_id!r} in this scope")
            del self._sessions[key]
            run_ids = {
                run_id
                for (tenant, run_id), run in self._runs.items()
                if tenant == scope.tenant_id
                and run.session_id == session_id
                and run.user_id == scope.user_id
            }
            for run_id in run_ids:
                del self._runs[(scope.tenant_id, run_id)]
                self._events.pop((scope.tenant_id, run_id), None)
            for akey in [
                k
                for k, a in self._approvals.items()
                if k[0] == scope.tenant_id and a.run_id in run_ids
            ]:
                del self._approvals[akey]

    # --- runs ------------------------------------------------------------------------------------

    async def save_run(
        self, scope: Scope, run: Run, *, expected_status: RunStatus | None = None
    ) -> Run:
        """See `Store.save_run`."""
        check_id(run.id, "run.id")
        check_optional(run.session_id, "run.session_id")
        check_optional(run.agent_id, "run.agent_id")
        check_optional(run.parent_run_id, "run.parent_run_id")
        user_id = stamp(scope, run.user_id, "run")
        expected = None if expected_status is None else _run_status(expected_status)
        async with self._lock:
            key = (scope.tenant_id, run.id)
            existing = self._runs.get(key)
            if existing is not None and not writable(scope, existing.user_id):
                raise ConflictError(f"Run id {run.id!r} is taken outside this scope")
            if expected is not None and (existing is None or existing.status != expected):
                raise _status_conflict(run.id, expected, existing)
            update: dict[str, Any] = {"user_id": user_id, "updated_at": utc_now()}
            if existing is not None:
                update["created_at"] = existing.created_at
                update["cancel_requested"] = run.cancel_requested or existing.cancel_requested
                beats = [b for b in (run.heartbeat_at, existing.heartbeat_at) if b is not None]
                update["heartbeat_at"] = max(beats) if beats else None
            stored = copy_row(run).model_copy(update=update)
            self._runs[key] = stored
            return copy_row(stored)

    async def get_run(self, scope: Scope, run_id: str) -> Run | None:
        """See `Store.get_run`."""
        check_id(run_id, "run_id")
        async with self._lock:
            row = self._visible_run(scope, run_id)
            return None if row is None else copy_row(row)

    def _visible_run(self, scope: Scope, run_id: str) -> Run | None:
        row = self._runs.get((scope.tenant_id, run_id))
        if row is None or not visible(scope, row.user_id):
            return None
        return row

    async def list_runs(
        self,
        scope: Scope,
        *,
        session_id: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
        order: Literal["asc", "desc"] = "asc",
        parent_run_id: str | None = None,
        agent_id: str | None = None,
        top_level: bool = False,
    ) -> Page[Run]:
        """See `Store.list_runs`."""
        check_optional(session_id, "session_id")
        check_optional(parent_run_id, "parent_run_id")
        check_optional(agent_id, "agent_id")
        if not isinstance(top_level, bool):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidInputError(f"top_level must be a bool, got {type(top_level).__name__}")
        if order not in ("asc", "desc"):
            raise InvalidInputError(f"order must be 'asc' or 'desc', got {order!r}")
        async with self._lock:
            rows = [
                r
                for (tenant, _), r in self._runs.items()
                if tenant == scope.tenant_id
                and visible(scope, r.user_id)
                and (session_id is None or (r.session_id, r.user_id) == (session_id, scope.user_id))
                and (status is None or r.status == status)
                and (parent_run_id is None or r.parent_run_id == parent_run_id)
                and (agent_id is None or r.agent_id == agent_id)
                and not (top_level and r.parent_run_id is not None)
            ]
            return page_of(
                "runs" if order == "asc" else "runs.desc",
                rows,
                lambda r: (micros(r.created_at), r.id),
                descending=order == "desc",
                limit=limit,
                cursor=cursor,
            )

    async def request_cancel(self, scope: Scope, run_id: str) -> bool:
        """See `Store.request_cancel`."""
        check_id(run_id, "run_id")
        async with self._lock:
            row = self._visible_run(scope, run_id)
            if row is None:
                raise NotFoundError(f"No run {run_id!r} in this scope")
            if row.status.is_final:
                return False
            row.cancel_requested = True
            row.updated_at = utc_now()
            return True

    async def heartbeat(self, scope: Scope, run_id: str) -> bool:
        """See `Store.heartbeat`."""
        check_id(run_id, "run_id")
        async with self._lock:
            row = self._visible_run(scope, run_id)
            if row is None:
                raise NotFoundError(f"No run {run_id!r} in this scope")
            now = utc_now()
            if row.heartbeat_at is None or row.heartbeat_at < now:
                row.heartbeat_at = now
            return row.cancel_requested

    async def mark_stale_runs_interrupted(
        self,
        scope: Scope,
        *,
        older_than: timedelta,
        run_id: str | None = None,
        error: ErrorInfo | None = None,
    ) -> list[str]:
        """See `Store.mark_stale_runs_interrupted`."""
        check_optional(run_id, "run_id")
        async with self._lock:
            now = utc_now()
            cutoff = now - older_than
            stale = [
                r
                for (tenant, _), r in self._runs.items()
                if tenant == scope.tenant_id
                and visible(scope, r.user_id)
                and r.status == RunStatus.RUNNING
                and (r.heartbeat_at or r.updated_at) < cutoff
                and (run_id is None or r.id == run_id)
            ]
            stale.sort(key=lambda r: (micros(r.created_at), r.id))
            for row in stale:
                row.status = RunStatus.INTERRUPTED
                row.updated_at = now
                if error is not None:
                    row.error = error.model_copy(deep=True)
            return [r.id for r in stale]

    # --- run events ------------------------------------------------------------------------------

    async def append_events(self, scope: Scope, run_id: str, events: Sequence[BaseEvent]) -> None:
        """See `Store.append_events`."""
        check_id(run_id, "run_id")
        batch: dict[int, str] = {}
        for event in events:
            seq = event.seq
            if type(seq) is not int or seq < 1:
                raise InvalidInputError(f"event seq must be an integer of 1 or more, got {seq!r}")
            if seq in batch:
                raise ConflictError(f"seq {seq} appears twice in one batch for run {run_id!r}")
            data = event.model_dump_json()
            try:
                load_event(data)
            except ValidationError as e:
                raise InvalidInputError(
                    f"event {type(event).__name__} (type {event.type!r}) is not a run event that "
                    f"load_event can read back: {e.errors(include_url=False)[:1]}"
                ) from e
            batch[seq] = data
        async with self._lock:
            if self._visible_run(scope, run_id) is None:
                raise NotFoundError(f"No run {run_id!r} in this scope; save the run first")
            log = self._events.setdefault((scope.tenant_id, run_id), {})
            taken = sorted(seq for seq in batch if seq in log)
            if taken:
                raise ConflictError(
                    f"run {run_id!r} already has events with seq {taken}; nothing was written"
                )
            log.update(batch)

    async def list_events(
        self, scope: Scope, run_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[BaseEvent]:
        """See `Store.list_events`."""
        check_id(run_id, "run_id")
        if limit is not None:
            check_limit(limit)
        async with self._lock:
            if self._visible_run(scope, run_id) is None:
                return []
            log = self._events.get((scope.tenant_id, run_id), {})
            seqs = sorted(s for s in log if s > after_seq)
            if limit is not None:
                seqs = seqs[:limit]
            data = [log[s] for s in seqs]
        return [load_event(d) for d in data]


def _matches(session: Session, text: str) -> bool:
    """Whether the session's id, agent id or summary contains `text`, ignoring case."""
    needle = text.lower()
    fields = (session.id, session.agent_id or "", session.summary or "")
    return any(needle in field.lower() for field in fields)


def _session_user(scope: Scope, user_id: str | None) -> str | None:
    """The user namespace a session saved under `scope` goes to (see `Store.save_session`)."""
    if scope.user_id is None and user_id is not None:
        check_optional(user_id, "session.user_id")
        raise InvalidInputError(
            f"session.user_id is {user_id!r}, but a tenant-wide scope saves sessions without a "
            "user; save a user's session under scope.for_user(user_id)"
        )
    return stamp(scope, user_id, "session")


def _run_status(value: object) -> RunStatus:
    try:
        return RunStatus(value)
    except ValueError as e:
        raise InvalidInputError(
            f"expected_status must be one of {[s.value for s in RunStatus]}, got {value!r}"
        ) from e


def _status_conflict(run_id: str, expected: RunStatus, stored: Run | None) -> ConflictError:
    now = "does not exist" if stored is None else f"is {stored.status.value}"
    return ConflictError(
        f"Run {run_id!r} {now}, not {expected.value}: another caller changed it since you read "
        "it (a concurrent resume or cancel, say). Reload the run and decide again."
    )
