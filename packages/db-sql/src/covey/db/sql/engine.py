"""The SQLAlchemy engine for a store URL: pooling, timeouts and per-backend setup.

SQLite: a synchronous engine on the standard library's `sqlite3` driver (the store runs each
transaction in one worker thread, see `covey.db.sql.runners`). Every new connection gets WAL
journalling, `busy_timeout`, `foreign_keys=ON` and `synchronous=NORMAL`, and may move between
worker threads (`check_same_thread=False`; the runner never lets two threads use one at once).
SQLAlchemy, not the sqlite3 module, opens transactions: plain `BEGIN` for reads and
`BEGIN IMMEDIATE` for writes (the engine from `writer`), so a writer takes the database's write
lock before it reads and two writers never deadlock on a lock upgrade. A file needs no pre-ping;
an in-memory database is one shared connection (`StaticPool`).

PostgreSQL (asyncpg, or psycopg): an async engine with a connection pool, pre-ping, a connect
timeout and a server-side `statement_timeout`.

JSON is handed through as text in both directions: the store serialises documents with pydantic
and parses them with pydantic, so the driver never parses or re-serialises them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool, StaticPool

from covey.db.sql.urls import DatabaseURL

__all__ = [
    "EngineOptions",
    "create_postgres_engine",
    "create_sqlite_engine",
    "sqlite_connections",
    "writer",
]

_WRITE = "covey_write"


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How the store talks to its database.

    Attributes:
        pool_size: Connections kept open in the pool.
        max_overflow: Extra connections allowed under load, closed when returned.
        pool_timeout: Seconds to wait for a free connection before `StoreUnavailableError`.
        pool_recycle: Seconds after which a pooled connection is replaced (PostgreSQL).
        pool_pre_ping: Check a pooled connection before use, so a restarted server is survived
            (PostgreSQL).
        connect_timeout: Seconds to wait for a new connection (PostgreSQL).
        statement_timeout: Seconds a statement may run on the server, or `None` for the
            server's default (PostgreSQL).
        busy_timeout: Seconds SQLite waits for another process's write lock.
        inline: SQLite: try each transaction on the event loop first (see `runners`).
        echo: Log every SQL statement (with parameters) through the `sqlalchemy.engine` logger.
    """

    pool_size: int = 5
    max_overflow: int = 10
    pool_timeout: float = 30.0
    pool_recycle: float = 1800.0
    pool_pre_ping: bool = True
    connect_timeout: float = 10.0
    statement_timeout: float | None = 60.0
    busy_timeout: float = 30.0
    inline: bool = True
    echo: bool = False


def _serialize_json(value: Any) -> str:
    # The store passes documents already serialised; anything else is serialised here.
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _keep_json_text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _common(options: EngineOptions) -> dict[str, Any]:
    return {
        "echo": options.echo,
        "hide_parameters": not options.echo,
        "json_serializer": _serialize_json,
        "json_deserializer": _keep_json_text,
    }


def create_postgres_engine(url: DatabaseURL, options: EngineOptions) -> AsyncEngine:
    """A new async engine for a PostgreSQL `url`. Creating it does no I/O."""
    server_settings = {"application_name": "covey"}
    if options.statement_timeout is not None:
        server_settings["statement_timeout"] = str(int(options.statement_timeout * 1000))
    return create_async_engine(
        url.sqlalchemy_url,
        pool_size=options.pool_size,
        max_overflow=options.max_overflow,
        pool_timeout=options.pool_timeout,
        pool_recycle=options.pool_recycle,
        pool_pre_ping=options.pool_pre_ping,
        connect_args=_postgres_connect_args(url, options, server_settings),
        **_common(options),
    )


def _postgres_connect_args(
    url: DatabaseURL, options: EngineOptions, server_settings: dict[str, str]
) -> dict[str, Any]:
    if url.sqlalchemy_url.get_driver_name() == "psycopg":
        options_text = " ".join(f"-c {k}={v}" for k, v in server_settings.items())
        return {"connect_timeout": max(1, round(options.connect_timeout)), "options": options_text}
    return {"timeout": options.connect_timeout, "server_settings": server_settings}


def sqlite_connections(url: DatabaseURL, options: EngineOptions) -> int:
    """How many connections the SQLite engine for `url` opens at most."""
    return 1 if url.in_memory else options.pool_size + options.max_overflow


def create_sqlite_engine(url: DatabaseURL, options: EngineOptions) -> Engine:
    """A new synchronous engine for a SQLite `url`. Creating it does no I/O."""
    # The runner moves connections between its worker threads, one thread at a time.
    connect_args: dict[str, Any] = {"timeout": options.busy_timeout, "check_same_thread": False}
    if url.in_memory:
        # One shared connection: every pooled connection would otherwise see its own database.
        engine = sqlalchemy.create_engine(
            url.sqlalchemy_url, poolclass=StaticPool, connect_args=connect_args, **_common(options)
        )
    else:
        engine = sqlalchemy.create_engine(
            url.sqlalchemy_url,
            poolclass=QueuePool,
            pool_size=options.pool_size,
            max_overflow=options.max_overflow,
            pool_timeout=options.pool_timeout,
            pool_pre_ping=False,  # a file does not go away like a server does
            connect_args=connect_args,
            **_common(options),
        )
    busy_ms = int(options.busy_timeout * 1000)
    wal = not url.in_memory

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:  # pyright: ignore[reportUnusedFunction]
        # SQLAlchemy's BEGIN (below), not the sqlite3 module's, opens transactions.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            if wal:
                _use_wal(cursor, options.busy_timeout)
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:  # pyright: ignore[reportUnusedFunction]
        immediate = connection.get_execution_options().get(_WRITE, False)
        # Straight to the driver: SQLAlchemy's statement machinery costs more than the BEGIN.
        driver: Any = connection.connection.driver_connection
        driver.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _use_wal(cursor: Any, busy_timeout: float) -> None:
    """Switch to WAL, waiting up to `busy_timeout` for another connection switching too."""
    # SQLite does not call its busy handler for this pragma: two processes opening a new
    # database at once would otherwise fail at once with "database is locked".
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)


def writer(engine: Engine) -> Engine:
    """The same engine and pool, for transactions that write (`BEGIN IMMEDIATE` on SQLite)."""
    return engine.execution_options(**{_WRITE: True})
