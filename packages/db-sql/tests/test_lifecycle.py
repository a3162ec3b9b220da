"""Construction, first use, closing, event loops, and the database settings each backend gets."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import anyio
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from covey.db.sql import SqlStore
from covey.spec.errors import ConfigurationError, ConflictError
from covey.spec.events import RunStarted
from covey.spec.runs import RunStatus
from covey.spec.store import Run, Scope, Session


def test_constructing_does_no_io(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "covey.db"
    SqlStore(f"sqlite:///{path}")
    SqlStore("postgresql://nobody@127.0.0.1:1/nothing")  # nothing listens there: no error yet
    assert not path.parent.exists()


async def test_first_use_creates_the_file_and_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "data" / "covey.db"
    async with SqlStore(f"sqlite:///{path}") as store:
        await store.save_session(Scope(), Session(id="s"), expected_version=0)
    assert path.is_file()


async def test_close_twice_then_use_again(db_url: str) -> None:
    store = SqlStore(db_url)
    await store.save_session(Scope(), Session(id="s"), expected_version=0)
    await store.close()
    await store.close()
    got = await store.get_session(Scope(), "s")  # reconnects
    assert got is not None
    await store.close()


def test_one_store_across_event_loops(db_url: str) -> None:
    """Successive `asyncio.run` calls (as `Agent.run_sync` makes) share one store."""
    store = SqlStore(db_url)

    async def bump(expected: int) -> int:
        current = await store.get_session(Scope(), "s") or Session(id="s")
        saved = await store.save_session(Scope(), current, expected_version=expected)
        return saved.version

    assert [asyncio.run(bump(v)) for v in range(4)] == [1, 2, 3, 4]
    asyncio.run(store.close())


def test_bad_options_are_refused_at_construction() -> None:
    with pytest.raises(ConfigurationError):
        SqlStore("sqlite:///x.db", pool_size=0)
    with pytest.raises(ConfigurationError):
        SqlStore("sqlite:///x.db", max_json_bytes=-1)
    with pytest.raises(ConfigurationError):
        SqlStore("sqlite:///x.db", busy_timeout="long")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        SqlStore("mysql://u@h/db")


async def test_sqlite_uses_wal_and_enforces_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "covey.db"
    async with SqlStore(f"sqlite:///{path}") as store:
        await store.migrate()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    store = SqlStore(f"sqlite:///{path}")
    runner = (await store._bind()).runner
    settings = await runner.read(
        lambda c: [
            c.execute(text(f"PRAGMA {name}")).scalar()
            for name in ("foreign_keys", "busy_timeout", "synchronous")
        ],
        inline=False,
    )
    assert settings == [1, 30000, 1]  # synchronous = NORMAL
    # An inline attempt never waits for a lock; the connection gets its busy timeout back.
    inline = await runner.read(lambda c: c.execute(text("PRAGMA busy_timeout")).scalar())
    assert inline == 0
    after = await runner.read(
        lambda c: c.execute(text("PRAGMA busy_timeout")).scalar(), inline=False
    )
    assert after == 30000
    await store.close()


async def test_a_locked_sqlite_file_is_waited_for_off_the_event_loop(tmp_path: Path) -> None:
    # Another process holds the write lock: the store's inline attempt gives up at once and its
    # write waits in a worker thread, so the event loop keeps running meanwhile.
    path = tmp_path / "covey.db"
    store = SqlStore(f"sqlite:///{path}")
    await store.migrate()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.sleep(0.01)

    async with anyio.create_task_group() as tg:
        tg.start_soon(tick)
        save = anyio.Event()

        async def write() -> None:
            await store.save_run(Scope(tenant_id="t"), Run(id="r1"))
            save.set()

        tg.start_soon(write)
        await anyio.sleep(0.3)
        assert not save.is_set()  # still waiting for the other process's lock
        assert ticks >= 10  # ... without blocking the loop
        other.execute("COMMIT")
        with anyio.fail_after(10):
            await save.wait()
        tg.cancel_scope.cancel()
    other.close()
    assert (await store.get_run(Scope(tenant_id="t"), "r1")) is not None
    await store.close()


async def test_in_memory_sqlite_works_for_tests() -> None:
    async with SqlStore("sqlite://") as store:
        await store.save_session(Scope(), Session(id="s"), expected_version=0)
        assert await store.get_session(Scope(), "s") is not None


@pytest.mark.postgres
async def test_postgres_json_columns_are_jsonb(postgres_url: str) -> None:
    async with SqlStore(postgres_url) as store:
        await store.migrate()
    engine = create_async_engine(postgres_url.replace("postgresql://", "postgresql+asyncpg://"))
    async with engine.connect() as c:
        types = dict(
            (
                await c.execute(
                    text(
                        "SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_name = 'covey_runs'"
                    )
                )
            ).all()
        )
    await engine.dispose()
    for column in ("messages", "usage", "tool_calls", "requirements", "error", "metadata"):
        assert types[column] == "jsonb", column
    assert types["created_at"] == "timestamp with time zone"


async def test_save_run_and_events_is_one_transaction(tmp_path: Path) -> None:
    # A refused event (its seq is taken) leaves the record as it was: nothing is written.
    store = SqlStore(f"sqlite:///{tmp_path / 'covey.db'}")
    scope = Scope(tenant_id="t")
    await store.save_run_and_events(
        scope, Run(id="r1"), [RunStarted(run_id="r1", seq=1, input="hi")]
    )
    done = Run(id="r1", status=RunStatus.COMPLETED, output="late")
    with pytest.raises(ConflictError):
        await store.save_run_and_events(scope, done, [RunStarted(run_id="r1", seq=1)])
    stored = await store.get_run(scope, "r1")
    assert stored is not None and stored.status is RunStatus.RUNNING and stored.output is None
    await store.close()
