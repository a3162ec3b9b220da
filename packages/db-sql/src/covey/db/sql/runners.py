"""Run one transaction function on the store's database, the same way on SQLite and PostgreSQL.

Every store operation is a synchronous function of a SQLAlchemy `Connection` (Core statements)
that a runner executes as one transaction — `read` (plain `BEGIN`, rolled back at the end) or
`write` (committed when the function returns, rolled back when it raises):

- `SqliteRunner`: on a synchronous `sqlite3` engine. A transaction first runs inline, on the
  event loop, with SQLite's busy timeout at zero: a local SQLite transaction of a few statements
  takes tens of microseconds, less than a thread round trip. If the database is busy (another
  process or one of this process's worker threads holds the lock SQLite needs) the attempt is
  rolled back at once and the transaction runs again in one worker-thread hop
  (`anyio.to_thread.run_sync`), where it waits up to the busy timeout without blocking the loop.
  Large reads (`inline=False`) always take the thread. A capacity limiter the size of the
  connection pool bounds the threads; writes of this process queue on a lock instead of polling
  SQLite's file lock; an in-memory database (one shared connection) runs one transaction at a
  time. Transaction functions may therefore run twice: they have no effect outside the
  database.
- `PostgresRunner`: on the async asyncpg engine, through `AsyncConnection.run_sync`
  (SQLAlchemy's greenlet bridge), exactly as the async API would run the same statements.

Cancellation never leaves a transaction half-done. SQLite: a transaction that has started in
its worker thread is never abandoned; it commits or rolls back, and the caller's cancellation
(anyio's, or asyncio's `Task.cancel`) is delivered when it has. PostgreSQL: SQLAlchemy rolls
back, or discards the connection (the server then rolls back).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from covey.db.sql.engine import writer

__all__ = ["PostgresRunner", "Runner", "SqliteRunner"]

T = TypeVar("T")


class Runner(Protocol):
    """Runs a transaction function; one instance serves one event loop."""

    @property
    def sync_engine(self) -> Engine:
        """The synchronous engine under the runner (for SQLAlchemy event hooks)."""
        ...

    async def read(self, work: Callable[[Connection], T], *, inline: bool = True) -> T:
        """`work(connection)` in a read transaction (rolled back at the end); `inline=False`
        for a read that may be large (SQLite then never runs it on the event loop)."""
        ...

    async def write(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` in a write transaction: committed, or rolled back if it raises."""
        ...


def _read(engine: Engine, work: Callable[[Connection], T]) -> T:
    with engine.connect() as connection:
        return work(connection)


def _write(engine: Engine, work: Callable[[Connection], T]) -> T:
    with engine.begin() as connection:
        return work(connection)


class _Busy(Exception):  # noqa: N818 - a state, not a failure
    """An inline attempt found the database locked; nothing was done."""


def _busy(error: BaseException) -> bool:
    # The BEGIN goes straight to the driver (see `engine`): its error comes unwrapped.
    cause = error.orig if isinstance(error, sa_exc.OperationalError) else error
    code = getattr(cause, "sqlite_errorcode", None)
    # SQLITE_BUSY (5) and SQLITE_LOCKED (6), with any extended code.
    return code is not None and code & 0xFF in (5, 6)


def _attempt(engine: Engine, work: Callable[[Connection], T], *, write: bool, busy_ms: int) -> T:
    """`work` in one transaction without waiting for any lock; `_Busy` if one is taken."""
    with engine.connect() as connection:
        driver: Any = connection.connection.driver_connection
        driver.execute("PRAGMA busy_timeout = 0")
        try:
            if write:
                with connection.begin():
                    return work(connection)
            return work(connection)
        except (sa_exc.OperationalError, sqlite3.OperationalError) as error:
            if _busy(error):
                raise _Busy from error
            raise
        finally:
            driver.execute(f"PRAGMA busy_timeout = {busy_ms}")


class SqliteRunner:
    """Transactions on a synchronous SQLite engine, each in one worker-thread hop.

    Args:
        engine: From `covey.db.sql.engine.create_sqlite_engine`; shared by the runners of
            successive event loops.
        connections: The most connections the engine's pool opens (the thread limit).
        serial: One transaction at a time (an in-memory database: one shared connection).
        pool_timeout: Seconds to wait for a free connection before `sqlalchemy.exc.TimeoutError`.
        busy_timeout: Seconds a transaction in a worker thread waits for a lock (the engine's
            setting, restored after each inline attempt).
        inline: Try each transaction on the event loop first; `False`: always a worker thread.
    """

    __slots__ = (
        "_busy_ms",
        "_inline",
        "_pool_timeout",
        "_reader",
        "_serial",
        "_slots",
        "_threads",
        "_write_lock",
        "_writer",
    )

    def __init__(
        self,
        engine: Engine,
        *,
        connections: int,
        serial: bool,
        pool_timeout: float,
        busy_timeout: float = 30.0,
        inline: bool = True,
    ) -> None:
        self._inline = inline
        self._reader = engine
        self._writer = writer(engine)
        self._serial = serial
        self._pool_timeout = pool_timeout
        self._busy_ms = int(busy_timeout * 1000)
        # A connection slot is taken (with pool_timeout) before the thread limiter, which
        # therefore never makes anyone wait.
        self._slots = asyncio.Semaphore(connections)
        self._threads = anyio.CapacityLimiter(connections)
        self._write_lock = asyncio.Lock()

    @property
    def sync_engine(self) -> Engine:
        """The engine (for SQLAlchemy event hooks)."""
        return self._reader

    async def read(self, work: Callable[[Connection], T], *, inline: bool = True) -> T:
        """`work(connection)` in a `BEGIN` transaction, rolled back at the end."""
        if self._serial:
            async with self._write_lock:
                return await self._run(_read, self._reader, work, write=False, inline=inline)
        return await self._run(_read, self._reader, work, write=False, inline=inline)

    async def write(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` in a `BEGIN IMMEDIATE` transaction, committed unless it raises."""
        async with self._write_lock:
            return await self._run(_write, self._writer, work, write=True, inline=True)

    async def _run(
        self,
        transaction: Callable[[Engine, Callable[[Connection], T]], T],
        engine: Engine,
        work: Callable[[Connection], T],
        *,
        write: bool,
        inline: bool,
    ) -> T:
        # Inline only with a connection free at once: checking one out must never block the loop.
        if inline and self._inline and not self._slots.locked():
            await self._slots.acquire()  # free: returns without suspending
            try:
                return _attempt(engine, work, write=write, busy_ms=self._busy_ms)
            except _Busy:
                pass  # nothing was done; wait for the lock in a worker thread
            finally:
                self._slots.release()
        return await self._in_thread(transaction, engine, work)

    async def _in_thread(
        self,
        transaction: Callable[[Engine, Callable[[Connection], T]], T],
        engine: Engine,
        work: Callable[[Connection], T],
    ) -> T:
        if self._slots.locked():
            acquired = False
            with anyio.move_on_after(self._pool_timeout):
                await self._slots.acquire()
                acquired = True
            if not acquired:
                raise sa_exc.TimeoutError(
                    f"no database connection became free within {self._pool_timeout} s"
                )
        else:
            await self._slots.acquire()  # free: returns at once
        call = _ThreadCall(partial(transaction, engine, work))
        try:
            return await anyio.to_thread.run_sync(call.run, limiter=self._threads)
        except asyncio.CancelledError:
            await call.finish()  # keep the slot (and the write lock) until the thread is done
            raise
        finally:
            self._slots.release()


class _DroppedError(Exception):
    """The caller was cancelled before its transaction started; it never will."""


class _ThreadCall(Generic[T]):
    """A transaction handed to a worker thread, which its cancelled caller can wait out.

    anyio's cancellation already waits for the thread (`to_thread.run_sync` shields it);
    asyncio's `Task.cancel` does not, and would let the caller go while the transaction runs.
    """

    __slots__ = ("_call", "_guard", "_state")

    def __init__(self, call: Callable[[], T]) -> None:
        self._call = call
        self._guard = threading.Lock()
        self._state = "queued"  # then "running" and "done", or "dropped"

    def run(self) -> T:
        """In the worker thread: the transaction, unless its caller has given up on it."""
        with self._guard:
            if self._state == "dropped":
                raise _DroppedError
            self._state = "running"
        try:
            return self._call()
        finally:
            self._state = "done"

    async def finish(self) -> None:
        """After a cancellation: drop the transaction if not started, else wait for its end."""
        with self._guard:
            if self._state == "queued":
                self._state = "dropped"
                return
        with anyio.CancelScope(shield=True):
            while self._state != "done":
                with suppress(asyncio.CancelledError):  # asyncio's cancel again: still wait
                    await asyncio.sleep(0.001)


class PostgresRunner:
    """Transactions on an async engine, through `AsyncConnection.run_sync`.

    Args:
        engine: From `covey.db.sql.engine.create_postgres_engine`; bound to one event loop.
    """

    __slots__ = ("engine",)

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @property
    def sync_engine(self) -> Engine:
        """The engine's synchronous core (for SQLAlchemy event hooks)."""
        return self.engine.sync_engine

    async def read(self, work: Callable[[Connection], T], *, inline: bool = True) -> T:
        """`work(connection)` in a transaction that is rolled back at the end (`inline` is for
        SQLite; here every transaction is a round trip to the server)."""
        del inline
        async with self.engine.connect() as connection:
            return await connection.run_sync(work)

    async def write(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` in a transaction, committed unless it raises."""
        async with self.engine.begin() as connection:
            return await connection.run_sync(work)
