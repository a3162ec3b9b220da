"""SQLite: the standard library's `sqlite3` in worker threads, guarded by SQLite itself.

Why not aiosqlite: it is a thread per connection around the same `sqlite3` module, and the
guards below need the `sqlite3` connection anyway. Here each call takes a pooled connection in
one worker thread (`anyio.to_thread`), so nothing blocks the event loop.

Read-only is enforced by the database, in three layers, none of them a look at the SQL text:

1. the file is opened with `mode=ro` (a URI filename): SQLite cannot write it at all;
2. `PRAGMA query_only=ON` on every connection;
3. an authorizer (`sqlite3.Connection.set_authorizer`) that SQLite consults while it compiles
   each statement: only reads, functions, recursive CTEs and a list of read-only PRAGMAs pass.
   It is what stops `ATTACH DATABASE 'x.db'` — which even on a `mode=ro` connection creates
   the file and would let a query read any SQLite file the process can — and
   `PRAGMA query_only=OFF`. `ATTACH`/`DETACH` are refused in write mode too.

A `tables` allow-list is enforced for `run_query` by the same authorizer (a read of any other
table, the schema table included, is refused). The driver itself runs one statement per call
(`SELECT 1; DELETE ...` is an error).

The time limit is a progress handler that SQLite calls every thousand VM steps: past the
deadline, or when the caller is cancelled, it aborts the statement ("interrupted").
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import anyio
import anyio.to_thread
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.reflection import Inspector
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from covey.spec.errors import ConfigurationError
from covey.tools.sql._backend import Outcome, QueryFailed, QueryRefused, QueryTimedOut, TableFilter

__all__ = ["SqliteBackend"]

T = TypeVar("T")

_PROGRESS_STEPS = 1000

# PRAGMAs that only read; SQLAlchemy's inspector uses the table/index/foreign-key ones.
_READ_PRAGMAS = frozenset(
    {
        "table_info",
        "table_xinfo",
        "table_list",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "collation_list",
        "function_list",
        "pragma_list",
        "database_list",
        "compile_options",
        "encoding",
        "user_version",
        "schema_version",
        "page_count",
        "page_size",
        "freelist_count",
        "query_only",
    }
)
# PRAGMAs taking a table or index name as their argument, not a new value.
_NAME_ARG_PRAGMAS = frozenset(
    {"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list"}
)
_READ_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
# Actions whose first argument is the table they touch.
_TABLE_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_READ,
        sqlite3.SQLITE_INSERT,
        sqlite3.SQLITE_UPDATE,
        sqlite3.SQLITE_DELETE,
        sqlite3.SQLITE_DROP_TABLE,
    }
)
_NEVER = frozenset({sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH})


def _authorizer(
    read_only: bool, tables: TableFilter | None
) -> Callable[[int, str | None, str | None, str | None, str | None], int]:
    def authorize(
        action: int, arg1: str | None, arg2: str | None, db: str | None, _trigger: str | None
    ) -> int:
        if action in _NEVER:
            return sqlite3.SQLITE_DENY
        if read_only and action not in _READ_ACTIONS:
            if action != sqlite3.SQLITE_PRAGMA:
                return sqlite3.SQLITE_DENY
            name = (arg1 or "").lower()
            if name not in _READ_PRAGMAS or (arg2 is not None and name not in _NAME_ARG_PRAGMAS):
                return sqlite3.SQLITE_DENY
        if tables is not None and action in _TABLE_ACTIONS and arg1 is not None:
            schema = None if db in (None, "main") else db
            if not tables(schema, arg1):
                return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    return authorize


class SqliteBackend:
    """A SQLite file (or a private in-memory database), or a synchronous SQLAlchemy engine."""

    dialect = "sqlite"
    default_schema = "main"

    def __init__(
        self,
        path: str | None,
        *,
        read_only: bool,
        tables: TableFilter | None,
        engine: Engine | None = None,
    ) -> None:
        self._path = path
        self._read_only = read_only
        self._tables = tables
        self._given = engine
        self._engine: Engine | None = engine
        # One in-memory connection is shared; calls on it take turns.
        self._serial = threading.Lock() if (engine is None and path is None) else None

    def _connect(self) -> sqlite3.Connection:
        assert self._path is not None
        absolute = Path(self._path).expanduser().resolve()
        mode = "ro" if self._read_only else "rwc"
        if self._read_only and not absolute.is_file():
            raise ConfigurationError(
                f"No SQLite database file at {str(absolute)!r}: a read-only SQL toolset opens an "
                "existing file (it never creates one)."
            )
        uri = f"file:{quote(str(absolute))}?mode={mode}"
        connection = sqlite3.connect(
            uri, uri=True, check_same_thread=False, isolation_level=None, timeout=5.0
        )
        if self._read_only:
            connection.execute("PRAGMA query_only=ON")
        return connection

    def _memory(self) -> sqlite3.Connection:
        connection = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        if self._read_only:
            connection.execute("PRAGMA query_only=ON")
        return connection

    async def open(self) -> None:
        if self._engine is None:
            if self._path is None:
                self._engine = create_engine(
                    "sqlite+pysqlite://", creator=self._memory, poolclass=StaticPool
                )
            else:
                self._engine = create_engine("sqlite+pysqlite://", creator=self._connect)

    async def close(self) -> None:
        if self._engine is not None and self._given is None:
            self._engine.dispose()
            self._engine = None

    @contextmanager
    def _guarded(
        self, tables: TableFilter | None, limit: float, deadline: float, stop: threading.Event
    ) -> Generator[tuple[Connection, sqlite3.Connection]]:
        """A pooled connection (and its `sqlite3` one) with the authorizer and deadline set."""
        assert self._engine is not None
        if self._serial is not None and not self._serial.acquire(
            timeout=max(0.0, deadline - time.monotonic())
        ):
            raise QueryTimedOut(_timed_out(limit))
        try:
            with self._engine.connect() as conn:
                if stop.is_set():  # the caller gave up while this call waited for its turn
                    raise QueryTimedOut(_timed_out(limit))
                raw = conn.connection.dbapi_connection
                assert isinstance(raw, sqlite3.Connection)
                if self._read_only:
                    raw.execute("PRAGMA query_only=ON")  # an engine given by the caller
                # Waiting for another process's lock ends by the deadline too (SQLite's busy
                # handler sleeps outside the VM, where the progress handler cannot stop it).
                busy = raw.execute("PRAGMA busy_timeout").fetchone()
                wait_ms = max(0, round((deadline - time.monotonic()) * 1000))
                raw.execute(f"PRAGMA busy_timeout = {wait_ms}")
                raw.set_authorizer(_authorizer(self._read_only, tables))
                raw.set_progress_handler(
                    lambda: 1 if stop.is_set() or time.monotonic() > deadline else 0,
                    _PROGRESS_STEPS,
                )
                try:
                    yield conn, raw
                finally:
                    raw.set_progress_handler(None, 0)
                    raw.set_authorizer(None)
                    raw.execute(f"PRAGMA busy_timeout = {int(busy[0]) if busy else 0}")
                    if raw.in_transaction:
                        raw.rollback()
                    if self._read_only and self._given is not None:
                        raw.execute("PRAGMA query_only=OFF")
        finally:
            if self._serial is not None:
                self._serial.release()

    async def _in_thread(self, work: Callable[[threading.Event], T], limit: float) -> T:
        if self._engine is None:
            await self.open()
        stop = threading.Event()
        try:
            # The progress handler ends the statement at the deadline; the outer limit is a
            # safety net for time spent outside SQLite's VM (waiting for a lock, say).
            with anyio.fail_after(limit + 1.0):
                return await anyio.to_thread.run_sync(lambda: work(stop), abandon_on_cancel=True)
        except TimeoutError:
            stop.set()
            raise QueryTimedOut(_timed_out(limit)) from None
        except anyio.get_cancelled_exc_class():
            stop.set()  # the abandoned thread stops at its next progress check
            raise

    async def query(
        self, sql: str, params: dict[str, Any] | None, *, max_rows: int, limit: float
    ) -> Outcome:
        def work(stop: threading.Event) -> Outcome:
            deadline = time.monotonic() + limit
            with self._guarded(self._tables, limit, deadline, stop) as (_, raw):
                try:
                    cursor = raw.execute(sql, params or {})
                    try:
                        columns = [d[0] for d in cursor.description or ()]
                        rows = [tuple(r) for r in cursor.fetchmany(max_rows + 1)]
                        rowcount = cursor.rowcount if cursor.rowcount >= 0 else None
                    finally:
                        cursor.close()
                    if raw.in_transaction and not self._read_only:
                        raw.commit()
                except sqlite3.Error as e:
                    raise self._failure(e, limit, stop, deadline) from None
                except (ValueError, TypeError, OverflowError) as e:  # bad parameter values
                    raise QueryFailed(str(e)) from None
                return Outcome(columns, rows, rowcount)

        return await self._in_thread(work, limit)

    async def inspect(self, work: Callable[[Inspector], T], *, limit: float) -> T:
        def run(stop: threading.Event) -> T:
            deadline = time.monotonic() + limit
            with self._guarded(None, limit, deadline, stop) as (conn, _):
                try:
                    return work(inspect(conn))
                except DBAPIError as e:
                    orig = e.orig if isinstance(e.orig, sqlite3.Error) else sqlite3.Error(str(e))
                    raise self._failure(orig, limit, stop, deadline) from None
                except SQLAlchemyError as e:  # NoSuchTableError and the like
                    raise QueryFailed(str(e).split("\n", 1)[0]) from None

        return await self._in_thread(run, limit)

    def _failure(
        self, error: sqlite3.Error, limit: float, stop: threading.Event, deadline: float
    ) -> QueryFailed:
        message = str(error)
        if message == "interrupted" and (stop.is_set() or time.monotonic() > deadline):
            return QueryTimedOut(_timed_out(limit))
        if "not authorized" in message or "readonly" in message or "read-only" in message:
            return QueryRefused(message)
        return QueryFailed(message)


def _timed_out(limit: float) -> str:
    return f"the statement ran past the time limit of {limit:g} s and was stopped"
