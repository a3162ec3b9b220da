"""Run one transaction function on the store's database, the same way on SQLite and PostgreSQL.

Every store operation is a synchronous function of a SQLAlchemy `Connection` (Core statements)
that a runner executes as one transaction — `read` (plain `BEGIN`, rolled back at the end) or
`write` (committed when the function returns, rolled back when it raises):

- `SqliteRunner`: on a synchronous `sqlite3` engine, the whole transaction in one worker-thread
  hop (`anyio.to_thread.run_sync`), so an operation costs the event loop one thread round trip
  instead of one per driver call (BEGIN, execute, fetch, commit). A capacity limiter the size of
  the connection pool bounds the threads; writes of this process queue on a lock instead of
  polling SQLite's file lock; an in-memory database (one shared connection) runs one
  transaction at a time.
- `PostgresRunner`: on the async asyncpg engine, through `AsyncConnection.run_sync`
  (SQLAlchemy's greenlet bridge), exactly as the async API would run the same statements.

Cancellation never leaves a transaction half-done. SQLite: a transaction that has started in
its worker thread is never abandoned; it commits or rolls back, and the caller's cancellation
(anyio's, or asyncio's `Task.cancel`) is delivered when it has. PostgreSQL: SQLAlchemy rolls
back, or discards the connection (the server then rolls back).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from typing import Generic, Protocol, TypeVar

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

    async def read(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` in a read transaction (rolled back at the end)."""
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


class SqliteRunner:
    """Transactions on a synchronous SQLite engine, each in one worker-thread hop.

    Args:
        engine: From `covey.db.sql.engine.create_sqlite_engine`; shared by the runners of
            successive event loops.
        connections: The most connections the engine's pool opens (the thread limit).
        serial: One transaction at a time (an in-memory database: one shared connection).
        pool_timeout: Seconds to wait for a free connection before `sqlalchemy.exc.TimeoutError`.
    """

    __slots__ = (
        "_pool_timeout",
        "_reader",
        "_serial",
        "_slots",
        "_threads",
        "_write_lock",
        "_writer",
    )

    def __init__(
        self, engine: Engine, *, connections: int, serial: bool, pool_timeout: float
    ) -> None:
        self._reader = engine
        self._writer = writer(engine)
        self._serial = serial
        self._pool_timeout = pool_timeout
        # A connection slot is taken (with pool_timeout) before the thread limiter, which
        # therefore never makes anyone wait.
        self._slots = asyncio.Semaphore(connections)
        self._threads = anyio.CapacityLimiter(connections)
        self._write_lock = asyncio.Lock()

    @property
    def sync_engine(self) -> Engine:
        """The engine (for SQLAlchemy event hooks)."""
        return self._reader

    async def read(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` in a `BEGIN` transaction, rolled back at the end."""
        if self._serial:
            async with self._write_lock:
                return await self._in_thread(_read, self._reader, work)
        return await self._in_thread(_read, self._reader, work)

    async def write(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` in a `BEGIN IMMEDIATE` transaction, committed unless it raises."""
        async with self._write_lock:
            return await self._in_thread(_write, self._writer, work)

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

    async def read(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` in a transaction that is rolled back at the end."""
        async with self.engine.connect() as connection:
            return await connection.run_sync(work)

    async def write(self, work: Callable[[Connection], T]) -> T:
        """`work(connection)` in a transaction, committed unless it raises."""
        async with self.engine.begin() as connection:
            return await connection.run_sync(work)
