"""PostgreSQL: SQLAlchemy's async engine on asyncpg, every call in a transaction of its own.

Read-only is enforced by the server, never by looking at the SQL:

- each call opens a fresh session (no pool: nothing one call leaves in a session — an advisory
  lock, a `SET` — reaches the next) whose `default_transaction_read_only` is on, begins
  `READ ONLY`, sets `SET TRANSACTION READ ONLY` again, and runs a query before the caller's
  statement: PostgreSQL accepts `SET TRANSACTION READ WRITE` only before a transaction's first
  query, so the caller can no longer switch it. The transaction is always rolled back.
- asyncpg sends every statement as a prepared statement, which holds one command: stacked
  statements (`SELECT 1; DELETE ...`) are refused by the server.
- a read-only transaction does not stop what a superuser can do without writing a table:
  `COPY ... TO PROGRAM` (runs a shell command on the server), `pg_read_file`, `lo_import`,
  `pg_terminate_backend`, `pg_reload_conf`. So a read-only toolset refuses to work as a
  superuser, or as a member of `pg_execute_server_program`, `pg_read_server_files` or
  `pg_write_server_files`, unless `allow_superuser=True`. Give it a role of its own with
  `SELECT` on what it may read.

Time: `SET LOCAL statement_timeout` and `lock_timeout` on the server, and `anyio.fail_after`
around the whole call (the connection is then closed, which ends the server's work too).
Results are read through a server-side cursor, `max_rows + 1` rows at most.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import asyncpg  # pyright: ignore[reportMissingTypeStubs]
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.engine.reflection import Inspector
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.elements import TextClause

from covey.spec.errors import ConfigurationError
from covey.tools.sql._backend import Outcome, QueryFailed, QueryRefused, QueryTimedOut

__all__ = ["PostgresBackend"]

T = TypeVar("T")

_READ_ONLY_VIOLATION = "25006"
_QUERY_CANCELED = "57014"
_LOCK_NOT_AVAILABLE = "55P03"
_INSUFFICIENT_PRIVILEGE = "42501"

_ROLE_CHECK = """
SELECT r.rolsuper,
       pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER'),
       pg_has_role(current_user, 'pg_read_server_files', 'MEMBER'),
       pg_has_role(current_user, 'pg_write_server_files', 'MEMBER')
FROM pg_roles r WHERE r.rolname = current_user
"""


def _statement(sql: str, params: dict[str, Any] | None) -> TextClause:
    if params:
        return text(sql).bindparams(**params)
    # No parameters: every colon is literal (`'10:30'`, `x::int`), not a bind parameter.
    return text(sql.replace(":", "\\:"))


def _sqlstate(error: DBAPIError | asyncpg.PostgresError) -> str | None:
    orig: Any = error.orig if isinstance(error, DBAPIError) else error
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return code if isinstance(code, str) else None


def _message(error: BaseException) -> str:
    if isinstance(error, DBAPIError) and error.orig is not None:
        text_ = str(error.orig)
        # asyncpg's adapter prefixes "<class 'asyncpg.exceptions.X'>: ".
        if text_.startswith("<class '") and ">: " in text_:
            text_ = text_.split(">: ", 1)[1]
        return text_
    return str(error).split("\n[SQL:", 1)[0]


class PostgresBackend:
    """A PostgreSQL database through asyncpg."""

    dialect = "postgresql"
    default_schema = "public"

    def __init__(
        self,
        url: URL | None,
        *,
        read_only: bool,
        allow_superuser: bool,
        engine: AsyncEngine | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        self._url = url
        self._read_only = read_only
        self._allow_superuser = allow_superuser
        self._given = engine
        self._engine: AsyncEngine | None = engine
        self._connect_timeout = connect_timeout
        self._role_checked = False
        self._lock = anyio.Lock()

    async def open(self) -> None:
        if self._engine is None:
            assert self._url is not None
            settings = {"application_name": "covey-tools-sql"}
            if self._read_only:
                settings["default_transaction_read_only"] = "on"
            self._engine = create_async_engine(
                self._url,
                poolclass=NullPool,
                connect_args={"server_settings": settings, "timeout": self._connect_timeout},
            )

    async def close(self) -> None:
        if self._engine is not None and self._given is None:
            await self._engine.dispose()
            self._engine = None

    async def _check_role(self, conn: AsyncConnection) -> None:
        if self._role_checked or not self._read_only or self._allow_superuser:
            return
        row = (await conn.exec_driver_sql(_ROLE_CHECK)).one()
        if any(row):
            raise ConfigurationError(
                "The read-only SQL toolset refuses to connect as a PostgreSQL superuser or a "
                "member of pg_execute_server_program / pg_read_server_files / "
                "pg_write_server_files: a read-only transaction does not stop such a role from "
                "running programs or reading files on the server (COPY ... TO PROGRAM, "
                "pg_read_file). Connect as a role of its own with SELECT on the tables it may "
                "read, or pass allow_superuser=True if you accept that risk."
            )
        self._role_checked = True

    async def _begin(self, conn: AsyncConnection, limit: float) -> None:
        """Start the call's transaction: read-only (if so), time limits, a snapshot taken."""
        if self._read_only:
            await conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        ms = max(1, round(limit * 1000))
        await conn.exec_driver_sql(f"SET LOCAL statement_timeout = {ms}")
        await conn.exec_driver_sql(f"SET LOCAL lock_timeout = {ms}")
        await self._check_role(conn)
        # After a first query PostgreSQL refuses `SET TRANSACTION READ WRITE`.
        await conn.exec_driver_sql("SELECT 1")

    async def _run(self, work: Callable[[AsyncConnection], Any], limit: float) -> Any:
        if self._engine is None:
            async with self._lock:
                await self.open()
        assert self._engine is not None
        try:
            with anyio.fail_after(limit + 2.0):
                async with self._engine.connect() as raw_conn:
                    conn = raw_conn
                    if self._read_only:
                        conn = await raw_conn.execution_options(postgresql_readonly=True)
                    try:
                        await self._begin(conn, limit)
                        return await work(conn)
                    finally:
                        await _end(conn)
        except TimeoutError:
            raise QueryTimedOut(_timed_out(limit)) from None
        except (DBAPIError, asyncpg.PostgresError) as e:
            # Errors from a server-side cursor come from asyncpg unwrapped.
            code = _sqlstate(e)
            if code in (_QUERY_CANCELED, _LOCK_NOT_AVAILABLE):
                raise QueryTimedOut(_timed_out(limit)) from None
            if code in (_READ_ONLY_VIOLATION, _INSUFFICIENT_PRIVILEGE):
                raise QueryRefused(_message(e)) from None
            raise QueryFailed(_message(e)) from None
        except (SQLAlchemyError, asyncpg.InterfaceError, OSError) as e:
            raise QueryFailed(_message(e)) from None

    async def query(
        self, sql: str, params: dict[str, Any] | None, *, max_rows: int, limit: float
    ) -> Outcome:
        async def work(conn: AsyncConnection) -> Outcome:
            result = await conn.stream(_statement(sql, params))
            try:
                real: Any = result._real_result  # pyright: ignore[reportPrivateUsage] - the CursorResult under the async facade
                if not real.returns_rows:
                    if not self._read_only:
                        await conn.commit()
                    rowcount = real.rowcount
                    return Outcome([], [], rowcount if rowcount >= 0 else None)
                columns = list(result.keys())
                rows = [tuple(r) for r in await result.fetchmany(max_rows + 1)]
            finally:
                await result.close()
            if not self._read_only:
                await conn.commit()
            return Outcome(columns, rows)

        outcome: Outcome = await self._run(work, limit)
        return outcome

    async def inspect(self, work: Callable[[Inspector], T], *, limit: float) -> T:
        async def run(conn: AsyncConnection) -> T:
            return await conn.run_sync(lambda sync: work(inspect(sync)))

        value: T = await self._run(run, limit)
        return value


async def _end(conn: AsyncConnection) -> None:
    """Roll back whatever is left (a read, or a write that failed); a broken session is closed."""
    try:
        await conn.rollback()
    except (SQLAlchemyError, OSError):
        await conn.invalidate()


def _timed_out(limit: float) -> str:
    return f"the statement ran past the time limit of {limit:g} s and was stopped"
