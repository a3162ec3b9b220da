"""Construction, first use, closing, event loops, and the database settings each backend gets."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from covey.db.sql import SqlStore
from covey.spec.errors import ConfigurationError
from covey.spec.store import Scope, Session


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
        ]
    )
    assert settings == [1, 30000, 1]  # synchronous = NORMAL
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
