"""The async SQLAlchemy engine for a store URL: pooling, timeouts and per-backend setup.

SQLite (aiosqlite): WAL journal, `busy_timeout`, `foreign_keys=ON` and `synchronous=NORMAL` on
every new connection. SQLAlchemy, not the sqlite3 module, opens transactions: plain `BEGIN` for
reads and `BEGIN IMMEDIATE` for writes (the engine from `writer`), so a writer takes the
database's write lock before it reads and two writers never deadlock on a lock upgrade.

PostgreSQL (asyncpg): a connection pool with pre-ping, a connect timeout and a server-side
`statement_timeout`.

JSON is handed through as text in both directions: the store serialises documents with pydantic
and parses them with pydantic, so the driver never parses or re-serialises them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from covey.db.sql.urls import DatabaseURL

__all__ = ["EngineOptions", "create_engine", "writer"]

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
    echo: bool = False


def _serialize_json(value: Any) -> str:
    # The store passes documents already serialised; anything else is serialised here.
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _keep_json_text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def create_engine(url: DatabaseURL, options: EngineOptions) -> AsyncEngine:
    """A new async engine for `url`. Creating it does no I/O; connections open on first use."""
    common: dict[str, Any] = {
        "echo": options.echo,
        "hide_parameters": not options.echo,
        "json_serializer": _serialize_json,
        "json_deserializer": _keep_json_text,
    }
    if url.backend == "sqlite":
        return _sqlite_engine(url, options, common)
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
        **common,
    )


def _postgres_connect_args(
    url: DatabaseURL, options: EngineOptions, server_settings: dict[str, str]
) -> dict[str, Any]:
    if url.sqlalchemy_url.get_driver_name() == "psycopg":
        options_text = " ".join(f"-c {k}={v}" for k, v in server_settings.items())
        return {"connect_timeout": max(1, round(options.connect_timeout)), "options": options_text}
    return {"timeout": options.connect_timeout, "server_settings": server_settings}


def _sqlite_engine(url: DatabaseURL, options: EngineOptions, common: dict[str, Any]) -> AsyncEngine:
    connect_args: dict[str, Any] = {"timeout": options.busy_timeout}
    if url.in_memory:
        # One shared connection: every pooled connection would otherwise see its own database.
        engine = create_async_engine(
            url.sqlalchemy_url, poolclass=StaticPool, connect_args=connect_args, **common
        )
    else:
        engine = create_async_engine(
            url.sqlalchemy_url,
            pool_size=options.pool_size,
            max_overflow=options.max_overflow,
            pool_timeout=options.pool_timeout,
            connect_args=connect_args,
            **common,
        )
    busy_ms = int(options.busy_timeout * 1000)
    wal = not url.in_memory

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:  # pyright: ignore[reportUnusedFunction]
        # SQLAlchemy's BEGIN (below), not the sqlite3 module's, opens transactions.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:  # pyright: ignore[reportUnusedFunction]
        immediate = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def writer(engine: AsyncEngine) -> AsyncEngine:
    """The same engine and pool, for transactions that write (`BEGIN IMMEDIATE` on SQLite)."""
    return engine.execution_options(**{_WRITE: True})
