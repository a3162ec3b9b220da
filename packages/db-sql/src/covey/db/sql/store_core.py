"""`StoreCore`: what every part of `SqlStore` stands on: the connection, its event loop, the
schema check, transactions, error translation, and reads of one row or one page.

The parts (`covey.db.sql.store_sessions`, `store_runs`, ...) subclass it, one per domain;
`covey.db.sql.store.SqlStore` assembles them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, Table, literal
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine

from covey.db.sql import statements
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
from covey.db.sql.pages import after, decode_cursor, encode_cursor, from_micros
from covey.db.sql.records import Codec
from covey.db.sql.runners import PostgresRunner, Runner, SqliteRunner
from covey.db.sql.scoping import scope_params
from covey.db.sql.statements import dialect_insert
from covey.db.sql.urls import Backend, DatabaseURL, parse_url
from covey.spec.errors import ConfigurationError, CoveyError, InvalidInputError
from covey.spec.runs import RunStatus
from covey.spec.store import Page, Scope, Store, check_limit

__all__ = [
    "DEFAULT_MAX_JSON_BYTES",
    "FIXED_COLUMNS",
    "R",
    "StoreCore",
    "T",
    "check_literal",
    "fetch_all",
    "fetch_one",
    "same_user",
    "ts_literal",
]

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


def ts_literal(value: datetime) -> ColumnElement[datetime]:
    return literal(value, UTCDateTime())


def _positive(name: str, value: object, *, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigurationError(f"{name} must be a number, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigurationError(f"{name} must be {'0 or more' if allow_zero else 'positive'}")


class StoreCore(Store):
    """The connection and transaction machinery of `SqlStore` (see there for the options)."""

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
        return await self._read(action, lambda c: fetch_one(c, query, codec, params))

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


FIXED_COLUMNS = ("tenant_id", "id", "created_at")
"""Columns an update never changes."""


_DATABASE_ERRORS = (TimeoutError, sa_exc.SQLAlchemyError, sqlite3.Error, OSError)
"""What a driver or SQLAlchemy raises; translated into `StoreError`s."""


def fetch_one(
    connection: Connection,
    statement: Any,
    codec: Codec[R],
    params: dict[str, Any] | None = None,
) -> R | None:
    row = connection.execute(statement, params).mappings().first()
    return None if row is None else codec.from_row(row)


def fetch_all(connection: Connection, statement: Any, codec: Codec[R]) -> list[R]:
    return [codec.from_row(row) for row in connection.execute(statement).mappings()]


def same_user(table: Table, user_id: str | None) -> ColumnElement[bool]:
    """Rows of `user_id` exactly (`None`: rows with no user)."""
    return table.c.user_id.is_(None) if user_id is None else table.c.user_id == user_id


def _is_time(column: ColumnElement[Any]) -> bool:
    return isinstance(column.type, UTCDateTime)


def check_literal(what: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    return value
