"""`SqlStore`: the `covey.spec.store.Store` on SQLite or PostgreSQL, one code path for both.

Each method checks its input and builds its statements, then runs one synchronous transaction
function over a SQLAlchemy `Connection` through the backend's runner (`covey.db.sql.runners`).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio.to_thread
from pydantic import BaseModel, ValidationError
from sqlalchemy import (
    ColumnElement,
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
from sqlalchemy.engine import Connection, Engine

from covey.db.sql import records, statements
from covey.db.sql import tables as t
from covey.db.sql.columns import UTCDateTime
from covey.db.sql.engine import (
    EngineOptions,
    create_postgres_engine,
    create_sqlite_engine,
    sqlite_connections,
)
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
from covey.db.sql.runners import PostgresRunner, Runner, SqliteRunner
from covey.db.sql.scoping import (
    SCOPE_TENANT,
    check_optional,
    check_scope,
    check_sequence,
    check_type,
    scope_params,
    stamp,
    visible,
    writable,
)
from covey.db.sql.statements import dialect_insert, set_from_excluded
from covey.db.sql.urls import Backend, DatabaseURL, parse_url
from covey.spec.errors import (
    ConfigurationError,
    ConflictError,
    CoveyError,
    InvalidInputError,
    NotFoundError,
)
from covey.spec.events import BaseEvent, load_event, run_event_classes
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

__all__ = ["DEFAULT_MAX_JSON_BYTES", "SqlStore"]

DEFAULT_MAX_JSON_BYTES = 16 * 2**20
"""The default largest JSON payload of one row (16 MiB)."""

R = TypeVar("R", bound=BaseModel)
T = TypeVar("T")

_RUNNING = RunStatus.RUNNING.value
_LIVE = (RunStatus.RUNNING.value, RunStatus.PAUSED.value)


@dataclass(slots=True)
class _Bound:
    """The runner (and lock) of one event loop; a store rebinds when used from a new loop."""

    loop: asyncio.AbstractEventLoop
    runner: Runner
    ready_lock: asyncio.Lock


_LOOK_UP: Any = object()
_INLINE_EVENTS = 50
"""`list_events` pages up to this size are read inline on the event loop (see `SqliteRunner`)."""


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
    time, and moves to a new one when used from it (successive `run_sync` calls, for example).

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
        inline: SQLite: run each transaction on the event loop first, without waiting for any
            lock, and in a worker thread only when the database is busy or the read is large
            (see `covey.db.sql.runners`). `False`: every transaction in a worker thread (for a
            database on a slow or network file system, where even a free transaction is slow).
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
        inline: bool = True,
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
            inline=inline,
            echo=echo,
        )
        self._max_json_bytes = max_json_bytes
        self._auto_migrate = auto_migrate
        self._bound: _Bound | None = None
        self._sqlite_engine: Engine | None = None
        """SQLite: one synchronous engine, kept across event loops until `close`."""
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
        """Close every pooled connection. Safe to call twice; a later call reconnects.

        An in-memory SQLite database (`sqlite://`) goes with its connection.
        """
        bound, self._bound = self._bound, None
        engine, self._sqlite_engine = self._sqlite_engine, None
        if bound is not None:
            await self._dispose(bound)
        if engine is not None:
            await anyio.to_thread.run_sync(engine.dispose)  # closing may checkpoint the WAL
            if self._url.in_memory:
                self._schema_ready = False  # the database went with its connection

    @staticmethod
    async def _dispose(bound: _Bound) -> None:
        """Let go of a PostgreSQL engine (SQLite's outlives event loops: `close` disposes it)."""
        if not isinstance(bound.runner, PostgresRunner):
            return
        try:
            same_loop = bound.loop is asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - close() always runs in a loop
            same_loop = False
        # asyncpg connections can only be closed from their own event loop.
        await bound.runner.engine.dispose(close=same_loop)

    async def _bind(self) -> _Bound:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError as e:
            raise ConfigurationError(
                "SqlStore runs on asyncio; call it from an asyncio event loop (anyio's asyncio "
                "backend works, trio does not)"
            ) from e
        bound = self._bound
        if bound is not None and bound.loop is loop:
            return bound
        self._bound = _Bound(loop=loop, runner=self._runner(), ready_lock=asyncio.Lock())
        if bound is not None:
            await self._dispose(bound)
        return self._bound

    def _runner(self) -> Runner:
        if self.backend == "postgresql":
            return PostgresRunner(create_postgres_engine(self._url, self._options))
        if self._sqlite_engine is None:
            path = self._url.sqlite_path
            if path:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._sqlite_engine = create_sqlite_engine(self._url, self._options)
        return SqliteRunner(
            self._sqlite_engine,
            connections=sqlite_connections(self._url, self._options),
            serial=self._url.in_memory,
            pool_timeout=self._options.pool_timeout,
            busy_timeout=self._options.busy_timeout,
            inline=self._options.inline,
        )

    async def _ready(self) -> Runner:
        bound = await self._bind()
        if self._schema_ready:
            return bound.runner
        async with bound.ready_lock:
            if not self._schema_ready:
                async with self._translated("connect"):
                    if self._auto_migrate:
                        await migrate(bound.runner, where=self.url)
                    else:
                        found = await current_version(bound.runner)
                        if found > LATEST_VERSION:
                            raise newer_schema_error(found, self.url)
                        if found < LATEST_VERSION:
                            raise unmigrated_schema_error(found, self.url)
                self._schema_ready = True
        return bound.runner

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
            applied = await migrate(bound.runner, where=self.url, target=target)
            if target is None or target >= LATEST_VERSION:
                self._schema_ready = True
            return applied

    async def schema_version(self) -> int:
        """The database's schema version (0 before the first migration)."""
        bound = await self._bind()
        async with self._translated("schema_version"):
            return await current_version(bound.runner)

    @asynccontextmanager
    async def _translated(self, action: str) -> AsyncGenerator[None]:
        try:
            yield
        except CoveyError:
            raise
        except _DATABASE_ERRORS as e:
            raise self._error(e, action) from e

    def _error(self, error: BaseException, action: str) -> CoveyError:
        password = self._url.sqlalchemy_url.password
        return translate_error(
            error, action=action, where=self.url, password=str(password) if password else None
        )

    async def _read(
        self, action: str, work: Callable[[Connection], T], *, inline: bool = True
    ) -> T:
        """`work(connection)` in one read transaction; database errors become `StoreError`s.
        `inline=False` for a read that may be large (see `SqliteRunner`)."""
        runner = await self._ready()
        try:
            return await runner.read(work, inline=inline)
        except CoveyError:
            raise
        except _DATABASE_ERRORS as e:
            raise self._error(e, action) from e

    async def _write(self, action: str, work: Callable[[Connection], T]) -> T:
        """`work(connection)` in one write transaction, rolled back if anything raises."""
        runner = await self._ready()
        try:
            return await runner.write(work)
        except CoveyError:
            raise
        except _DATABASE_ERRORS as e:
            raise self._error(e, action) from e

    def _insert(self, table: Table) -> Any:
        return dialect_insert(self.backend, table)

    def _values(self, codec: Codec[R], record: R, what: str) -> tuple[R, dict[str, Any]]:
        return codec.to_values(record, what, self._max_json_bytes)

    async def _get(
        self,
        action: str,
        scope: Scope,
        codec: Codec[R],
        key: str,
        *,
        column: str = "id",
        shared: bool = False,
    ) -> R | None:
        """The record whose `column` is `key`, if `scope` may see it."""
        query = statements.get_one(
            codec.table, column, user_scoped=scope.user_id is not None, shared=shared
        )
        params = {**scope_params(scope), statements.KEY: key}
        return await self._read(action, lambda c: _one(c, query, codec, params))

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
        statement = query.order_by(*ordering).limit(limit + 1)

        def read(c: Connection) -> tuple[list[R], bool]:
            rows = c.execute(statement).mappings().all()
            return [codec.from_row(r) for r in rows[:limit]], len(rows) > limit

        items, more = await self._read(action, read)
        next_cursor = encode_cursor(listing, key(items[-1])) if more else None
        return Page[R](items=items, next_cursor=next_cursor)

    # --- sessions --------------------------------------------------------------------------------

    async def get_session(self, scope: Scope, session_id: str) -> Session | None:
        """See `Store.get_session`."""
        check_scope(scope)
        check_id(session_id, "session_id")
        query = statements.get_session()
        params = {**_session_params(scope), statements.KEY: session_id}
        return await self._read("get_session", lambda c: _one(c, query, records.SESSION, params))

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
            [s.c.updated_at, s.c.id, s.c.user_key],
            lambda r: (micros(r.updated_at), r.id, statements.user_key(r.user_id)),
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
        if scope.user_id is None and user_id is not None:
            raise InvalidInputError(
                f"session.user_id is {user_id!r}, but a tenant-wide scope saves sessions without "
                "a user; save a user's session under scope.for_user(user_id)"
            )
        if expected_version is not None and (
            type(expected_version) is not int or expected_version < 0
        ):
            raise InvalidInputError(
                f"expected_version must be None or an integer of 0 or more, got "
                f"{expected_version!r}"
            )
        _, values = self._values(records.SESSION, session, "session")
        del values["version"]  # the store counts versions; the caller's value is ignored
        values.update(
            tenant_id=scope.tenant_id,
            user_key=statements.user_key(user_id),
            user_id=user_id,
            updated_at=utc_now(),
        )
        if expected_version == 0:
            statement = statements.insert_session(self.backend)
            params = {**values, "version": 1}
        elif expected_version is None:
            statement = statements.upsert_session(self.backend)
            params = {**values, "version": 1}
        else:
            statement = statements.update_session()
            params = {k: v for k, v in values.items() if k not in (*_FIXED, "user_key")}
            params.update(_session_params(scope))
            params.update({statements.KEY: session.id, statements.EXPECTED: expected_version})

        def save(c: Connection) -> Session:
            saved = _one(c, statement, records.SESSION, params)
            if saved is None:
                raise _session_conflict(c, scope, session.id, expected_version)
            return saved

        return await self._write("save_session", save)

    async def delete_session(self, scope: Scope, session_id: str) -> None:
        """See `Store.delete_session`."""
        check_scope(scope)
        check_id(session_id, "session_id")
        s, r = t.SESSIONS, t.RUNS

        same_session = (
            r.c.tenant_id == scope.tenant_id,
            r.c.session_id == session_id,
            _same_user(r, scope.user_id),
        )

        def remove(c: Connection) -> None:
            gone = c.execute(
                delete(s)
                .where(
                    s.c.tenant_id == scope.tenant_id,
                    s.c.user_key == statements.user_key(scope.user_id),
                    s.c.id == session_id,
                )
                .returning(s.c.id)
            )
            if gone.first() is None:
                raise NotFoundError(f"No session {session_id!r} in this scope")
            runs = select(r.c.id).where(*same_session)
            for table, column in ((t.EVENTS, "run_id"), (t.APPROVALS, "run_id")):
                c.execute(
                    delete(table).where(
                        table.c.tenant_id == scope.tenant_id, table.c[column].in_(runs)
                    )
                )
            c.execute(delete(r).where(*same_session))

        await self._write("delete_session", remove)

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
                saved = _one(c, statement, records.RUN, params)
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
    ) -> Page[Run]:
        """See `Store.list_runs`."""
        check_scope(scope)
        check_optional(session_id, "session_id")
        check_optional(parent_run_id, "parent_run_id")
        if order not in ("asc", "desc"):
            raise InvalidInputError(f"order must be 'asc' or 'desc', got {order!r}")
        r = t.RUNS
        query = select(r).where(visible(r, scope))
        if session_id is not None:
            query = query.where(r.c.session_id == session_id, _same_user(r, scope.user_id))
        if parent_run_id is not None:
            query = query.where(r.c.parent_run_id == parent_run_id)
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
                func.coalesce(r.c.heartbeat_at, r.c.updated_at) < _ts(now - older_than),
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
        statement = (
            self._insert(m)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[m.c.tenant_id, m.c.id])
            .returning(*m.c)
        )

        def add(c: Connection) -> Memory:
            saved = _one(c, statement, records.MEMORY)
            if saved is None:
                raise ConflictError(f"A memory with id {memory.id!r} already exists")
            _add_topics(c, scope, copy)  # a new memory has no topic rows yet
            return saved

        return await self._write("add_memory", add)

    async def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        """See `Store.get_memory`."""
        check_scope(scope)
        check_id(memory_id, "memory_id")
        return await self._get("get_memory", scope, records.MEMORY, memory_id)

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
        m, mt = t.MEMORIES, t.MEMORY_TOPICS
        changes = {k: v for k, v in values.items() if k not in _FIXED}
        changes["updated_at"] = utc_now()
        # The owner check is part of the update: a memory never moves to another user.
        statement = (
            update(m)
            .where(visible(m, scope), m.c.id == memory.id, m.c.user_id == memory.user_id)
            .values(**changes)
            .returning(*m.c)
        )

        def change(c: Connection) -> Memory:
            saved = _one(c, statement, records.MEMORY)
            if saved is None:
                existing = c.execute(
                    select(m.c.user_id).where(visible(m, scope), m.c.id == memory.id)
                ).first()
                if existing is None:
                    raise NotFoundError(f"No memory {memory.id!r} in this scope")
                raise InvalidInputError(
                    f"memory {memory.id!r} belongs to user {existing.user_id!r}; it cannot be "
                    f"moved to {memory.user_id!r}"
                )
            c.execute(
                delete(mt).where(mt.c.tenant_id == scope.tenant_id, mt.c.memory_id == memory.id)
            )
            _add_topics(c, scope, copy)
            return saved

        return await self._write("update_memory", change)

    async def delete_memory(self, scope: Scope, memory_id: str) -> None:
        """See `Store.delete_memory`."""
        check_scope(scope)
        check_id(memory_id, "memory_id")
        m, mt = t.MEMORIES, t.MEMORY_TOPICS

        def remove(c: Connection) -> None:
            gone = c.execute(
                delete(m).where(visible(m, scope), m.c.id == memory_id).returning(m.c.id)
            )
            if gone.first() is None:
                raise NotFoundError(f"No memory {memory_id!r} in this scope")
            c.execute(
                delete(mt).where(mt.c.tenant_id == scope.tenant_id, mt.c.memory_id == memory_id)
            )

        await self._write("delete_memory", remove)

    # --- user profiles ---------------------------------------------------------------------------

    async def get_user_profile(self, scope: Scope, user_id: str) -> UserProfile | None:
        """See `Store.get_user_profile`."""
        check_scope(scope)
        check_id(user_id, "user_id")
        return await self._get(
            "get_user_profile", scope, records.PROFILE, user_id, column="user_id"
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
            set_=set_from_excluded(p, insert, keep=("user_id",)),
        ).returning(*p.c)
        saved = await self._write(
            "save_user_profile", lambda c: _one(c, statement, records.PROFILE)
        )
        assert saved is not None  # an upsert without a condition always returns its row
        return saved

    async def delete_user_profile(self, scope: Scope, user_id: str) -> None:
        """See `Store.delete_user_profile`."""
        check_scope(scope)
        check_id(user_id, "user_id")
        p = t.PROFILES
        statement = (
            delete(p).where(visible(p, scope), p.c.user_id == user_id).returning(p.c.user_id)
        )
        if await self._write("delete_user_profile", lambda c: c.execute(statement).first()) is None:
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
        statement = (
            self._insert(lt)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[lt.c.tenant_id, lt.c.id])
            .returning(*lt.c)
        )
        saved = await self._write("add_learning", lambda c: _one(c, statement, records.LEARNING))
        if saved is None:
            raise ConflictError(f"A learning with id {learning.id!r} already exists")
        return saved

    async def get_learning(self, scope: Scope, learning_id: str) -> Learning | None:
        """See `Store.get_learning`."""
        check_scope(scope)
        check_id(learning_id, "learning_id")
        return await self._get("get_learning", scope, records.LEARNING, learning_id, shared=True)

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
        statement = delete(lt).where(writable(lt, scope), lt.c.id == learning_id).returning(lt.c.id)
        if await self._write("delete_learning", lambda c: c.execute(statement).first()) is None:
            raise NotFoundError(f"No learning {learning_id!r} that this scope may delete")

    # --- knowledge contents ----------------------------------------------------------------------

    async def save_knowledge_content(
        self, scope: Scope, content: KnowledgeContent
    ) -> KnowledgeContent:
        """See `Store.save_knowledge_content`."""
        check_scope(scope)
        check_type(content, KnowledgeContent, "content")
        check_id(content.id, "content.id")
        check_id(content.knowledge, "content.knowledge")
        user_id = stamp(scope, content.user_id, "content")
        _, values = self._values(records.KNOWLEDGE, content, "knowledge content")
        values.update(tenant_id=scope.tenant_id, user_id=user_id, updated_at=utc_now())
        k = t.KNOWLEDGE
        insert = self._insert(k).values(**values)
        statement = insert.on_conflict_do_update(
            index_elements=[k.c.tenant_id, k.c.id],
            set_=set_from_excluded(k, insert, keep=("created_at",)),
            where=writable(k, scope),
        ).returning(*k.c)
        saved = await self._write(
            "save_knowledge_content", lambda c: _one(c, statement, records.KNOWLEDGE)
        )
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
        return await self._get(
            "get_knowledge_content", scope, records.KNOWLEDGE, content_id, shared=True
        )

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
        check_scope(scope)
        k = t.KNOWLEDGE
        query = select(k).where(visible(k, scope, shared=True))
        if knowledge is not None:
            query = query.where(k.c.knowledge == check_id(knowledge, "knowledge"))
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
        statement = delete(k).where(writable(k, scope), k.c.id == content_id).returning(k.c.id)
        gone = await self._write("delete_knowledge_content", lambda c: c.execute(statement).first())
        if gone is None:
            raise NotFoundError(f"No knowledge content {content_id!r} this scope may delete")

    # --- approvals -------------------------------------------------------------------------------

    async def save_approval(
        self, scope: Scope, approval: Approval, *, create_only: bool = False
    ) -> Approval:
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
        if create_only:
            created = insert.on_conflict_do_nothing(index_elements=[a.c.tenant_id, a.c.id])
            existing = select(a).where(visible(a, scope), a.c.id == approval.id)

            def create(c: Connection) -> Approval | None:
                return _one(c, created.returning(*a.c), records.APPROVAL) or _one(
                    c, existing, records.APPROVAL
                )

            saved = await self._write("save_approval", create)
        else:
            statement = insert.on_conflict_do_update(
                index_elements=[a.c.tenant_id, a.c.id],
                set_=set_from_excluded(a, insert, keep=("created_at",)),
                where=writable(a, scope),
            ).returning(*a.c)
            saved = await self._write(
                "save_approval", lambda c: _one(c, statement, records.APPROVAL)
            )
        if saved is None:
            raise ConflictError(f"Approval id {approval.id!r} is taken outside this scope")
        return saved

    async def get_approval(self, scope: Scope, approval_id: str) -> Approval | None:
        """See `Store.get_approval`."""
        check_scope(scope)
        check_id(approval_id, "approval_id")
        return await self._get("get_approval", scope, records.APPROVAL, approval_id)

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
        statement = (
            update(a)
            .where(visible(a, scope), a.c.id == approval_id, a.c.status == "pending")
            .values(status=status, resolved_at=utc_now(), resolved_by=resolved_by, note=note)
            .returning(*a.c)
        )

        def resolve(c: Connection) -> Approval:
            resolved = _one(c, statement, records.APPROVAL)
            if resolved is not None:
                return resolved
            row = c.execute(
                select(a.c.status, a.c.resolved_by).where(visible(a, scope), a.c.id == approval_id)
            ).first()
            if row is None:
                raise NotFoundError(f"No approval {approval_id!r} in this scope")
            raise ConflictError(
                f"Approval {approval_id!r} was already {row.status} by {row.resolved_by!r}"
            )

        return await self._write("resolve_approval", resolve)

    # --- schedules -------------------------------------------------------------------------------

    async def save_schedule(
        self, scope: Scope, schedule: Schedule, *, expected_updated_at: datetime | None = None
    ) -> Schedule:
        """See `Store.save_schedule`."""
        check_scope(scope)
        check_type(schedule, Schedule, "schedule")
        check_id(schedule.id, "schedule.id")
        check_id(schedule.target_id, "schedule.target_id")
        if expected_updated_at is not None:
            check_type(expected_updated_at, datetime, "expected_updated_at")
        user_id = stamp(scope, schedule.user_id, "schedule")
        _, values = self._values(records.SCHEDULE, schedule, "schedule")
        values.update(tenant_id=scope.tenant_id, user_id=user_id, updated_at=utc_now())
        sc = t.SCHEDULES
        if expected_updated_at is not None:
            # `UPDATE ... WHERE updated_at = :expected`: of several writers that read the same
            # version exactly one matches; the new version is strictly later than the old one.
            values["updated_at"] = max(
                values["updated_at"], expected_updated_at + timedelta(microseconds=1)
            )
            swap = (
                update(sc)
                .where(
                    writable(sc, scope),
                    sc.c.id == schedule.id,
                    sc.c.updated_at == _ts(expected_updated_at),
                )
                .values(**{k: v for k, v in values.items() if k not in _FIXED})
                .returning(*sc.c)
            )
            swapped = await self._write("save_schedule", lambda c: _one(c, swap, records.SCHEDULE))
            if swapped is None:
                raise ConflictError(f"Schedule {schedule.id!r} was changed or deleted since read")
            return swapped
        insert = self._insert(sc).values(**values)
        statement = insert.on_conflict_do_update(
            index_elements=[sc.c.tenant_id, sc.c.id],
            set_=set_from_excluded(sc, insert, keep=("created_at",)),
            where=writable(sc, scope),
        ).returning(*sc.c)
        saved = await self._write("save_schedule", lambda c: _one(c, statement, records.SCHEDULE))
        if saved is None:
            raise ConflictError(f"Schedule id {schedule.id!r} is taken outside this scope")
        return saved

    async def get_schedule(self, scope: Scope, schedule_id: str) -> Schedule | None:
        """See `Store.get_schedule`."""
        check_scope(scope)
        check_id(schedule_id, "schedule_id")
        return await self._get("get_schedule", scope, records.SCHEDULE, schedule_id)

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
        statement = delete(sc).where(visible(sc, scope), sc.c.id == schedule_id).returning(sc.c.id)
        if await self._write("delete_schedule", lambda c: c.execute(statement).first()) is None:
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
        return await self._read("list_due", lambda c: _all(c, query, records.SCHEDULE))

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
        statements: list[tuple[dict[str, Any], Any]] = []
        for values in staged.values():
            insert = self._insert(sp).values(**values)
            statement = insert.on_conflict_do_update(
                index_elements=[sp.c.tenant_id, sp.c.trace_id, sp.c.span_id],
                set_=set_from_excluded(sp, insert),
                where=writable(sp, scope),
            ).returning(sp.c.span_id)
            statements.append((values, statement))

        def add(c: Connection) -> None:
            for values, statement in statements:
                if c.execute(statement).first() is None:
                    raise ConflictError(
                        f"Span {values['span_id']!r} of trace {values['trace_id']!r} is taken "
                        "outside this scope; nothing was written"
                    )

        await self._write("add_spans", add)

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
        return await self._read("list_spans", lambda c: _all(c, query, records.SPAN))


_FIXED = ("tenant_id", "id", "created_at")
"""Columns an update never changes."""

_DATABASE_ERRORS = (TimeoutError, sa_exc.SQLAlchemyError, sqlite3.Error, OSError)
"""What a driver or SQLAlchemy raises; translated into `StoreError`s."""


def _one(
    connection: Connection,
    statement: Any,
    codec: Codec[R],
    params: dict[str, Any] | None = None,
) -> R | None:
    row = connection.execute(statement, params).mappings().first()
    return None if row is None else codec.from_row(row)


def _all(connection: Connection, statement: Any, codec: Codec[R]) -> list[R]:
    return [codec.from_row(row) for row in connection.execute(statement).mappings()]


def _session_params(scope: Scope) -> dict[str, Any]:
    return {
        SCOPE_TENANT: scope.tenant_id,
        statements.USER_KEY: statements.user_key(scope.user_id),
    }


def _same_user(table: Table, user_id: str | None) -> ColumnElement[bool]:
    """Rows of `user_id` exactly (`None`: rows with no user)."""
    return table.c.user_id.is_(None) if user_id is None else table.c.user_id == user_id


def _session_conflict(
    c: Connection, scope: Scope, session_id: str, expected: int | None
) -> ConflictError:
    s = t.SESSIONS
    row = c.execute(
        select(s.c.version).where(
            s.c.tenant_id == scope.tenant_id,
            s.c.user_key == statements.user_key(scope.user_id),
            s.c.id == session_id,
        )
    ).first()
    current = 0 if row is None else row.version
    return ConflictError(
        f"Session {session_id!r} is at version {current}, not {expected}: someone saved it "
        "since you read it. Reload it and apply your change again."
    )


def _add_topics(c: Connection, scope: Scope, memory: Memory) -> None:
    """The topic rows of `memory` (whose old ones are gone)."""
    topics = list(dict.fromkeys(memory.topics))
    if topics:
        c.execute(
            t.MEMORY_TOPICS.insert(),
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


def _swap_run(scope: Scope, run_id: str, values: dict[str, Any], expected: str) -> Any:
    """`UPDATE ... WHERE status = :expected`: the status check and the write in one statement.

    Under concurrent writers the database serialises the updates of the row, and each one sees
    the status the previous one left, so of many callers expecting one status exactly one wins.
    """
    r = t.RUNS
    changes = {k: v for k, v in values.items() if k not in _FIXED}
    if not changes["cancel_requested"]:
        del changes["cancel_requested"]  # sticky: a save never clears a requested cancel
    beat = changes.pop("heartbeat_at")
    if beat is not None:
        at = _ts(beat)
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


def _is_time(column: ColumnElement[Any]) -> bool:
    return isinstance(column.type, UTCDateTime)


def _run_status(status: Any, what: str = "status") -> str:
    try:
        return RunStatus(status).value
    except ValueError as e:
        raise InvalidInputError(
            f"{what} must be one of {[s.value for s in RunStatus]}, got {status!r}"
        ) from e


def _literal(what: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    return value
