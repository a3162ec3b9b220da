"""SQLite transactions in worker threads (`inline=False`, or a busy database): cancelled
callers, the connection limit, and the one shared connection of an in-memory database."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import anyio.to_thread
import pytest
from sqlalchemy import event

from covey.db.sql import SqlStore, StoreUnavailableError
from covey.spec.store import Memory, Scope, Session

SCOPE = Scope("t", "u")


@contextmanager
def held_at(
    store: SqlStore, statement_start: str
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Stop the worker thread before it runs a statement starting with `statement_start`.

    Yields `(reached, release)`: set when a thread is held there, and to let it go on.
    """
    bound = store._bound
    assert bound is not None, "use the store once first"
    engine = bound.runner.sync_engine
    reached, release = threading.Event(), threading.Event()

    def hold(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(statement_start):
            reached.set()
            assert release.wait(10), "the test never released the held statement"

    event.listen(engine, "before_cursor_execute", hold)
    try:
        yield reached, release
    finally:
        release.set()
        event.remove(engine, "before_cursor_execute", hold)


async def _memory_is_whole(store: SqlStore) -> None:
    memory = await store.get_memory(SCOPE, "m")
    assert memory is not None and memory.topics == ["a"]
    assert [m.id for m in (await store.list_memories(SCOPE, topic="a")).items] == ["m"]


async def test_an_anyio_cancelled_call_waits_for_its_transaction(sqlite_url: str) -> None:
    """Cancelled mid-transaction, `add_memory` returns only once its worker thread has
    committed (memory and topics together). If it returned early, the next call could race the
    transaction still running; if the thread were stopped, the memory would lack its topics."""
    async with SqlStore(sqlite_url, inline=False) as store:
        await store.get_session(SCOPE, "warm-up")
        returned = anyio.Event()
        with held_at(store, "INSERT INTO COVEY_MEMORY_TOPICS") as (reached, release):
            async with anyio.create_task_group() as tg:
                cancel = anyio.CancelScope()

                async def add() -> None:
                    with cancel:
                        await store.add_memory(
                            SCOPE, Memory(id="m", user_id="u", memory="x", topics=["a"])
                        )
                    returned.set()

                tg.start_soon(add)
                await anyio.to_thread.run_sync(reached.wait, 10)
                cancel.cancel()
                await anyio.sleep(0.1)
                assert not returned.is_set(), "the cancelled call left its transaction running"
                release.set()
        await _memory_is_whole(store)


async def test_an_asyncio_cancelled_call_waits_for_its_transaction(sqlite_url: str) -> None:
    """The same with asyncio's `Task.cancel`, which anyio's shield does not stop; a write queued
    behind it, cancelled before it started, never runs."""
    async with SqlStore(sqlite_url, inline=False) as store:
        await store.get_session(SCOPE, "warm-up")
        with held_at(store, "INSERT INTO COVEY_MEMORY_TOPICS") as (reached, release):
            adding = asyncio.ensure_future(
                store.add_memory(SCOPE, Memory(id="m", user_id="u", memory="x", topics=["a"]))
            )
            queued = asyncio.ensure_future(
                store.save_session(SCOPE, Session(id="queued"), expected_version=0)
            )
            await anyio.to_thread.run_sync(reached.wait, 10)
            adding.cancel()
            queued.cancel()
            await asyncio.sleep(0.1)
            assert not adding.done(), "the cancelled call left its transaction running"
            release.set()
            with pytest.raises(asyncio.CancelledError):
                await adding
            with pytest.raises(asyncio.CancelledError):
                await queued
        await _memory_is_whole(store)
        assert await store.get_session(SCOPE, "queued") is None
        await store.save_session(SCOPE, Session(id="after"), expected_version=0)


async def test_waiting_past_pool_timeout_for_a_connection_is_unavailable(
    sqlite_url: str,
) -> None:
    """With every connection busy, a call waits `pool_timeout` for one, then raises
    `StoreUnavailableError` naming the pool settings; the store works again afterwards."""
    async with SqlStore(
        sqlite_url, inline=False, pool_size=1, max_overflow=0, pool_timeout=0.2
    ) as store:
        await store.get_session(SCOPE, "warm-up")
        with held_at(store, "SELECT") as (reached, release):
            async with anyio.create_task_group() as tg:
                tg.start_soon(store.get_session, SCOPE, "slow")
                await anyio.to_thread.run_sync(reached.wait, 10)
                with pytest.raises(StoreUnavailableError, match="pool_size or pool_timeout"):
                    await store.get_run(SCOPE, "r")
                release.set()
        assert await store.get_run(SCOPE, "r") is None


async def test_in_memory_database_serves_concurrent_tasks() -> None:
    """One shared connection, used by one worker thread at a time: concurrent writers and
    readers all get correct answers."""
    async with SqlStore("sqlite://") as store:

        async def bump(i: int) -> None:
            saved = await store.save_session(SCOPE, Session(id=f"s{i}"), expected_version=0)
            for version in range(1, 4):
                got = await store.get_session(SCOPE, f"s{i}")
                assert got is not None and got.version == version
                saved = await store.save_session(SCOPE, saved, expected_version=version)

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(bump, i)
        sessions = (await store.list_sessions(SCOPE, limit=100)).items
        assert sorted(s.version for s in sessions) == [4] * 20


def test_in_memory_database_outlives_event_loops() -> None:
    """Successive `asyncio.run` calls share the in-memory database, as they share a file."""
    store = SqlStore("sqlite://")

    async def bump(expected: int) -> int:
        current = await store.get_session(SCOPE, "s") or Session(id="s")
        return (await store.save_session(SCOPE, current, expected_version=expected)).version

    assert [asyncio.run(bump(v)) for v in range(3)] == [1, 2, 3]
    asyncio.run(store.close())
