"""`SqlStore`: the `covey.spec.store.Store` on SQLite or PostgreSQL, one code path for both."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    Table,
    case,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from covey.db.sql import records
from covey.db.sql import tables as t
from covey.db.sql.columns import UTCDateTime
from covey.db.sql.engine import EngineOptions, create_engine, writer
from covey.db.sql.errors import translate_error
from covey.db.sql.migrations import (
    LATEST_VERSION,
    current_version,
    migrate,
    newer_schema_error,
    unmigrated_schema_error,
)
from covey.db.sql.pages import after, decode_cursor, encode_cursor, from_micros, micros
from covey.db.sql.records import Codec
from covey.db.sql.scoping import (
    check_optional,
    check_scope,
    check_sequence,
    check_type,
    stamp,
    visible,
    writable,
)
from covey.db.sql.urls import Backend, DatabaseURL, parse_url
from covey.spec.errors import (
    ConfigurationError,
    ConflictError,
    CoveyError,
    InvalidInputError,
    NotFoundError,
)
from covey.spec.events import BaseEvent, load_event
from covey.spec.runs import RunStatus
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

__all__ = ["DEFAULT_MAX_JSON_BYTES", "SqlStore"]

DEFAULT_MAX_JSON_BYTES = 16 * 2**20
"""The default largest JSON payload of one row (16 MiB)."""

R = TypeVar("R", bound=BaseModel)

_RUNNING = RunStatus.RUNNING.value
_LIVE = (RunStatus.RUNNING.value, RunStatus.PAUSED.value)


@dataclass(slots=True)
class _Bound:
    """The engine (and locks) of one event loop; a store rebinds when used from a new loop."""

    loop: asyncio.AbstractEventLoop
    engine: AsyncEngine
    writer: AsyncEngine
    write_lock: asyncio.Lock | None
    """SQLite only: writes of this process queue here instead of spinning on the file lock."""
    ready_lock: asyncio.Lock


def _ts(value: datetime) -> ColumnElement[datetime]:
    return literal(value, UTCDateTime())


def _positive(name: str, value: object, *, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigurationError(f"{name} must be {'0 or more' if allow_zero else 'positive'}")


class SqlStore(Store):
    """A `Store` in SQLite (default) or PostgreSQL.

    Constructing it does no I/O. The first call connects, and (with `auto_migrate`) creates or
    upgrades the schema under a database-wide lock. Use it as an async context manager, or
    call `close`. One store serves many concurrent tasks; it belongs to one event loop at a
    time, and reconnects when used from a new one (successive `run_sync` calls, for example).

    Args:
        url: `sqlite:///path/to/covey.db` or `postgresql://user:password@host:5432/db`
            (see `covey.db.sql.urls`).
        pool_size: Connections kept open.
        max_overflow: Extra connections allowed under load.
        pool_timeout: Seconds to wait for a free connection.
        pool_recycle: Seconds after which a PostgreSQL connection is replaced.
        pool_pre_ping: Check PostgreSQL connections before use (survives server restarts).
        connect_timeout: Seconds to wait when opening a PostgreSQL connection.
        statement_timeout: Seconds a PostgreSQL statement may run (`None`: server default).
        busy_timeout: Seconds SQLite waits for another process's write lock.
        max_json_bytes: The largest JSON payload one row may hold; larger writes raise
            `InvalidInputError`.
        auto_migrate: Create or upgrade the schema on first use. With `False`, a database not
            at the latest version raises `SchemaVersionError` until `migrate` is run.
        echo: Log every statement through the `sqlalchemy.engine` logger.

    Raises:
        ConfigurationError: the URL or an option is invalid.

    Example:
        ```python
        async with SqlStore("sqlite:///covey.db") as store:
            session = await store.save_session(Scope(), Session(), expected_version=0)
        ```
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 5,
        max_overflow: int = 10,
        pool_timeout: float = 30.0,
        pool_recycle: float = 1800.0,
        pool_pre_ping: bool = True,
        connect_timeout: float = 10.0,
        statement_timeout: float | None = 60.0,
        busy_timeout: float = 30.0,
        max_json_bytes: int = DEFAULT_MAX_JSON_BYTES,
        auto_migrate: bool = True,
        echo: bool = False,
    ) -> None:
        self._url: DatabaseURL = parse_url(url)
        for name, value in (("pool_size", pool_size), ("max_json_bytes", max_json_bytes)):
            if type(value) is not int or value < 1:
                raise ConfigurationError(f"{name} must be a positive integer, got {value!r}")
        if type(max_overflow) is not int or max_overflow < 0:
            raise ConfigurationError(f"max_overflow must be 0 or more, got {max_overflow!r}")
        _positive("pool_timeout", pool_timeout)
        _positive("pool_recycle", pool_recycle)
        _positive("connect_timeout", connect_timeout)
        _positive("busy_timeout", busy_timeout, allow_zero=True)
        if statement_timeout is not None:
            _positive("statement_timeout", statement_timeout)
        self._options = EngineOptions(
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_recycle=pool_recycle,
            pool_pre_ping=pool_pre_ping,
            connect_timeout=connect_timeout,
            statement_timeout=statement_timeout,
            busy_timeout=busy_timeout,
            echo=echo,
        )
        self._max_json_bytes = max_json_bytes
        self._auto_migrate = auto_migrate
        self._bound: _Bound | None = None
        self._schema_ready = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._url.masked!r})"

    @property
    def url(self) -> str:
        """The database URL, password masked."""
        return self._url.masked

    @property
    def backend(self) -> Backend:
        """`"sqlite"` or `"postgresql"`."""
        return self._url.backend

    @property
    def max_json_bytes(self) -> int:
        """The largest JSON payload one row may hold."""
        return self._max_json_bytes

    # --- lifecycle -------------------------------------------------------------------------------

    async def close(self) -> None:
        """Close every pooled connection. Safe to call twice; a later call reconnects."""
        bound, self._bound = self._bound, None
        if bound is not None:
            await self._dispose(bound)

    async def _dispose(self, bound: _Bound) -> None:
        try:
            same_loop = bound.loop is asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - close() always runs in a loop
            same_loop = False
        if same_loop or (self.backend == "sqlite" and bound.loop.is_closed()):
            # aiosqlite connections can be closed from any loop; asyncpg ones only from theirs.
            await bound.engine.dispose()
        else:
            await bound.engine.dispose(close=False)

    async def _bind(self) -> _Bound:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError as e:
            raise ConfigurationError(
                "SqlStore runs on asyncio (SQLAlchemy's async engine); call it from an asyncio "
                "event loop (anyio's asyncio backend works, trio does not)"
            ) from e
        bound = self._bound
        if bound is not None and bound.loop is loop:
            return bound
        path = self._url.sqlite_path
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(self._url, self._options)
        self._bound = _Bound(
            loop=loop,
            engine=engine,
            writer=writer(engine),
            write_lock=asyncio.Lock() if self.backend == "sqlite" else None,
            ready_lock=asyncio.Lock(),
        )
        if bound is not None:
            await self._dispose(bound)
        return self._bound

    async def _ready(self) -> _Bound:
        bound = await self._bind()
        if self._schema_ready:
            return bound
        async with bound.ready_lock:
            if not self._schema_ready:
                async with self._translated("connect"):
                    if self._auto_migrate:
                        await migrate(bound.writer, where=self.url)
                    else:
                        found = await current_version(bound.engine)
                        if found > LATEST_VERSION:
                            raise newer_schema_error(found, self.url)
                        if found < LATEST_VERSION:
                            raise unmigrated_schema_error(found, self.url)
                self._schema_ready = True
        return bound

    async def migrate(self, *, target: int | None = None) -> list[int]:
        """Create or upgrade the schema (what `covey migrate` runs).

        Safe to run from many processes at once: steps are applied under a database-wide lock,
        each exactly once.

        Args:
            target: The schema version to reach (default: the latest). Never downgrades.

        Returns:
            The versions this call applied (empty when the schema was already there).

        Raises:
            SchemaVersionError: the database is newer than this code.
        """
        bound = await self._bind()
        async with bound.ready_lock, self._translated("migrate"):
            applied = await migrate(bound.writer, where=self.url, target=target)
            if target is None or target >= LATEST_VERSION:
                self._schema_ready = True
            return applied

    async def schema_version(self) -> int:
        """The database's schema version (0 before the first migration)."""
        bound = await self._bind()
        async with self._translated("schema_version"):
            return await current_version(bound.engine)

    @asynccontextmanager
    async def _translated(self, action: str) -> AsyncGenerator[None]:
        try:
            yield
        except CoveyError:
            raise
        except (TimeoutError, sa_exc.SQLAlchemyError, sqlite3.Error, OSError) as e:
            password = self._url.sqlalchemy_url.password
            raise translate_error(
                e, action=action, where=self.url, password=str(password) if password else None
            ) from e

    @asynccontextmanager
    async def _read(self, action: str) -> AsyncGenerator[AsyncConnection]:
        bound = await self._ready()
        # An in-memory database is one shared connection: its reads queue behind writes too.
        lock = bound.write_lock if self._url.in_memory and bound.write_lock else nullcontext()
        async with self._translated(action), lock, bound.engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def _write(self, action: str) -> AsyncGenerator[AsyncConnection]:
        bound = await self._ready()
        lock = bound.write_lock if bound.write_lock is not None else nullcontext()
        async with self._translated(action), lock, bound.writer.begin() as connection:
            yield connection

    def _insert(self, table: Table) -> Any:
        if self.backend == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def _values(self, codec: Codec[R], record: R, what: str) -> tuple[R, dict[str, Any]]:
        return codec.to_values(record, what, self._max_json_bytes)

    @staticmethod
    async def _one(connection: AsyncConnection, statement: Any, codec: Codec[R]) -> R | None:
        row = (await connection.execute(statement)).mappings().first()
        return None if row is None else codec.from_row(row)

    async def _page(
        self,
        action: str,
        listing: str,
        codec: Codec[R],
        query: Select[Any],
        order: Sequence[ColumnElement[Any]],
        key: Callable[[R], tuple[str | int, ...]],
        *,
        descending: bool,
        limit: int,
        cursor: str | None,
    ) -> Page[R]:
        check_limit(limit)
        if cursor is not None:
            shape = [int if _is_time(c) else str for c in order]
            found = decode_cursor(listing, cursor, shape)
            values = [from_micros(v) if isinstance(v, int) else v for v in found]
            query = query.where(after(order, values, descending=descending))
        ordering = [c.desc() if descending else c.asc() for c in order]
        async with self._read(action) as connection:
            rows = (
                (await connection.execute(query.order_by(*ordering).limit(limit + 1)))
                .mappings()
                .all()
            )
        items = [codec.from_row(r) for r in rows[:limit]]
        next_cursor = encode_cursor(listing, key(items[-1])) if len(rows) > limit else None
        return Page[R](items=items, next_cursor=next_cursor)

    # --- sessions --------------------------------------------------------------------------------

    async def get_session(self, scope: Scope, session_id: str) -> Session | None:
        """See `Store.get_session`."""
        check_scope(scope)
        check_id(session_id, "session_id")
        s = t.SESSIONS
        async with self._read("get_session") as c:
            query = select(s).where(visible(s, scope), s.c.id == session_id)
            return await self._one(c, query, records.SESSION)

    async def list_sessions(
        self,
        scope: Scope,
        *,
        agent_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Session]:
        """See `Store.list_sessions`."""
        check_scope(scope)
        check_optional(agent_id, "agent_id")
        s = t.SESSIONS
        query = select(s).where(visible(s, scope))
        if agent_id is not None:
            query = query.where(s.c.agent_id == agent_id)
        return await self._page(
            "list_sessions",
            "sessions",
            records.SESSION,
            query,
            [s.c.updated_at, s.c.id],
            lambda r: (micros(r.updated_at), r.id),
            descending=True,
            limit=limit,
            cursor=cursor,
        )

    async def save_session(
        self, scope: Scope, session: Session, *, expected_version: int | None
    ) -> Session:
        """See `Store.save_session`."""
        check_scope(scope)
        check_type(session, Session, "session")
        check_id(session.id, "session.id")
        check_optional(session.agent_id, "session.agent_id")
        user_id = stamp(scope, session.user_id, "session")
        if expected_version is not None and (
            type(expected_version) is not int or expected_version < 0
        ):
            raise InvalidInputError(
                f"expected_version must be None or an integer of 0 or more, got "
                f"{expected_version!r}"
            )
        _, values = self._values(records.SESSION, session, "session")
        del values["version"]  # the store counts versions; the caller's value is ignored
        values.update(tenant_id=scope.tenant_id, user_id=user_id, updated_at=utc_now())
        s = t.SESSIONS
        returning = list(s.c)
        async with self._write("save_session") as c:
            if expected_version == 0:
                statement = (
                    self._insert(s)
                    .values(version=1, **values)
                    .on_conflict_do_nothing(index_elements=[s.c.tenant_id, s.c.id])
                    .returning(*returning)
                )
            elif expected_version is None:
                insert = self._insert(s).values(version=1, **values)
                changes = _replace(s, insert, keep=("created_at",))
                changes["version"] = s.c.version + 1
                statement = insert.on_conflict_do_update(
                    index_elements=[s.c.tenant_id, s.c.id],
                    set_=changes,
                    where=writable(s, scope),
                ).returning(*returning)
            else:
                changes = {k: v for k, v in values.items() if k not in _FIXED}
                statement = (
                    update(s)
                    .where(
                        writable(s, scope),
                        s.c.id == session.id,
                        s.c.version == expected_version,
                    )
                    .values(version=s.c.version + 1, **changes)
                    .returning(*returning)
                )
            saved = await self._one(c, statement, records.SESSION)
            if saved is None:
                raise await self._session_conflict(c, scope, session.id, expected_version)
            return saved

    async def _session_conflict(
        self, c: AsyncConnection, scope: Scope, session_id: str, expected: int | None
    ) -> ConflictError:
        s = t.SESSIONS
        row = (
            await c.execute(
                select(s.c.version, s.c.user_id).where(
                    s.c.tenant_id == scope.tenant_id, s.c.id == session_id
                )
            )
        ).first()
        if row is not None and scope.user_id is not None and row.user_id != scope.user_id:
            return ConflictError(f"Session id {session_id!r} is taken outside this scope")
        current = 0 if row is None else row.version
        return ConflictError(
            f"Session {session_id!r} is at version {current}, not {expected}: someone saved it "
            "since you read it. Reload it and apply your change again."
        )

    async def delete_session(self, scope: Scope, session_id: str) -> None:
        """See `Store.delete_session`."""
        check_scope(scope)
        check_id(session_id, "session_id")
        s, r = t.SESSIONS, t.RUNS
        async with self._write("delete_session") as c:
            gone = await c.execute(
                delete(s).where(visible(s, scope), s.c.id == session_id).returning(s.c.id)
            )
            if gone.first() is None:
                raise NotFoundError(f"No session {session_id!r} in this scope")
            runs = select(r.c.id).where(
                r.c.tenant_id == scope.tenant_id, r.c.session_id == session_id
            )
            for table, column in ((t.EVENTS, "run_id"), (t.APPROVALS, "run_id")):
                await c.execute(
                    delete(table).where(
                        table.c.tenant_id == scope.tenant_id, table.c[column].in_(runs)
                    )
                )
            await c.execute(
                delete(r).where(r.c.tenant_id == scope.tenant_id, r.c.session_id == session_id)
            )

    # --- runs ------------------------------------------------------------------------------------

    async def save_run(self, scope: Scope, run: Run) -> Run:
        """See `Store.save_run`."""
        check_scope(scope)
        check_type(run, Run, "run")
        check_id(run.id, "run.id")
        check_optional(run.session_id, "run.session_id")
        check_optional(run.agent_id, "run.agent_id")
        check_optional(run.parent_run_id, "run.parent_run_id")
        user_id = stamp(scope, run.user_id, "run")
        _, values = self._values(records.RUN, run, "run")
        values.update(tenant_id=scope.tenant_id, user_id=user_id, updated_at=utc_now())
        r = t.RUNS
        insert = self._insert(r).values(**values)
        new = insert.excluded
        changes = _replace(r, insert, keep=("created_at",))
        changes["cancel_requested"] = or_(new.cancel_requested, r.c.cancel_requested)
        changes["heartbeat_at"] = case(
            (r.c.heartbeat_at.is_(None), new.heartbeat_at),
            (new.heartbeat_at.is_(None), r.c.heartbeat_at),
            (new.heartbeat_at > r.c.heartbeat_at, new.heartbeat_at),
            else_=r.c.heartbeat_at,
        )
        statement = insert.on_conflict_do_update(
            index_elements=[r.c.tenant_id, r.c.id], set_=changes, where=writable(r, scope)
        ).returning(*r.c)
        async with self._write("save_run") as c:
            previous_user: Any = None
            if scope.user_id is None:
                previous_user = (
                    await c.execute(
                        select(r.c.user_id).where(
                            r.c.tenant_id == scope.tenant_id, r.c.id == run.id
                        )
                    )
                ).first()
            saved = await self._one(c, statement, records.RUN)
            if saved is None:
                raise ConflictError(f"Run id {run.id!r} is taken outside this scope")
            if previous_user is not None and previous_user.user_id != user_id:
                # A tenant-wide save moved the run to another user: its log follows it.
                e = t.EVENTS
                await c.execute(
                    update(e)
                    .where(e.c.tenant_id == scope.tenant_id, e.c.run_id == run.id)
                    .values(user_id=user_id)
                )
            return saved

    async def get_run(self, scope: Scope, run_id: str) -> Run | None:
        """See `Store.get_run`."""
        check_scope(scope)
        check_id(run_id, "run_id")
        r = t.RUNS
        async with self._read("get_run") as c:
            return await self._one(
                c, select(r).where(visible(r, scope), r.c.id == run_id), records.RUN
            )

    async def list_runs(
        self,
        scope: Scope,
        *,
        session_id: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Run]:
        """See `Store.list_runs`."""
        check_scope(scope)
        check_optional(session_id, "session_id")
        r = t.RUNS
        query = select(r).where(visible(r, scope))
        if session_id is not None:
            query = query.where(r.c.session_id == session_id)
        if status is not None:
            query = query.where(r.c.status == _run_status(status))
        return await self._page(
            "list_runs",
            "runs",
            records.RUN,
            query,
            [r.c.created_at, r.c.id],
            lambda x: (micros(x.created_at), x.id),
            descending=False,
            limit=limit,
            cursor=cursor,
        )

    async def request_cancel(self, scope: Scope, run_id: str) -> bool:
        """See `Store.request_cancel`."""
        check_scope(scope)
        check_id(run_id, "run_id")
        r = t.RUNS
        async with self._write("request_cancel") as c:
            flagged = await c.execute(
                update(r)
                .where(visible(r, scope), r.c.id == run_id, r.c.status.in_(_LIVE))
                .values(cancel_requested=True, updated_at=utc_now())
                .returning(r.c.id)
            )
            if flagged.first() is not None:
                return True
            found = await c.execute(select(r.c.id).where(visible(r, scope), r.c.id == run_id))
            if found.first() is None:
                raise NotFoundError(f"No run {run_id!r} in this scope")
            return False

    async def heartbeat(self, scope: Scope, run_id: str) -> bool:
        """See `Store.heartbeat`."""
        check_scope(scope)
        check_id(run_id, "run_id")
        r = t.RUNS
        now = _ts(utc_now())
        async with self._write("heartbeat") as c:
            row = (
                await c.execute(
                    update(r)
                    .where(visible(r, scope), r.c.id == run_id)
                    .values(
                        heartbeat_at=case(
                            (or_(r.c.heartbeat_at.is_(None), r.c.heartbeat_at < now), now),
                            else_=r.c.heartbeat_at,
                        )
                    )
                    .returning(r.c.cancel_requested)
                )
            ).first()
            if row is None:
                raise NotFoundError(f"No run {run_id!r} in this scope")
            return bool(row.cancel_requested)

    async def mark_stale_runs_interrupted(
        self, scope: Scope, *, older_than: timedelta
    ) -> list[str]:
        """See `Store.mark_stale_runs_interrupted`."""
        check_scope(scope)
        check_type(older_than, timedelta, "older_than")
        r = t.RUNS
        now = utc_now()
        async with self._write("mark_stale_runs_interrupted") as c:
            rows = (
                await c.execute(
                    update(r)
                    .where(
                        visible(r, scope),
                        r.c.status == _RUNNING,
                        func.coalesce(r.c.heartbeat_at, r.c.updated_at) < _ts(now - older_than),
                    )
                    .values(status=RunStatus.INTERRUPTED.value, updated_at=now)
                    .returning(r.c.id, r.c.created_at)
                )
            ).all()
        return [row.id for row in sorted(rows, key=lambda x: (micros(x.created_at), x.id))]

    # --- run events ------------------------------------------------------------------------------

    async def append_events(self, scope: Scope, run_id: str, events: Sequence[BaseEvent]) -> None:
        """See `Store.append_events`."""
        check_scope(scope)
        check_id(run_id, "run_id")
        check_sequence(events, "events")
        rows: list[dict[str, Any]] = []
        seen: set[int] = set()
        for event in events:
            check_type(event, BaseEvent, "event")
            seq = event.seq
            if type(seq) is not int or seq < 1:
                raise InvalidInputError(f"event seq must be an integer of 1 or more, got {seq!r}")
            if seq in seen:
                raise ConflictError(f"seq {seq} appears twice in one batch for run {run_id!r}")
            seen.add(seq)
            data = records.encoded(event, f"event {seq} of run {run_id!r}", self._max_json_bytes)
            try:
                loaded = load_event(data)
            except ValidationError as e:
                raise InvalidInputError(
                    f"event {type(event).__name__} (type {event.type!r}) is not a run event that "
                    f"load_event can read back: {e.errors(include_url=False)[:1]}"
                ) from e
            rows.append({"seq": seq, "type": loaded.type, "time": loaded.time, "data": data})
        r, e = t.RUNS, t.EVENTS
        async with self._write("append_events") as c:
            owner = (
                await c.execute(select(r.c.user_id).where(visible(r, scope), r.c.id == run_id))
            ).first()
            if owner is None:
                raise NotFoundError(f"No run {run_id!r} in this scope; save the run first")
            if not rows:
                return
            common = {"tenant_id": scope.tenant_id, "run_id": run_id, "user_id": owner.user_id}
            try:
                await c.execute(e.insert(), [{**common, **row} for row in rows])
            except sa_exc.IntegrityError as error:
                mapped = translate_error(error, action="append_events", where=self.url)
                if isinstance(mapped, ConflictError):
                    raise ConflictError(
                        f"run {run_id!r} already has an event with one of seq {sorted(seen)}; "
                        "nothing was written"
                    ) from error
                raise mapped from error  # e.g. the run was deleted meanwhile: NotFoundError

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
        async with self._read("list_events") as c:
            data = (await c.execute(query)).scalars().all()
        return [load_event(d) for d in data]

    # --- memories --------------------------------------------------------------------------------

    async def add_memory(self, scope: Scope, memory: Memory) -> Memory:
        """See `Store.add_memory`."""
        check_scope(scope)
        check_type(memory, Memory, "memory")
        check_id(memory.id, "memory.id")
        check_id(memory.user_id, "memory.user_id")
        stamp(scope, memory.user_id, "memory")
        copy, values = self._values(records.MEMORY, memory, "memory")
        values.update(tenant_id=scope.tenant_id, updated_at=utc_now())
        m = t.MEMORIES
        async with self._write("add_memory") as c:
            saved = await self._one(
                c,
                self._insert(m)
                .values(**values)
                .on_conflict_do_nothing(index_elements=[m.c.tenant_id, m.c.id])
                .returning(*m.c),
                records.MEMORY,
            )
            if saved is None:
                raise ConflictError(f"A memory with id {memory.id!r} already exists")
            await self._save_topics(c, scope, copy)
            return saved

    async def _save_topics(self, c: AsyncConnection, scope: Scope, memory: Memory) -> None:
        mt = t.MEMORY_TOPICS
        await c.execute(
            delete(mt).where(mt.c.tenant_id == scope.tenant_id, mt.c.memory_id == memory.id)
        )
        topics = list(dict.fromkeys(memory.topics))
        if topics:
            await c.execute(
                mt.insert(),
                [
                    {
                        "tenant_id": scope.tenant_id,
                        "memory_id": memory.id,
                        "topic": topic,
                        "user_id": memory.user_id,
                    }
                    for topic in topics
                ],
            )

    async def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        """See `Store.get_memory`."""
        check_scope(scope)
        check_id(memory_id, "memory_id")
        m = t.MEMORIES
        async with self._read("get_memory") as c:
            return await self._one(
                c, select(m).where(visible(m, scope), m.c.id == memory_id), records.MEMORY
            )

    async def list_memories(
        self,
        scope: Scope,
        *,
        topic: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Memory]:
        """See `Store.list_memories`."""
        check_scope(scope)
        if topic is not None:
            check_type(topic, str, "topic")
        m, mt = t.MEMORIES, t.MEMORY_TOPICS
        query = select(m).where(visible(m, scope))
        if topic is not None:
            query = query.where(
                exists().where(
                    mt.c.tenant_id == m.c.tenant_id,
                    mt.c.memory_id == m.c.id,
                    mt.c.topic == topic,
                )
            )
        return await self._page(
            "list_memories",
            "memories",
            records.MEMORY,
            query,
            [m.c.updated_at, m.c.id],
            lambda x: (micros(x.updated_at), x.id),
            descending=True,
            limit=limit,
            cursor=cursor,
        )

    async def update_memory(self, scope: Scope, memory: Memory) -> Memory:
        """See `Store.update_memory`."""
        check_scope(scope)
        check_type(memory, Memory, "memory")
        check_id(memory.id, "memory.id")
        check_id(memory.user_id, "memory.user_id")
        copy, values = self._values(records.MEMORY, memory, "memory")
        m = t.MEMORIES
        async with self._write("update_memory") as c:
            existing = (
                await c.execute(
                    select(m.c.user_id)
                    .where(visible(m, scope), m.c.id == memory.id)
                    .with_for_update()
                )
            ).first()
            if existing is None:
                raise NotFoundError(f"No memory {memory.id!r} in this scope")
            if memory.user_id != existing.user_id:
                raise InvalidInputError(
                    f"memory {memory.id!r} belongs to user {existing.user_id!r}; it cannot be "
                    f"moved to {memory.user_id!r}"
                )
            changes = {k: v for k, v in values.items() if k not in _FIXED}
            changes["updated_at"] = utc_now()
            saved = await self._one(
                c,
                update(m)
                .where(m.c.tenant_id == scope.tenant_id, m.c.id == memory.id)
                .values(**changes)
                .returning(*m.c),
                records.MEMORY,
            )
            assert saved is not None  # the row is locked (PostgreSQL) or the database is (SQLite)
            await self._save_topics(c, scope, copy)
            return saved

    async def delete_memory(self, scope: Scope, memory_id: str) -> None:
        """See `Store.delete_memory`."""
        check_scope(scope)
        check_id(memory_id, "memory_id")
        m, mt = t.MEMORIES, t.MEMORY_TOPICS
        async with self._write("delete_memory") as c:
            gone = await c.execute(
                delete(m).where(visible(m, scope), m.c.id == memory_id).returning(m.c.id)
            )
            if gone.first() is None:
                raise NotFoundError(f"No memory {memory_id!r} in this scope")
            await c.execute(
                delete(mt).where(mt.c.tenant_id == scope.tenant_id, mt.c.memory_id == memory_id)
            )

    # --- user profiles ---------------------------------------------------------------------------

    async def get_user_profile(self, scope: Scope, user_id: str) -> UserProfile | None:
        """See `Store.get_user_profile`."""
        check_scope(scope)
        check_id(user_id, "user_id")
        p = t.PROFILES
        async with self._read("get_user_profile") as c:
            return await self._one(
                c, select(p).where(visible(p, scope), p.c.user_id == user_id), records.PROFILE
            )

    async def save_user_profile(self, scope: Scope, profile: UserProfile) -> UserProfile:
        """See `Store.save_user_profile`."""
        check_scope(scope)
        check_type(profile, UserProfile, "profile")
        check_id(profile.user_id, "profile.user_id")
        stamp(scope, profile.user_id, "profile")
        _, values = self._values(records.PROFILE, profile, "profile")
        values.update(tenant_id=scope.tenant_id, updated_at=utc_now())
        p = t.PROFILES
        insert = self._insert(p).values(**values)
        statement = insert.on_conflict_do_update(
            index_elements=[p.c.tenant_id, p.c.user_id],
            set_=_replace(p, insert, keep=("user_id",)),
        ).returning(*p.c)
        async with self._write("save_user_profile") as c:
            saved = await self._one(c, statement, records.PROFILE)
            assert saved is not None
            return saved

    async def delete_user_profile(self, scope: Scope, user_id: str) -> None:
        """See `Store.delete_user_profile`."""
        check_scope(scope)
        check_id(user_id, "user_id")
        p = t.PROFILES
        async with self._write("delete_user_profile") as c:
            gone = await c.execute(
                delete(p).where(visible(p, scope), p.c.user_id == user_id).returning(p.c.user_id)
            )
            if gone.first() is None:
                raise NotFoundError(f"No profile for user {user_id!r} in this scope")

    # --- learnings -------------------------------------------------------------------------------

    async def add_learning(self, scope: Scope, learning: Learning) -> Learning:
        """See `Store.add_learning`."""
        check_scope(scope)
        check_type(learning, Learning, "learning")
        check_id(learning.id, "learning.id")
        check_id(learning.namespace, "learning.namespace")
        check_id(learning.kind, "learning.kind")
        user_id = stamp(scope, learning.user_id, "learning")
        _, values = self._values(records.LEARNING, learning, "learning")
        values.update(tenant_id=scope.tenant_id, user_id=user_id)
        lt = t.LEARNINGS
        async with self._write("add_learning") as c:
            saved = await self._one(
                c,
                self._insert(lt)
                .values(**values)
                .on_conflict_do_nothing(index_elements=[lt.c.tenant_id, lt.c.id])
                .returning(*lt.c),
                records.LEARNING,
            )
            if saved is None:
                raise ConflictError(f"A learning with id {learning.id!r} already exists")
            return saved

    async def get_learning(self, scope: Scope, learning_id: str) -> Learning | None:
        """See `Store.get_learning`."""
        check_scope(scope)
        check_id(learning_id, "learning_id")
        lt = t.LEARNINGS
        async with self._read("get_learning") as c:
            return await self._one(
                c,
                select(lt).where(visible(lt, scope, shared=True), lt.c.id == learning_id),
                records.LEARNING,
            )

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
        check_scope(scope)
        check_id(namespace, "namespace")
        check_optional(kind, "kind")
        lt = t.LEARNINGS
        query = select(lt).where(visible(lt, scope, shared=True), lt.c.namespace == namespace)
        if kind is not None:
            query = query.where(lt.c.kind == kind)
        return await self._page(
            "list_learnings",
            f"learnings:{namespace}",
            records.LEARNING,
            query,
            [lt.c.created_at, lt.c.id],
            lambda x: (micros(x.created_at), x.id),
            descending=True,
            limit=limit,
            cursor=cursor,
        )

    async def delete_learning(self, scope: Scope, learning_id: str) -> None:
        """See `Store.delete_learning`."""
        check_scope(scope)
        check_id(learning_id, "learning_id")
        lt = t.LEARNINGS
        async with self._write("delete_learning") as c:
            gone = await c.execute(
                delete(lt).where(writable(lt, scope), lt.c.id == learning_id).returning(lt.c.id)
            )
            if gone.first() is None:
                raise NotFoundError(f"No learning {learning_id!r} that this scope may delete")

    # --- knowledge contents ----------------------------------------------------------------------

    async def save_knowledge_content(
        self, scope: Scope, content: KnowledgeContent
    ) -> KnowledgeContent:
        """See `Store.save_knowledge_content`."""
        check_scope(scope)
        check_type(content, KnowledgeContent, "content")
        check_id(content.id, "content.id")
        user_id = stamp(scope, content.user_id, "content")
        _, values = self._values(records.KNOWLEDGE, content, "knowledge content")
        values.update(tenant_id=scope.tenant_id, user_id=user_id, updated_at=utc_now())
        k = t.KNOWLEDGE
        insert = self._insert(k).values(**values)
        statement = insert.on_conflict_do_update(
            index_elements=[k.c.tenant_id, k.c.id],
            set_=_replace(k, insert, keep=("created_at",)),
            where=writable(k, scope),
        ).returning(*k.c)
        async with self._write("save_knowledge_content") as c:
            saved = await self._one(c, statement, records.KNOWLEDGE)
            if saved is None:
                raise ConflictError(
                    f"Knowledge content id {content.id!r} is taken by a content this scope "
                    "may not write"
                )
            return saved

    async def get_knowledge_content(self, scope: Scope, content_id: str) -> KnowledgeContent | None:
        """See `Store.get_knowledge_content`."""
        check_scope(scope)
        check_id(content_id, "content_id")
        k = t.KNOWLEDGE
        async with self._read("get_knowledge_content") as c:
            return await self._one(
                c,
                select(k).where(visible(k, scope, shared=True), k.c.id == content_id),
                records.KNOWLEDGE,
            )

    async def list_knowledge_contents(
        self,
        scope: Scope,
        *,
        status: KnowledgeStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[KnowledgeContent]:
        """See `Store.list_knowledge_contents`."""
        check_scope(scope)
        k = t.KNOWLEDGE
        query = select(k).where(visible(k, scope, shared=True))
        if status is not None:
            query = query.where(k.c.status == _literal("status", status))
        return await self._page(
            "list_knowledge_contents",
            "knowledge",
            records.KNOWLEDGE,
            query,
            [k.c.updated_at, k.c.id],
            lambda x: (micros(x.updated_at), x.id),
            descending=True,
            limit=limit,
            cursor=cursor,
        )

    async def delete_knowledge_content(self, scope: Scope, content_id: str) -> None:
        """See `Store.delete_knowledge_content`."""
        check_scope(scope)
        check_id(content_id, "content_id")
        k = t.KNOWLEDGE
        async with self._write("delete_knowledge_content") as c:
            gone = await c.execute(
                delete(k).where(writable(k, scope), k.c.id == content_id).returning(k.c.id)
            )
            if gone.first() is None:
                raise NotFoundError(f"No knowledge content {content_id!r} this scope may delete")

    # --- approvals -------------------------------------------------------------------------------

    async def save_approval(self, scope: Scope, approval: Approval) -> Approval:
        """See `Store.save_approval`."""
        check_scope(scope)
        check_type(approval, Approval, "approval")
        check_id(approval.id, "approval.id")
        check_id(approval.run_id, "approval.run_id")
        check_id(approval.tool_call_id, "approval.tool_call_id")
        check_optional(approval.resolved_by, "approval.resolved_by")
        user_id = stamp(scope, approval.user_id, "approval")
        _, values = self._values(records.APPROVAL, approval, "approval")
        values.update(tenant_id=scope.tenant_id, user_id=user_id)
        a = t.APPROVALS
        insert = self._insert(a).values(**values)
        statement = insert.on_conflict_do_update(
            index_elements=[a.c.tenant_id, a.c.id],
            set_=_replace(a, insert, keep=("created_at",)),
            where=writable(a, scope),
        ).returning(*a.c)
        async with self._write("save_approval") as c:
            saved = await self._one(c, statement, records.APPROVAL)
            if saved is None:
                raise ConflictError(f"Approval id {approval.id!r} is taken outside this scope")
            return saved

    async def get_approval(self, scope: Scope, approval_id: str) -> Approval | None:
        """See `Store.get_approval`."""
        check_scope(scope)
        check_id(approval_id, "approval_id")
        a = t.APPROVALS
        async with self._read("get_approval") as c:
            return await self._one(
                c, select(a).where(visible(a, scope), a.c.id == approval_id), records.APPROVAL
            )

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
        check_scope(scope)
        check_optional(run_id, "run_id")
        a = t.APPROVALS
        query = select(a).where(visible(a, scope))
        if status is not None:
            query = query.where(a.c.status == _literal("status", status))
        if run_id is not None:
            query = query.where(a.c.run_id == run_id)
        return await self._page(
            "list_approvals",
            "approvals",
            records.APPROVAL,
            query,
            [a.c.created_at, a.c.id],
            lambda x: (micros(x.created_at), x.id),
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
        check_scope(scope)
        check_id(approval_id, "approval_id")
        check_optional(resolved_by, "resolved_by")
        if status not in ("approved", "rejected"):
            raise InvalidInputError(f"status must be 'approved' or 'rejected', got {status!r}")
        if note is not None:
            check_type(note, str, "note")
        a = t.APPROVALS
        async with self._write("resolve_approval") as c:
            resolved = await self._one(
                c,
                update(a)
                .where(visible(a, scope), a.c.id == approval_id, a.c.status == "pending")
                .values(status=status, resolved_at=utc_now(), resolved_by=resolved_by, note=note)
                .returning(*a.c),
                records.APPROVAL,
            )
            if resolved is not None:
                return resolved
            row = (
                await c.execute(
                    select(a.c.status, a.c.resolved_by).where(
                        visible(a, scope), a.c.id == approval_id
                    )
                )
            ).first()
            if row is None:
                raise NotFoundError(f"No approval {approval_id!r} in this scope")
            raise ConflictError(
                f"Approval {approval_id!r} was already {row.status} by {row.resolved_by!r}"
            )

    # --- schedules -------------------------------------------------------------------------------

    async def save_schedule(self, scope: Scope, schedule: Schedule) -> Schedule:
        """See `Store.save_schedule`."""
        check_scope(scope)
        check_type(schedule, Schedule, "schedule")
        check_id(schedule.id, "schedule.id")
        check_id(schedule.target_id, "schedule.target_id")
        user_id = stamp(scope, schedule.user_id, "schedule")
        _, values = self._values(records.SCHEDULE, schedule, "schedule")
        values.update(tenant_id=scope.tenant_id, user_id=user_id, updated_at=utc_now())
        sc = t.SCHEDULES
        insert = self._insert(sc).values(**values)
        statement = insert.on_conflict_do_update(
            index_elements=[sc.c.tenant_id, sc.c.id],
            set_=_replace(sc, insert, keep=("created_at",)),
            where=writable(sc, scope),
        ).returning(*sc.c)
        async with self._write("save_schedule") as c:
            saved = await self._one(c, statement, records.SCHEDULE)
            if saved is None:
                raise ConflictError(f"Schedule id {schedule.id!r} is taken outside this scope")
            return saved

    async def get_schedule(self, scope: Scope, schedule_id: str) -> Schedule | None:
        """See `Store.get_schedule`."""
        check_scope(scope)
        check_id(schedule_id, "schedule_id")
        sc = t.SCHEDULES
        async with self._read("get_schedule") as c:
            return await self._one(
                c, select(sc).where(visible(sc, scope), sc.c.id == schedule_id), records.SCHEDULE
            )

    async def list_schedules(
        self,
        scope: Scope,
        *,
        enabled: bool | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Schedule]:
        """See `Store.list_schedules`."""
        check_scope(scope)
        if enabled is not None:
            check_type(enabled, bool, "enabled")
        sc = t.SCHEDULES
        query = select(sc).where(visible(sc, scope))
        if enabled is not None:
            query = query.where(sc.c.enabled == enabled)
        return await self._page(
            "list_schedules",
            "schedules",
            records.SCHEDULE,
            query,
            [sc.c.id],
            lambda x: (x.id,),
            descending=False,
            limit=limit,
            cursor=cursor,
        )

    async def delete_schedule(self, scope: Scope, schedule_id: str) -> None:
        """See `Store.delete_schedule`."""
        check_scope(scope)
        check_id(schedule_id, "schedule_id")
        sc = t.SCHEDULES
        async with self._write("delete_schedule") as c:
            gone = await c.execute(
                delete(sc).where(visible(sc, scope), sc.c.id == schedule_id).returning(sc.c.id)
            )
            if gone.first() is None:
                raise NotFoundError(f"No schedule {schedule_id!r} in this scope")

    async def list_due(self, scope: Scope, now: datetime) -> list[Schedule]:
        """See `Store.list_due`."""
        check_scope(scope)
        check_type(now, datetime, "now")
        sc = t.SCHEDULES
        query = (
            select(sc)
            .where(
                visible(sc, scope),
                sc.c.enabled == true(),
                sc.c.next_run_at.is_not(None),
                sc.c.next_run_at <= now,
            )
            .order_by(sc.c.next_run_at, sc.c.id)
        )
        async with self._read("list_due") as c:
            rows = (await c.execute(query)).mappings().all()
        return [records.SCHEDULE.from_row(row) for row in rows]

    # --- traces ----------------------------------------------------------------------------------

    async def add_spans(self, scope: Scope, spans: Sequence[TraceSpan]) -> None:
        """See `Store.add_spans`."""
        check_scope(scope)
        check_sequence(spans, "spans")
        staged: dict[tuple[str, str], dict[str, Any]] = {}
        for span in spans:
            check_type(span, TraceSpan, "span")
            check_id(span.trace_id, "span.trace_id")
            check_id(span.span_id, "span.span_id")
            check_optional(span.parent_span_id, "span.parent_span_id")
            user_id = stamp(scope, span.user_id, "span")
            _, values = self._values(records.SPAN, span, f"span {span.span_id!r}")
            values.update(tenant_id=scope.tenant_id, user_id=user_id)
            staged[(span.trace_id, span.span_id)] = values  # a re-sent span: the last one wins
        if not staged:
            return
        sp = t.SPANS
        async with self._write("add_spans") as c:
            for values in staged.values():
                insert = self._insert(sp).values(**values)
                statement = insert.on_conflict_do_update(
                    index_elements=[sp.c.tenant_id, sp.c.trace_id, sp.c.span_id],
                    set_=_replace(sp, insert),
                    where=writable(sp, scope),
                ).returning(sp.c.span_id)
                if (await c.execute(statement)).first() is None:
                    raise ConflictError(
                        f"Span {values['span_id']!r} of trace {values['trace_id']!r} is taken "
                        "outside this scope; nothing was written"
                    )

    async def list_spans(self, scope: Scope, trace_id: str) -> list[TraceSpan]:
        """See `Store.list_spans`."""
        check_scope(scope)
        check_id(trace_id, "trace_id")
        sp = t.SPANS
        query = (
            select(sp)
            .where(visible(sp, scope), sp.c.trace_id == trace_id)
            .order_by(sp.c.start, sp.c.span_id)
        )
        async with self._read("list_spans") as c:
            rows = (await c.execute(query)).mappings().all()
        return [records.SPAN.from_row(row) for row in rows]


_FIXED = ("tenant_id", "id", "created_at")
"""Columns an update never changes."""


def _replace(table: Table, insert: Insert, keep: Sequence[str] = ()) -> dict[str, Any]:
    """`SET column = excluded.column` for every column but the key and `keep`."""
    excluded: Any = getattr(insert, "excluded")  # noqa: B009 - dialect inserts only
    skip = {c.name for c in table.primary_key.columns} | set(keep)
    return {c.name: excluded[c.name] for c in table.columns if c.name not in skip}


def _is_time(column: ColumnElement[Any]) -> bool:
    return isinstance(column.type, UTCDateTime)


def _run_status(status: Any) -> str:
    try:
        return RunStatus(status).value
    except ValueError as e:
        raise InvalidInputError(
            f"status must be one of {[s.value for s in RunStatus]}, got {status!r}"
        ) from e


def _literal(what: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    return value
