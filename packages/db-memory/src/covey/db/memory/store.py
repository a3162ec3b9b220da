"""`MemoryStore`: the whole `covey.spec.store.Store` in process memory, bounded."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from datetime import timedelta
from functools import cache
from typing import Any, Literal

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from covey.db.memory.copies import is_deeply_frozen, private_copy
from covey.db.memory.directory import DirectoryMethods
from covey.db.memory.pages import micros, page_of
from covey.db.memory.records import RecordMethods
from covey.db.memory.retention import Retention
from covey.db.memory.scoping import (
    check_optional,
    check_scope,
    check_sequence,
    check_type,
    stamp,
    visible,
    writable,
)
from covey.db.memory.tables import EventLog, owned
from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.events import BaseEvent, RunEvent, load_event
from covey.spec.runs import ErrorInfo, RunStatus
from covey.spec.store import (
    Page,
    Run,
    Scope,
    Session,
    Store,
    check_id,
    check_limit,
    check_search,
    utc_now,
)

__all__ = ["MemoryStore"]

_BY_TIME = (int, str)
_SESSION_KEY = (int, str, str)


class MemoryStore(DirectoryMethods, RecordMethods, Store):
    """Every rule of the `Store` interface in process memory, for `memory://`.

    Nothing survives the process: use it for development, demos, tests and stateless services
    that need no history after a restart. `Retention` bounds what it keeps, so a long-running
    server does not grow without limit (see `Retention` for what goes first).

    A record is validated once, through JSON, when it is written, so the store accepts exactly
    what a database store would; afterwards reads hand out copies that share only immutable
    values (events, which are frozen, are shared as they are). A caller can never change a
    stored row through an object it passed in or got back. Calls never await while they hold
    the store's lock, so every call is atomic for concurrent tasks (and threads), and the
    compare-and-set checks of `save_session` and `save_run` are exact.

    Sessions are namespaced per user: `(tenant, user_id, id)` is a session's key, with
    `user_id=None` a namespace of its own. A user scope reaches its user's sessions; a
    tenant-wide scope reaches the no-user namespace for `get_session`, `save_session` (of a
    session without `user_id`) and `delete_session`, while `list_sessions` under it lists every
    user's sessions of the tenant.

    Args:
        retention: The limits; the defaults keep 10,000 finished runs, 10,000 events per run,
            10,000 sessions and 100,000 rows of each other kind.

    Example:
        ```python
        store = MemoryStore(Retention(max_runs=1000))
        saved = await store.save_session(Scope(), Session(agent_id="a"), expected_version=0)
        ```
    """

    def __init__(self, retention: Retention | None = None) -> None:
        super().__init__(retention if retention is not None else Retention())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.retention!r})"

    def row_counts(self) -> dict[str, int]:
        """How many rows of each kind the store keeps now (what `Retention` bounds)."""
        return self._counts()

    # --- sessions --------------------------------------------------------------------------------

    async def get_session(self, scope: Scope, session_id: str) -> Session | None:
        """See `Store.get_session`; the scope's namespace only."""
        check_scope(scope)
        check_id(session_id, "session_id")
        row = self._sessions.get((scope.tenant_id, scope.user_id, session_id))
        return None if row is None else private_copy(row)

    async def list_sessions(
        self,
        scope: Scope,
        *,
        agent_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        search: str | None = None,
    ) -> Page[Session]:
        """See `Store.list_sessions`; a tenant-wide scope lists every user's sessions."""
        check_scope(scope)
        check_optional(agent_id, "agent_id")
        text = check_search(search)
        with self._lock:
            rows = [
                r
                for (tenant, user_id, _), r in self._sessions.items()
                if tenant == scope.tenant_id
                and (scope.user_id is None or user_id == scope.user_id)
                and (agent_id is None or r.agent_id == agent_id)
                and (text is None or _matches(r, text))
            ]
        return page_of(
            "sessions",
            rows,
            # Ids repeat across users' namespaces; the user (None as "") breaks the tie.
            lambda r: (micros(r.updated_at), r.id, r.user_id or ""),
            _SESSION_KEY,
            descending=True,
            limit=limit,
            cursor=cursor,
            copy=private_copy,
        )

    async def save_session(
        self, scope: Scope, session: Session, *, expected_version: int | None
    ) -> Session:
        """See `Store.save_session`; the session's key is `(tenant, its user, id)`."""
        check_scope(scope)
        check_type(session, Session, "session")
        check_id(session.id, "session.id")
        check_optional(session.agent_id, "session.agent_id")
        user_id = stamp(scope, session.user_id, "session")
        if scope.user_id is None and user_id is not None:
            raise InvalidInputError(
                f"Session {session.id!r} belongs to user {user_id!r}: a tenant-wide scope saves "
                "only sessions without a user; save it with scope.for_user(user_id)"
            )
        if expected_version is not None and (
            type(expected_version) is not int or expected_version < 0
        ):
            raise InvalidInputError(
                f"expected_version must be an integer of 0 or more, got {expected_version!r}"
            )
        row = owned(session, Session, "session")
        key = (scope.tenant_id, user_id, row.id)
        with self._lock:
            existing = self._sessions.get(key)
            current = existing.version if existing is not None else 0
            if expected_version is not None and expected_version != current:
                raise ConflictError(
                    f"Session {row.id!r} is at version {current}, not {expected_version}: "
                    "someone saved it since you read it. Reload it and apply your change again."
                )
            _set_fields(
                row,
                user_id=user_id,
                version=current + 1,
                created_at=existing.created_at if existing is not None else row.created_at,
                updated_at=utc_now(),
            )
            self._put_session(key, row)
        return private_copy(row)

    async def delete_session(self, scope: Scope, session_id: str) -> None:
        """See `Store.delete_session`; only the runs of the session's own namespace go."""
        check_scope(scope)
        check_id(session_id, "session_id")
        key = (scope.tenant_id, scope.user_id, session_id)
        with self._lock:
            if self._sessions.pop(key, None) is None:
                raise NotFoundError(f"No session {session_id!r} in this scope")
            for run_id in list(self._session_runs.get(key, ())):
                self._drop_run((scope.tenant_id, run_id))

    # --- runs ------------------------------------------------------------------------------------

    async def save_run(
        self, scope: Scope, run: Run, *, expected_status: RunStatus | None = None
    ) -> Run:
        """See `Store.save_run`."""
        check_scope(scope)
        check_type(run, Run, "run")
        check_id(run.id, "run.id")
        check_optional(run.session_id, "run.session_id")
        check_optional(run.agent_id, "run.agent_id")
        check_optional(run.parent_run_id, "run.parent_run_id")
        user_id = stamp(scope, run.user_id, "run")
        expected = None if expected_status is None else _run_status(expected_status)
        row = owned(run, Run, "run")
        key = (scope.tenant_id, row.id)
        with self._lock:
            existing = self._runs.get(key)
            if existing is not None and not writable(scope, existing.user_id):
                raise ConflictError(f"Run id {row.id!r} is taken outside this scope")
            if expected is not None and (existing is None or existing.status != expected):
                raise _status_conflict(row.id, expected, existing)
            changes: dict[str, Any] = {"user_id": user_id, "updated_at": utc_now()}
            if existing is not None:
                changes["created_at"] = existing.created_at
                changes["cancel_requested"] = row.cancel_requested or existing.cancel_requested
                beats = [b for b in (row.heartbeat_at, existing.heartbeat_at) if b is not None]
                changes["heartbeat_at"] = max(beats) if beats else None
            _set_fields(row, **changes)
            self._put_run(key, row, existing)
        return private_copy(row)

    async def get_run(self, scope: Scope, run_id: str) -> Run | None:
        """See `Store.get_run`."""
        check_scope(scope)
        check_id(run_id, "run_id")
        row = self._visible_run(scope, run_id)
        return None if row is None else private_copy(row)

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
        """See `Store.list_runs`.

        With `session_id`, the runs of that session in the scope's namespace (a tenant-wide
        scope: runs without a user). `order="desc"` lists newest first; cursors work both ways.
        With `parent_run_id`, the runs that run started (read from an index, not a scan).
        """
        check_scope(scope)
        check_optional(session_id, "session_id")
        check_optional(parent_run_id, "parent_run_id")
        check_optional(agent_id, "agent_id")
        check_type(top_level, bool, "top_level")
        if order not in ("asc", "desc"):
            raise InvalidInputError(f"order must be 'asc' or 'desc', got {order!r}")
        tenant = scope.tenant_id
        with self._lock:
            if session_id is not None:
                ids = self._session_runs.get((tenant, scope.user_id, session_id), {})
                rows = [self._runs[(tenant, run_id)] for run_id in ids]
                if parent_run_id is not None:
                    rows = [r for r in rows if r.parent_run_id == parent_run_id]
            elif parent_run_id is not None:
                ids = self._child_runs.get((tenant, parent_run_id), {})
                rows = [
                    r
                    for r in (self._runs[(tenant, run_id)] for run_id in ids)
                    if visible(scope, r.user_id)
                ]
            else:
                rows = [
                    r
                    for (t, _), r in self._runs.items()
                    if t == tenant and visible(scope, r.user_id)
                ]
        if status is not None:
            rows = [r for r in rows if r.status == status]
        if agent_id is not None:
            rows = [r for r in rows if r.agent_id == agent_id]
        if top_level:
            rows = [r for r in rows if r.parent_run_id is None]
        return page_of(
            f"runs:{order}",
            rows,
            lambda r: (micros(r.created_at), r.id),
            _BY_TIME,
            descending=order == "desc",
            limit=limit,
            cursor=cursor,
            copy=private_copy,
        )

    async def request_cancel(self, scope: Scope, run_id: str) -> bool:
        """See `Store.request_cancel`."""
        check_scope(scope)
        check_id(run_id, "run_id")
        with self._lock:
            row = self._visible_run(scope, run_id)
            if row is None:
                raise NotFoundError(f"No run {run_id!r} in this scope")
            if row.status.is_final:
                return False
            self._runs[(scope.tenant_id, run_id)] = row.model_copy(
                update={"cancel_requested": True, "updated_at": utc_now()}
            )
            return True

    async def heartbeat(self, scope: Scope, run_id: str) -> bool:
        """See `Store.heartbeat`."""
        check_scope(scope)
        check_id(run_id, "run_id")
        with self._lock:
            row = self._visible_run(scope, run_id)
            if row is None:
                raise NotFoundError(f"No run {run_id!r} in this scope")
            now = utc_now()
            if row.heartbeat_at is None or row.heartbeat_at < now:
                self._runs[(scope.tenant_id, run_id)] = row.model_copy(update={"heartbeat_at": now})
            return row.cancel_requested

    async def mark_stale_runs_interrupted(
        self,
        scope: Scope,
        *,
        older_than: timedelta,
        run_id: str | None = None,
        error: ErrorInfo | None = None,
    ) -> list[str]:
        """See `Store.mark_stale_runs_interrupted`; with `run_id`, one atomic claim."""
        check_scope(scope)
        check_type(older_than, timedelta, "older_than")
        if run_id is not None:
            check_id(run_id, "run_id")
        with self._lock:
            now = utc_now()
            cutoff = now - older_than
            stale = sorted(
                (
                    r
                    for (tenant, _), r in self._runs.items()
                    if tenant == scope.tenant_id
                    and visible(scope, r.user_id)
                    and r.status == RunStatus.RUNNING
                    and (r.heartbeat_at or r.updated_at) < cutoff
                    and (run_id is None or r.id == run_id)
                ),
                key=lambda r: (micros(r.created_at), r.id),
            )
            for row in stale:
                key = (scope.tenant_id, row.id)
                changes: dict[str, Any] = {"status": RunStatus.INTERRUPTED, "updated_at": now}
                if error is not None:
                    changes["error"] = error.model_copy(deep=True)
                ended = row.model_copy(update=changes)
                self._put_run(key, ended, row)
            return [r.id for r in stale]

    # --- run events ------------------------------------------------------------------------------

    async def save_run_and_events(
        self, scope: Scope, run: Run, events: Sequence[BaseEvent]
    ) -> None:
        """See `Store.save_run_and_events`: the record first for a new run, the events first
        for an existing one (neither call suspends, so no task sees one without the other)."""
        check_scope(scope)
        check_type(run, Run, "run")
        if not events:
            await self.save_run(scope, run)
            return
        with self._lock:
            exists = self._visible_run(scope, run.id) is not None
        if not exists:
            await self.save_run(scope, run)
            await self.append_events(scope, run.id, events)
            return
        await self.append_events(scope, run.id, events)
        await self.save_run(scope, run)

    async def append_events(self, scope: Scope, run_id: str, events: Sequence[BaseEvent]) -> None:
        """See `Store.append_events`. Past `Retention.max_events_per_run` the oldest go."""
        check_scope(scope)
        check_id(run_id, "run_id")
        check_sequence(events, "events")
        batch: list[BaseEvent] = []
        seqs: set[int] = set()
        for event in events:
            check_type(event, BaseEvent, "event")
            seq = event.seq
            if type(seq) is not int or seq < 1:
                raise InvalidInputError(f"event seq must be an integer of 1 or more, got {seq!r}")
            if seq in seqs:
                raise ConflictError(f"seq {seq} appears twice in one batch for run {run_id!r}")
            seqs.add(seq)
            batch.append(_owned_event(event))
        with self._lock:
            if self._visible_run(scope, run_id) is None:
                raise NotFoundError(f"No run {run_id!r} in this scope; save the run first")
            if not batch:
                return
            key = (scope.tenant_id, run_id)
            log = self._events.get(key)
            if log is None:
                log = self._events[key] = EventLog()
            taken = log.taken(sorted(seqs))
            if taken:
                raise ConflictError(
                    f"run {run_id!r} already has events with seq {taken}; nothing was written"
                )
            log.add(batch, self.retention.max_events_per_run)

    async def list_events(
        self, scope: Scope, run_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[BaseEvent]:
        """See `Store.list_events`."""
        check_scope(scope)
        check_id(run_id, "run_id")
        if limit is not None:
            check_limit(limit)
        if type(after_seq) is not int:
            raise InvalidInputError(f"after_seq must be an integer, got {after_seq!r}")
        with self._lock:
            if self._visible_run(scope, run_id) is None:
                return []
            log = self._events.get((scope.tenant_id, run_id))
            found = [] if log is None else log.after(after_seq, limit)
        return [private_copy(event) for event in found]


def _matches(session: Session, text: str) -> bool:
    """Whether the session's id, agent id or summary contains `text`, ignoring case."""
    needle = text.lower()
    fields = (session.id, session.agent_id or "", session.summary or "")
    return any(needle in field.lower() for field in fields)


def _set_fields(row: Run | Session, **values: Any) -> None:
    # `row` is the store's own fresh copy: set its fields without validating them again.
    vars(row).update(values)
    row.__pydantic_fields_set__.update(values)


@cache
def _shared_event_types() -> frozenset[type[BaseEvent]]:
    """Run event classes whose instances can be kept as given: deeply frozen ones."""
    union = typing.get_args(RunEvent)[0]
    return frozenset(c for c in typing.get_args(union) if is_deeply_frozen(c))


@cache
def _event_types() -> frozenset[type[BaseEvent]]:
    return frozenset(typing.get_args(typing.get_args(RunEvent)[0]))


def _owned_event(event: BaseEvent) -> BaseEvent:
    """The event the store keeps: `event` itself when it is deeply frozen, else a private copy.

    Raises:
        InvalidInputError: the event is not a run event `load_event` can read back.
    """
    if type(event) in _shared_event_types():
        return event
    try:
        data = event.model_dump_json(warnings=False)
        if type(event) not in _event_types():
            raise InvalidInputError(f"{type(event).__name__} is not one of the run events")
        return load_event(data)
    except (ValidationError, PydanticSerializationError, InvalidInputError) as e:
        raise InvalidInputError(
            f"event {type(event).__name__} (type {event.type!r}) is not a run event that "
            f"load_event can read back: {e}"
        ) from e


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
