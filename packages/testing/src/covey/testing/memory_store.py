"""`InMemoryStore`: the conformance suite's reference `Store`, kept in dicts.

A test double, not the production store: `memory://` is covey-db-memory's `MemoryStore`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar, cast

import anyio
from pydantic import BaseModel, ValidationError

from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.events import BaseEvent, load_event
from covey.spec.runs import ErrorInfo, RunStatus
from covey.spec.store import (
    Approval,
    ApprovalStatus,
    KnowledgeContent,
    KnowledgeStatus,
    Learning,
    Memory,
    Page,
    Run,
    Schedule,
    Scope,
    Session,
    Store,
    TraceSpan,
    UserProfile,
    check_id,
    check_limit,
    utc_now,
)

__all__ = ["InMemoryStore"]

M = TypeVar("M", bound=BaseModel)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_Key = tuple[str | int, ...]


def _copy(model: M) -> M:
    # A JSON round trip, as a database would do: nothing is shared with the caller, and data
    # that a real store could not keep fails here too.
    return type(model).model_validate_json(model.model_dump_json())


def _micros(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(microseconds=1)


def _check_optional(value: str | None, what: str) -> None:
    if value is not None:
        check_id(value, what)


def _stamp(scope: Scope, user_id: str | None, what: str) -> str | None:
    """The user id a row written under `scope` gets."""
    if scope.user_id is None:
        _check_optional(user_id, f"{what}.user_id")
        return user_id
    if user_id is None:
        return scope.user_id
    if user_id != scope.user_id:
        raise InvalidInputError(
            f"{what}.user_id is {user_id!r}, but the scope is user {scope.user_id!r}; a user "
            "scope can only write its own rows (use a tenant-wide scope for admin work)"
        )
    return user_id


def _session_user(scope: Scope, user_id: str | None) -> str | None:
    """The user namespace a session saved under `scope` goes to (see `Store.save_session`)."""
    if scope.user_id is None and user_id is not None:
        _check_optional(user_id, "session.user_id")
        raise InvalidInputError(
            f"session.user_id is {user_id!r}, but a tenant-wide scope saves sessions without a "
            "user; save a user's session under scope.for_user(user_id)"
        )
    return _stamp(scope, user_id, "session")


def _visible(scope: Scope, user_id: str | None, *, shared: bool = False) -> bool:
    if scope.user_id is None or user_id == scope.user_id:
        return True
    return shared and user_id is None


def _writable(scope: Scope, user_id: str | None) -> bool:
    return scope.user_id is None or user_id == scope.user_id


def _encode_cursor(listing: str, key: _Key) -> str:
    raw = json.dumps({"l": listing, "k": list(key)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(listing: str, cursor: str) -> _Key:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        key = cast("list[Any]", data["k"])
        if data["l"] != listing or not all(isinstance(part, str | int) for part in key):
            raise ValueError(listing)
        return tuple(cast("list[str | int]", key))
    except (ValueError, KeyError, TypeError) as e:
        raise InvalidInputError(
            f"cursor {cursor[:40]!r} is not a cursor of this listing; pass the `next_cursor` of "
            "the previous page, unchanged"
        ) from e


def _page(
    listing: str,
    rows: Iterable[M],
    key: Callable[[M], _Key],
    *,
    descending: bool,
    limit: int,
    cursor: str | None,
) -> Page[M]:
    check_limit(limit)
    ordered = sorted(rows, key=key, reverse=descending)
    if cursor is not None:
        after = _decode_cursor(listing, cursor)
        try:
            if descending:
                ordered = [r for r in ordered if key(r) < after]
            else:
                ordered = [r for r in ordered if key(r) > after]
        except TypeError as e:
            raise InvalidInputError("cursor does not belong to this listing") from e
    items = ordered[:limit]
    next_cursor = _encode_cursor(listing, key(items[-1])) if len(ordered) > limit else None
    return Page[M](items=[_copy(r) for r in items], next_cursor=next_cursor)


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


class InMemoryStore(Store):
    """The reference `Store`: every rule of the interface, in process memory, simply.

    `covey-conformance` proves `StoreSuite` against it (and against subclasses with one rule
    broken, to show the suite catches each bug). It is a test double, not what `memory://`
    serves: that is `covey.db.memory.MemoryStore` (covey-db-memory), bounded and without a JSON
    round trip per call. Use this one to check a suite or to fake a store in a plugin's tests.

    Rows go in and out through a JSON round trip, so callers can never change a stored row by
    mutating an object, and anything a database could not store fails here too. One `anyio.Lock`
    serialises every call, so concurrent tasks see each call happen at once.

    Example:
        ```python
        store = InMemoryStore()
        saved = await store.save_session(Scope(), Session(agent_id="a"), expected_version=0)
        ```
    """

    def __init__(self) -> None:
        self._lock = anyio.Lock()
        self._sessions: dict[tuple[str, str | None, str], Session] = {}
        self._runs: dict[tuple[str, str], Run] = {}
        self._events: dict[tuple[str, str], dict[int, str]] = {}
        self._memories: dict[tuple[str, str], Memory] = {}
        self._profiles: dict[tuple[str, str], UserProfile] = {}
        self._learnings: dict[tuple[str, str], Learning] = {}
        self._knowledge: dict[tuple[str, str], KnowledgeContent] = {}
        self._approvals: dict[tuple[str, str], Approval] = {}
        self._schedules: dict[tuple[str, str], Schedule] = {}
        self._spans: dict[tuple[str, str, str], TraceSpan] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # --- sessions --------------------------------------------------------------------------------

    async def get_session(self, scope: Scope, session_id: str) -> Session | None:
        """See `Store.get_session`."""
        check_id(session_id, "session_id")
        async with self._lock:
            row = self._sessions.get((scope.tenant_id, scope.user_id, session_id))
            return None if row is None else _copy(row)

    async def list_sessions(
        self,
        scope: Scope,
        *,
        agent_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Session]:
        """See `Store.list_sessions`."""
        _check_optional(agent_id, "agent_id")
        async with self._lock:
            rows = [
                r
                for (tenant, _, _), r in self._sessions.items()
                if tenant == scope.tenant_id
                and _visible(scope, r.user_id)
                and (agent_id is None or r.agent_id == agent_id)
            ]
            return _page(
                "sessions",
                rows,
                lambda r: (_micros(r.updated_at), r.id, r.user_id or ""),
                descending=True,
                limit=limit,
                cursor=cursor,
            )

    async def save_session(
        self, scope: Scope, session: Session, *, expected_version: int | None
    ) -> Session:
        """See `Store.save_session`."""
        check_id(session.id, "session.id")
        _check_optional(session.agent_id, "session.agent_id")
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
            stored = _copy(session).model_copy(
                update={
                    "user_id": user_id,
                    "version": current + 1,
                    "created_at": existing.created_at if existing else session.created_at,
                    "updated_at": utc_now(),
                }
            )
            self._sessions[key] = stored
            return _copy(stored)

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
        _check_optional(run.session_id, "run.session_id")
        _check_optional(run.agent_id, "run.agent_id")
        _check_optional(run.parent_run_id, "run.parent_run_id")
        user_id = _stamp(scope, run.user_id, "run")
        expected = None if expected_status is None else _run_status(expected_status)
        async with self._lock:
            key = (scope.tenant_id, run.id)
            existing = self._runs.get(key)
            if existing is not None and not _writable(scope, existing.user_id):
                raise ConflictError(f"Run id {run.id!r} is taken outside this scope")
            if expected is not None and (existing is None or existing.status != expected):
                raise _status_conflict(run.id, expected, existing)
            update: dict[str, Any] = {"user_id": user_id, "updated_at": utc_now()}
            if existing is not None:
                update["created_at"] = existing.created_at
                update["cancel_requested"] = run.cancel_requested or existing.cancel_requested
                beats = [b for b in (run.heartbeat_at, existing.heartbeat_at) if b is not None]
                update["heartbeat_at"] = max(beats) if beats else None
            stored = _copy(run).model_copy(update=update)
            self._runs[key] = stored
            return _copy(stored)

    async def get_run(self, scope: Scope, run_id: str) -> Run | None:
        """See `Store.get_run`."""
        check_id(run_id, "run_id")
        async with self._lock:
            row = self._visible_run(scope, run_id)
            return None if row is None else _copy(row)

    def _visible_run(self, scope: Scope, run_id: str) -> Run | None:
        row = self._runs.get((scope.tenant_id, run_id))
        if row is None or not _visible(scope, row.user_id):
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
    ) -> Page[Run]:
        """See `Store.list_runs`."""
        _check_optional(session_id, "session_id")
        _check_optional(parent_run_id, "parent_run_id")
        if order not in ("asc", "desc"):
            raise InvalidInputError(f"order must be 'asc' or 'desc', got {order!r}")
        async with self._lock:
            rows = [
                r
                for (tenant, _), r in self._runs.items()
                if tenant == scope.tenant_id
                and _visible(scope, r.user_id)
                and (session_id is None or (r.session_id, r.user_id) == (session_id, scope.user_id))
                and (status is None or r.status == status)
                and (parent_run_id is None or r.parent_run_id == parent_run_id)
            ]
            return _page(
                "runs" if order == "asc" else "runs.desc",
                rows,
                lambda r: (_micros(r.created_at), r.id),
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
        _check_optional(run_id, "run_id")
        async with self._lock:
            now = utc_now()
            cutoff = now - older_than
            stale = [
                r
                for (tenant, _), r in self._runs.items()
                if tenant == scope.tenant_id
                and _visible(scope, r.user_id)
                and r.status == RunStatus.RUNNING
                and (r.heartbeat_at or r.updated_at) < cutoff
                and (run_id is None or r.id == run_id)
            ]
            stale.sort(key=lambda r: (_micros(r.created_at), r.id))
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

    # --- memories --------------------------------------------------------------------------------

    async def add_memory(self, scope: Scope, memory: Memory) -> Memory:
        """See `Store.add_memory`."""
        check_id(memory.id, "memory.id")
        check_id(memory.user_id, "memory.user_id")
        _stamp(scope, memory.user_id, "memory")
        async with self._lock:
            key = (scope.tenant_id, memory.id)
            if key in self._memories:
                raise ConflictError(f"A memory with id {memory.id!r} already exists")
            stored = _copy(memory).model_copy(update={"updated_at": utc_now()})
            self._memories[key] = stored
            return _copy(stored)

    async def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        """See `Store.get_memory`."""
        check_id(memory_id, "memory_id")
        async with self._lock:
            row = self._memories.get((scope.tenant_id, memory_id))
            if row is None or not _visible(scope, row.user_id):
                return None
            return _copy(row)

    async def list_memories(
        self,
        scope: Scope,
        *,
        topic: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Memory]:
        """See `Store.list_memories`."""
        async with self._lock:
            rows = [
                r
                for (tenant, _), r in self._memories.items()
                if tenant == scope.tenant_id
                and _visible(scope, r.user_id)
                and (topic is None or topic in r.topics)
            ]
            return _page(
                "memories",
                rows,
                lambda r: (_micros(r.updated_at), r.id),
                descending=True,
                limit=limit,
                cursor=cursor,
            )

    async def update_memory(self, scope: Scope, memory: Memory) -> Memory:
        """See `Store.update_memory`."""
        check_id(memory.id, "memory.id")
        check_id(memory.user_id, "memory.user_id")
        async with self._lock:
            key = (scope.tenant_id, memory.id)
            existing = self._memories.get(key)
            if existing is None or not _visible(scope, existing.user_id):
                raise NotFoundError(f"No memory {memory.id!r} in this scope")
            if memory.user_id != existing.user_id:
                raise InvalidInputError(
                    f"memory {memory.id!r} belongs to user {existing.user_id!r}; it cannot be "
                    f"moved to {memory.user_id!r}"
                )
            stored = _copy(memory).model_copy(
                update={"created_at": existing.created_at, "updated_at": utc_now()}
            )
            self._memories[key] = stored
            return _copy(stored)

    async def delete_memory(self, scope: Scope, memory_id: str) -> None:
        """See `Store.delete_memory`."""
        check_id(memory_id, "memory_id")
        async with self._lock:
            key = (scope.tenant_id, memory_id)
            row = self._memories.get(key)
            if row is None or not _visible(scope, row.user_id):
                raise NotFoundError(f"No memory {memory_id!r} in this scope")
            del self._memories[key]

    # --- user profiles ---------------------------------------------------------------------------

    async def get_user_profile(self, scope: Scope, user_id: str) -> UserProfile | None:
        """See `Store.get_user_profile`."""
        check_id(user_id, "user_id")
        async with self._lock:
            row = self._profiles.get((scope.tenant_id, user_id))
            if row is None or not _visible(scope, row.user_id):
                return None
            return _copy(row)

    async def save_user_profile(self, scope: Scope, profile: UserProfile) -> UserProfile:
        """See `Store.save_user_profile`."""
        check_id(profile.user_id, "profile.user_id")
        _stamp(scope, profile.user_id, "profile")
        async with self._lock:
            stored = _copy(profile).model_copy(update={"updated_at": utc_now()})
            self._profiles[(scope.tenant_id, profile.user_id)] = stored
            return _copy(stored)

    async def delete_user_profile(self, scope: Scope, user_id: str) -> None:
        """See `Store.delete_user_profile`."""
        check_id(user_id, "user_id")
        async with self._lock:
            key = (scope.tenant_id, user_id)
            row = self._profiles.get(key)
            if row is None or not _visible(scope, row.user_id):
                raise NotFoundError(f"No profile for user {user_id!r} in this scope")
            del self._profiles[key]

    # --- learnings -------------------------------------------------------------------------------

    async def add_learning(self, scope: Scope, learning: Learning) -> Learning:
        """See `Store.add_learning`."""
        check_id(learning.id, "learning.id")
        check_id(learning.namespace, "learning.namespace")
        check_id(learning.kind, "learning.kind")
        user_id = _stamp(scope, learning.user_id, "learning")
        async with self._lock:
            key = (scope.tenant_id, learning.id)
            if key in self._learnings:
                raise ConflictError(f"A learning with id {learning.id!r} already exists")
            stored = _copy(learning).model_copy(update={"user_id": user_id})
            self._learnings[key] = stored
            return _copy(stored)

    async def get_learning(self, scope: Scope, learning_id: str) -> Learning | None:
        """See `Store.get_learning`."""
        check_id(learning_id, "learning_id")
        async with self._lock:
            row = self._learnings.get((scope.tenant_id, learning_id))
            if row is None or not _visible(scope, row.user_id, shared=True):
                return None
            return _copy(row)

    async def list_learnings(
        self,
        scope: Scope,
        namespace: str,
        *,
        kind: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Learning]:
        """See `Store.list_learnings`."""
        check_id(namespace, "namespace")
        async with self._lock:
            rows = [
                r
                for (tenant, _), r in self._learnings.items()
                if tenant == scope.tenant_id
                and r.namespace == namespace
                and _visible(scope, r.user_id, shared=True)
                and (kind is None or r.kind == kind)
            ]
            return _page(
                f"learnings:{namespace}",
                rows,
                lambda r: (_micros(r.created_at), r.id),
                descending=True,
                limit=limit,
                cursor=cursor,
            )

    async def delete_learning(self, scope: Scope, learning_id: str) -> None:
        """See `Store.delete_learning`."""
        check_id(learning_id, "learning_id")
        async with self._lock:
            key = (scope.tenant_id, learning_id)
            row = self._learnings.get(key)
            if row is None or not _writable(scope, row.user_id):
                raise NotFoundError(f"No learning {learning_id!r} that this scope may delete")
            del self._learnings[key]

    # --- knowledge contents ----------------------------------------------------------------------

    async def save_knowledge_content(
        self, scope: Scope, content: KnowledgeContent
    ) -> KnowledgeContent:
        """See `Store.save_knowledge_content`."""
        check_id(content.id, "content.id")
        check_id(content.knowledge, "content.knowledge")
        user_id = _stamp(scope, content.user_id, "content")
        async with self._lock:
            key = (scope.tenant_id, content.id)
            existing = self._knowledge.get(key)
            if existing is not None and not _writable(scope, existing.user_id):
                raise ConflictError(
                    f"Knowledge content id {content.id!r} is taken by a content this scope "
                    "may not write"
                )
            stored = _copy(content).model_copy(
                update={
                    "user_id": user_id,
                    "created_at": existing.created_at if existing else content.created_at,
                    "updated_at": utc_now(),
                }
            )
            self._knowledge[key] = stored
            return _copy(stored)

    async def get_knowledge_content(self, scope: Scope, content_id: str) -> KnowledgeContent | None:
        """See `Store.get_knowledge_content`."""
        check_id(content_id, "content_id")
        async with self._lock:
            row = self._knowledge.get((scope.tenant_id, content_id))
            if row is None or not _visible(scope, row.user_id, shared=True):
                return None
            return _copy(row)

    async def list_knowledge_contents(
        self,
        scope: Scope,
        *,
        knowledge: str | None = None,
        status: KnowledgeStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[KnowledgeContent]:
        """See `Store.list_knowledge_contents`."""
        if knowledge is not None:
            check_id(knowledge, "knowledge")
        async with self._lock:
            rows = [
                r
                for (tenant, _), r in self._knowledge.items()
                if tenant == scope.tenant_id
                and _visible(scope, r.user_id, shared=True)
                and (knowledge is None or r.knowledge == knowledge)
                and (status is None or r.status == status)
            ]
            return _page(
                "knowledge",
                rows,
                lambda r: (_micros(r.updated_at), r.id),
                descending=True,
                limit=limit,
                cursor=cursor,
            )

    async def delete_knowledge_content(self, scope: Scope, content_id: str) -> None:
        """See `Store.delete_knowledge_content`."""
        check_id(content_id, "content_id")
        async with self._lock:
            key = (scope.tenant_id, content_id)
            row = self._knowledge.get(key)
            if row is None or not _writable(scope, row.user_id):
                raise NotFoundError(f"No knowledge content {content_id!r} this scope may delete")
            del self._knowledge[key]

    # --- approvals -------------------------------------------------------------------------------

    async def save_approval(
        self, scope: Scope, approval: Approval, *, create_only: bool = False
    ) -> Approval:
        """See `Store.save_approval`."""
        check_id(approval.id, "approval.id")
        check_id(approval.run_id, "approval.run_id")
        check_id(approval.tool_call_id, "approval.tool_call_id")
        _check_optional(approval.resolved_by, "approval.resolved_by")
        user_id = _stamp(scope, approval.user_id, "approval")
        async with self._lock:
            key = (scope.tenant_id, approval.id)
            existing = self._approvals.get(key)
            if existing is not None and create_only:
                if not _visible(scope, existing.user_id):
                    raise ConflictError(f"Approval id {approval.id!r} is taken outside this scope")
                return _copy(existing)
            if existing is not None and not _writable(scope, existing.user_id):
                raise ConflictError(f"Approval id {approval.id!r} is taken outside this scope")
            stored = _copy(approval).model_copy(
                update={
                    "user_id": user_id,
                    "created_at": existing.created_at if existing else approval.created_at,
                }
            )
            self._approvals[key] = stored
            return _copy(stored)

    async def get_approval(self, scope: Scope, approval_id: str) -> Approval | None:
        """See `Store.get_approval`."""
        check_id(approval_id, "approval_id")
        async with self._lock:
            row = self._approvals.get((scope.tenant_id, approval_id))
            if row is None or not _visible(scope, row.user_id):
                return None
            return _copy(row)

    async def list_approvals(
        self,
        scope: Scope,
        *,
        status: ApprovalStatus | None = None,
        run_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Approval]:
        """See `Store.list_approvals`."""
        _check_optional(run_id, "run_id")
        async with self._lock:
            rows = [
                r
                for (tenant, _), r in self._approvals.items()
                if tenant == scope.tenant_id
                and _visible(scope, r.user_id)
                and (status is None or r.status == status)
                and (run_id is None or r.run_id == run_id)
            ]
            return _page(
                "approvals",
                rows,
                lambda r: (_micros(r.created_at), r.id),
                descending=False,
                limit=limit,
                cursor=cursor,
            )

    async def resolve_approval(
        self,
        scope: Scope,
        approval_id: str,
        *,
        status: Literal["approved", "rejected"],
        resolved_by: str | None = None,
        note: str | None = None,
    ) -> Approval:
        """See `Store.resolve_approval`."""
        check_id(approval_id, "approval_id")
        _check_optional(resolved_by, "resolved_by")
        if status not in ("approved", "rejected"):
            raise InvalidInputError(f"status must be 'approved' or 'rejected', got {status!r}")
        async with self._lock:
            row = self._approvals.get((scope.tenant_id, approval_id))
            if row is None or not _visible(scope, row.user_id):
                raise NotFoundError(f"No approval {approval_id!r} in this scope")
            if row.status != "pending":
                raise ConflictError(
                    f"Approval {approval_id!r} was already {row.status} by {row.resolved_by!r}"
                )
            row.status = status
            row.resolved_at = utc_now()
            row.resolved_by = resolved_by
            row.note = note
            return _copy(row)

    # --- schedules -------------------------------------------------------------------------------

    async def save_schedule(
        self, scope: Scope, schedule: Schedule, *, expected_updated_at: datetime | None = None
    ) -> Schedule:
        """See `Store.save_schedule`."""
        check_id(schedule.id, "schedule.id")
        check_id(schedule.target_id, "schedule.target_id")
        user_id = _stamp(scope, schedule.user_id, "schedule")
        async with self._lock:
            key = (scope.tenant_id, schedule.id)
            existing = self._schedules.get(key)
            if existing is not None and not _writable(scope, existing.user_id):
                raise ConflictError(f"Schedule id {schedule.id!r} is taken outside this scope")
            if expected_updated_at is not None and (
                existing is None or existing.updated_at != expected_updated_at
            ):
                raise ConflictError(f"Schedule {schedule.id!r} was changed or deleted since read")
            stored = _copy(schedule).model_copy(
                update={
                    "user_id": user_id,
                    "created_at": existing.created_at if existing else schedule.created_at,
                    "updated_at": max(
                        utc_now(),
                        existing.updated_at + timedelta(microseconds=1) if existing else utc_now(),
                    ),
                }
            )
            self._schedules[key] = stored
            return _copy(stored)

    async def get_schedule(self, scope: Scope, schedule_id: str) -> Schedule | None:
        """See `Store.get_schedule`."""
        check_id(schedule_id, "schedule_id")
        async with self._lock:
            row = self._schedules.get((scope.tenant_id, schedule_id))
            if row is None or not _visible(scope, row.user_id):
                return None
            return _copy(row)

    async def list_schedules(
        self,
        scope: Scope,
        *,
        enabled: bool | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Schedule]:
        """See `Store.list_schedules`."""
        async with self._lock:
            rows = [
                r
                for (tenant, _), r in self._schedules.items()
                if tenant == scope.tenant_id
                and _visible(scope, r.user_id)
                and (enabled is None or r.enabled == enabled)
            ]
            return _page(
                "schedules",
                rows,
                lambda r: (r.id,),
                descending=False,
                limit=limit,
                cursor=cursor,
            )

    async def delete_schedule(self, scope: Scope, schedule_id: str) -> None:
        """See `Store.delete_schedule`."""
        check_id(schedule_id, "schedule_id")
        async with self._lock:
            key = (scope.tenant_id, schedule_id)
            row = self._schedules.get(key)
            if row is None or not _visible(scope, row.user_id):
                raise NotFoundError(f"No schedule {schedule_id!r} in this scope")
            del self._schedules[key]

    async def list_due(self, scope: Scope, now: datetime) -> list[Schedule]:
        """See `Store.list_due`."""
        limit = _micros(now)
        async with self._lock:
            due = [
                r
                for (tenant, _), r in self._schedules.items()
                if tenant == scope.tenant_id
                and _visible(scope, r.user_id)
                and r.enabled
                and r.next_run_at is not None
                and _micros(r.next_run_at) <= limit
            ]
            due.sort(key=lambda r: (_micros(r.next_run_at or now), r.id))
            return [_copy(r) for r in due]

    # --- traces ----------------------------------------------------------------------------------

    async def add_spans(self, scope: Scope, spans: Sequence[TraceSpan]) -> None:
        """See `Store.add_spans`."""
        staged: list[TraceSpan] = []
        for span in spans:
            check_id(span.trace_id, "span.trace_id")
            check_id(span.span_id, "span.span_id")
            _check_optional(span.parent_span_id, "span.parent_span_id")
            user_id = _stamp(scope, span.user_id, "span")
            staged.append(_copy(span).model_copy(update={"user_id": user_id}))
        async with self._lock:
            for span in staged:
                existing = self._spans.get((scope.tenant_id, span.trace_id, span.span_id))
                if existing is not None and not _writable(scope, existing.user_id):
                    raise ConflictError(
                        f"Span {span.span_id!r} of trace {span.trace_id!r} is taken outside "
                        "this scope; nothing was written"
                    )
            for span in staged:
                self._spans[(scope.tenant_id, span.trace_id, span.span_id)] = span

    async def list_spans(self, scope: Scope, trace_id: str) -> list[TraceSpan]:
        """See `Store.list_spans`."""
        check_id(trace_id, "trace_id")
        async with self._lock:
            rows = [
                r
                for (tenant, tid, _), r in self._spans.items()
                if tenant == scope.tenant_id and tid == trace_id and _visible(scope, r.user_id)
            ]
            rows.sort(key=lambda r: (_micros(r.start), r.span_id))
            return [_copy(r) for r in rows]
