"""The runs of `SqlStore` and their event logs.

Saves compare-and-set on the status (so one of many resumes wins), cancel requests stay
sticky, heartbeats only move forward, stale runs are marked interrupted one by one, and a
batch of events is appended whole or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import case, exists, func, or_, select, true, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from covey.db.sql import records, statements
from covey.db.sql import tables as t
from covey.db.sql.errors import translate_error
from covey.db.sql.pages import micros
from covey.db.sql.scoping import (
    check_optional,
    check_scope,
    check_sequence,
    check_type,
    scope_params,
    stamp,
    visible,
    writable,
)
from covey.db.sql.store_core import FIXED_COLUMNS, StoreCore, fetch_one, same_user, ts_literal
from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.events import BaseEvent, load_event, run_event_classes
from covey.spec.runs import ErrorInfo, RunStatus
from covey.spec.store import Page, Run, Scope, check_id, check_limit, utc_now

__all__ = ["SqlRuns"]

_RUNNING = RunStatus.RUNNING.value
_LIVE = (RunStatus.RUNNING.value, RunStatus.PAUSED.value)

_LOOK_UP: Any = object()
_INLINE_EVENTS = 50
"""`list_events` pages up to this size are read inline on the event loop (see `SqliteRunner`)."""


class SqlRuns(StoreCore):
    """Runs and their events: saves, claims, cancel requests, heartbeats, the event log."""

    # --- runs ------------------------------------------------------------------------------------

    async def save_run(
        self, scope: Scope, run: Run, *, expected_status: RunStatus | None = None
    ) -> Run:
        """See `Store.save_run`."""
        return await self._write("save_run", self._save_run(scope, run, expected_status))

    async def save_run_and_events(
        self, scope: Scope, run: Run, events: Sequence[BaseEvent]
    ) -> None:
        """See `Store.save_run_and_events`: one transaction; the saved row is not read back."""
        save = self._save_run(scope, run, None, read_back=False)
        # The run is saved first in the same transaction: its owner is known, not looked up.
        append = self._append_events(scope, run.id, events, owner=stamp(scope, run.user_id, "run"))

        def both(c: Connection) -> None:
            save(c)
            append(c)

        await self._write("save_run_and_events", both)

    def _save_run(
        self,
        scope: Scope,
        run: Run,
        expected_status: RunStatus | None,
        *,
        read_back: bool = True,
    ) -> Callable[[Connection], Run]:
        """The checks of `save_run`, and its transaction function (which returns `run` itself
        without `read_back`)."""
        check_scope(scope)
        check_type(run, Run, "run")
        check_id(run.id, "run.id")
        check_optional(run.session_id, "run.session_id")
        check_optional(run.agent_id, "run.agent_id")
        check_optional(run.parent_run_id, "run.parent_run_id")
        user_id = stamp(scope, run.user_id, "run")
        expected = None
        if expected_status is not None:
            expected = _run_status(expected_status, "expected_status")
        _, values = self._values(records.RUN, run, "run")
        values.update(tenant_id=scope.tenant_id, user_id=user_id, updated_at=utc_now())
        if expected is None:
            statement = statements.upsert_run(self.backend, user_scoped=scope.user_id is not None)
            params: dict[str, Any] | None = {**values, **scope_params(scope)}
        else:
            statement, params = _swap_run(scope, run.id, values, expected), None
        run_key = {**scope_params(scope), statements.KEY: run.id}

        def save(c: Connection) -> Run:
            previous_user: Any = None
            if scope.user_id is None:
                previous_user = c.execute(statements.run_user(), run_key).first()
            if read_back:
                saved = fetch_one(c, statement, records.RUN, params)
            else:
                saved = run if c.execute(statement, params).first() is not None else None
            if saved is None:
                if expected is None:
                    raise ConflictError(f"Run id {run.id!r} is taken outside this scope")
                raise _run_conflict(c, scope, run.id, expected)
            if previous_user is not None and previous_user.user_id != user_id:
                # A tenant-wide save moved the run to another user: its log follows it.
                e = t.EVENTS
                c.execute(
                    update(e)
                    .where(e.c.tenant_id == scope.tenant_id, e.c.run_id == run.id)
                    .values(user_id=user_id)
                )
            return saved

        return save

    async def get_run(self, scope: Scope, run_id: str) -> Run | None:
        """See `Store.get_run`."""
        check_scope(scope)
        check_id(run_id, "run_id")
        return await self._get("get_run", scope, records.RUN, run_id)

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
        check_scope(scope)
        check_optional(session_id, "session_id")
        check_optional(parent_run_id, "parent_run_id")
        check_optional(agent_id, "agent_id")
        check_type(top_level, bool, "top_level")
        if order not in ("asc", "desc"):
            raise InvalidInputError(f"order must be 'asc' or 'desc', got {order!r}")
        r = t.RUNS
        query = select(r).where(visible(r, scope))
        if session_id is not None:
            query = query.where(r.c.session_id == session_id, same_user(r, scope.user_id))
        if parent_run_id is not None:
            query = query.where(r.c.parent_run_id == parent_run_id)
        if agent_id is not None:
            query = query.where(r.c.agent_id == agent_id)
        if top_level:
            query = query.where(r.c.parent_run_id.is_(None))
        if status is not None:
            query = query.where(r.c.status == _run_status(status))
        return await self._page(
            "list_runs",
            "runs" if order == "asc" else "runs.desc",
            records.RUN,
            query,
            [r.c.created_at, r.c.id],
            lambda x: (micros(x.created_at), x.id),
            descending=order == "desc",
            limit=limit,
            cursor=cursor,
        )

    async def request_cancel(self, scope: Scope, run_id: str) -> bool:
        """See `Store.request_cancel`."""
        check_scope(scope)
        check_id(run_id, "run_id")
        r = t.RUNS
        flag = (
            update(r)
            .where(visible(r, scope), r.c.id == run_id, r.c.status.in_(_LIVE))
            .values(cancel_requested=True, updated_at=utc_now())
            .returning(r.c.id)
        )

        def request(c: Connection) -> bool:
            if c.execute(flag).first() is not None:
                return True
            found = c.execute(select(r.c.id).where(visible(r, scope), r.c.id == run_id))
            if found.first() is None:
                raise NotFoundError(f"No run {run_id!r} in this scope")
            return False

        return await self._write("request_cancel", request)

    async def heartbeat(self, scope: Scope, run_id: str) -> bool:
        """See `Store.heartbeat`."""
        check_scope(scope)
        check_id(run_id, "run_id")
        # One statement: the beat (never moved backwards) and the cancel flag in one round trip.
        beat = statements.heartbeat(user_scoped=scope.user_id is not None)
        params = {**scope_params(scope), statements.KEY: run_id, statements.NOW: utc_now()}
        row = await self._write("heartbeat", lambda c: c.execute(beat, params).first())
        if row is None:
            raise NotFoundError(f"No run {run_id!r} in this scope")
        return bool(row.cancel_requested)

    async def mark_stale_runs_interrupted(
        self,
        scope: Scope,
        *,
        older_than: timedelta,
        run_id: str | None = None,
        error: ErrorInfo | None = None,
    ) -> list[str]:
        """See `Store.mark_stale_runs_interrupted`."""
        check_scope(scope)
        check_type(older_than, timedelta, "older_than")
        check_optional(run_id, "run_id")
        if error is not None:
            check_type(error, ErrorInfo, "error")
        r = t.RUNS
        now = utc_now()
        changes: dict[str, Any] = {"status": RunStatus.INTERRUPTED.value, "updated_at": now}
        if error is not None:
            changes["error"] = records.dump_json(error.model_dump(mode="json"))
        # One UPDATE ... WHERE status = 'running' AND stale: the database serialises concurrent
        # markers on the row, so only one of them sees it still running and gets it back.
        mark = (
            update(r)
            .where(
                visible(r, scope),
                r.c.status == _RUNNING,
                func.coalesce(r.c.heartbeat_at, r.c.updated_at) < ts_literal(now - older_than),
                true() if run_id is None else r.c.id == run_id,
            )
            .values(**changes)
            .returning(r.c.id, r.c.created_at)
        )
        rows = await self._write("mark_stale_runs_interrupted", lambda c: c.execute(mark).all())
        return [row.id for row in sorted(rows, key=lambda x: (micros(x.created_at), x.id))]

    # --- run events ------------------------------------------------------------------------------

    async def append_events(self, scope: Scope, run_id: str, events: Sequence[BaseEvent]) -> None:
        """See `Store.append_events`."""
        await self._write("append_events", self._append_events(scope, run_id, events))

    def _append_events(
        self,
        scope: Scope,
        run_id: str,
        events: Sequence[BaseEvent],
        *,
        owner: str | object | None = _LOOK_UP,
    ) -> Callable[[Connection], None]:
        """The checks of `append_events`, and its transaction function; `owner` is the run's
        user when the caller has just saved the run (otherwise it is looked up)."""
        check_scope(scope)
        check_id(run_id, "run_id")
        check_sequence(events, "events")
        rows: list[dict[str, Any]] = []
        seen: set[int] = set()
        known = run_event_classes()
        for event in events:
            check_type(event, BaseEvent, "event")
            seq = event.seq
            if type(seq) is not int or seq < 1:
                raise InvalidInputError(f"event seq must be an integer of 1 or more, got {seq!r}")
            if seq in seen:
                raise ConflictError(f"seq {seq} appears twice in one batch for run {run_id!r}")
            seen.add(seq)
            data = records.encoded(event, f"event {seq} of run {run_id!r}", self._max_json_bytes)
            loaded = event
            if type(event) not in known:
                # Not built as a run event: keep it only if it reads back as one.
                try:
                    loaded = load_event(data)
                except ValidationError as e:
                    raise InvalidInputError(
                        f"event {type(event).__name__} (type {event.type!r}) is not a run event "
                        f"that load_event can read back: {e.errors(include_url=False)[:1]}"
                    ) from e
            rows.append({"seq": seq, "type": loaded.type, "time": loaded.time, "data": data})
        e = t.EVENTS
        owner_query = statements.run_owner(user_scoped=scope.user_id is not None)
        owner_params = {**scope_params(scope), statements.KEY: run_id}

        def append(c: Connection) -> None:
            user_id = owner
            if user_id is _LOOK_UP:
                found = c.execute(owner_query, owner_params).first()
                if found is None:
                    raise NotFoundError(f"No run {run_id!r} in this scope; save the run first")
                user_id = found.user_id
            if not rows:
                return
            common = {"tenant_id": scope.tenant_id, "run_id": run_id, "user_id": user_id}
            try:
                c.execute(e.insert(), [{**common, **row} for row in rows])
            except sa_exc.IntegrityError as error:
                mapped = translate_error(error, action="append_events", where=self.url)
                if isinstance(mapped, ConflictError):
                    raise ConflictError(
                        f"run {run_id!r} already has an event with one of seq {sorted(seen)}; "
                        "nothing was written"
                    ) from error
                raise mapped from error  # e.g. the run was deleted meanwhile: NotFoundError

        return append

    async def list_events(
        self, scope: Scope, run_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[BaseEvent]:
        """See `Store.list_events`."""
        check_scope(scope)
        check_id(run_id, "run_id")
        if type(after_seq) is not int:
            raise InvalidInputError(f"after_seq must be an integer, got {after_seq!r}")
        if limit is not None:
            check_limit(limit)
        r, e = t.RUNS, t.EVENTS
        run_visible = exists().where(visible(r, scope), r.c.id == run_id)
        query = (
            select(e.c.data)
            .where(
                e.c.tenant_id == scope.tenant_id,
                e.c.run_id == run_id,
                e.c.seq > after_seq,
                run_visible,
            )
            .order_by(e.c.seq)
        )
        if limit is not None:
            query = query.limit(limit)
        # A follower polls a few new events at a time (inline); a whole log goes to a thread.
        small = limit is not None and limit <= _INLINE_EVENTS
        data = await self._read(
            "list_events", lambda c: c.execute(query).scalars().all(), inline=small
        )
        return [load_event(d) for d in data]


def _swap_run(scope: Scope, run_id: str, values: dict[str, Any], expected: str) -> Any:
    """`UPDATE ... WHERE status = :expected`: the status check and the write in one statement.

    Under concurrent writers the database serialises the updates of the row, and each one sees
    the status the previous one left, so of many callers expecting one status exactly one wins.
    """
    r = t.RUNS
    changes = {k: v for k, v in values.items() if k not in FIXED_COLUMNS}
    if not changes["cancel_requested"]:
        del changes["cancel_requested"]  # sticky: a save never clears a requested cancel
    beat = changes.pop("heartbeat_at")
    if beat is not None:
        at = ts_literal(beat)
        changes["heartbeat_at"] = case(
            (or_(r.c.heartbeat_at.is_(None), r.c.heartbeat_at < at), at),
            else_=r.c.heartbeat_at,
        )
    return (
        update(r)
        .where(writable(r, scope), r.c.id == run_id, r.c.status == expected)
        .values(**changes)
        .returning(*r.c)
    )


def _run_conflict(c: Connection, scope: Scope, run_id: str, expected: str) -> ConflictError:
    r = t.RUNS
    row = c.execute(
        select(r.c.status, r.c.user_id).where(r.c.tenant_id == scope.tenant_id, r.c.id == run_id)
    ).first()
    if row is not None and scope.user_id is not None and row.user_id != scope.user_id:
        return ConflictError(f"Run id {run_id!r} is taken outside this scope")
    now = "does not exist" if row is None else f"is {row.status}"
    return ConflictError(
        f"Run {run_id!r} {now}, not {expected}: another caller changed it since you read it (a "
        "concurrent resume or cancel, say). Reload the run and decide again."
    )


def _run_status(status: Any, what: str = "status") -> str:
    try:
        return RunStatus(status).value
    except ValueError as e:
        raise InvalidInputError(
            f"{what} must be one of {[s.value for s in RunStatus]}, got {status!r}"
        ) from e
