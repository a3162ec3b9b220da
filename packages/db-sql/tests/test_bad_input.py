"""Bad input and failing databases: typed errors, causes chained, nothing half-written."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from covey.db.sql import SqlStore, StoreUnavailableError
from covey.spec.errors import ConflictError, InvalidInputError, StoreError
from covey.spec.events import TextDelta
from covey.spec.messages import ModelRequest, UserPart
from covey.spec.store import Memory, Run, Scope, Session, TraceSpan, UserProfile, utc_now

LIMIT = 4096


@pytest.fixture
async def small_store(db_url: str) -> AsyncIterator[SqlStore]:
    async with SqlStore(db_url, max_json_bytes=LIMIT) as store:
        yield store


async def test_oversized_rows_are_refused_and_nothing_is_written(small_store: SqlStore) -> None:
    store, scope = small_store, Scope("t", "u")
    big = "x" * LIMIT
    with pytest.raises(InvalidInputError, match="MiB of JSON; the limit is"):
        await store.save_session(scope, Session(id="s", state={"big": big}), expected_version=0)
    assert await store.get_session(scope, "s") is None
    with pytest.raises(InvalidInputError, match="max_json_bytes"):
        await store.save_run(
            scope, Run(id="r", messages=[ModelRequest(parts=[UserPart(content=big)])])
        )
    assert await store.get_run(scope, "r") is None
    with pytest.raises(InvalidInputError):
        await store.add_memory(scope, Memory(id="m", user_id="u", memory=big))
    assert await store.get_memory(scope, "m") is None

    await store.save_run(scope, Run(id="r"))
    batch = [TextDelta(run_id="r", seq=1, delta="ok"), TextDelta(run_id="r", seq=2, delta=big)]
    with pytest.raises(InvalidInputError):
        await store.append_events(scope, "r", batch)
    assert await store.list_events(scope, "r") == []

    spans = [
        TraceSpan(trace_id="t", span_id="ok", name="ok", start=utc_now()),
        TraceSpan(trace_id="t", span_id="big", name=big, start=utc_now()),
    ]
    with pytest.raises(InvalidInputError):
        await store.add_spans(scope, spans)
    assert await store.list_spans(scope, "t") == []

    # Just under the limit is fine.
    fits = await store.save_session(
        scope, Session(id="s", state={"x": "y" * (LIMIT // 2)}), expected_version=0
    )
    assert fits.version == 1


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.save_session(Scope(), {"id": "x"}, expected_version=0),
        lambda s: s.save_session(Scope(), Session(id="x"), expected_version="1"),
        lambda s: s.save_session(Scope(), Session(id="x"), expected_version=-1),
        lambda s: s.save_session(Scope(), Session(id="x"), expected_version=True),
        lambda s: s.save_session("default", Session(id="x"), expected_version=0),
        lambda s: s.save_session(
            Scope(), Session.model_construct(id="x", state="not a dict"), expected_version=0
        ),
        lambda s: s.get_session(Scope(), 42),
        lambda s: s.save_run(Scope(), Session(id="x")),
        lambda s: s.list_runs(Scope(), status="bogus"),
        lambda s: s.list_runs(Scope(), limit="10"),
        lambda s: s.mark_stale_runs_interrupted(Scope(), older_than=60),
        lambda s: s.append_events(Scope(), "r", "not events"),
        lambda s: s.append_events(Scope(), "r", [{"seq": 1}]),
        lambda s: s.list_events(Scope(), "r", after_seq="3"),
        lambda s: s.list_due(Scope(), "2024-01-01"),
        lambda s: s.list_schedules(Scope(), enabled="yes"),
        lambda s: s.list_memories(Scope(), topic=3),
        lambda s: s.add_spans(Scope(), [{"trace_id": "t"}]),
        lambda s: s.save_user_profile(Scope(), UserProfile.model_construct(user_id=7, data={})),
        lambda s: s.resolve_approval(Scope(), "a", status="maybe"),
    ],
)
async def test_wrong_types_are_typed_errors(db_store: SqlStore, call: Any) -> None:
    with pytest.raises(InvalidInputError):
        await call(db_store)
    assert (await db_store.list_sessions(Scope())).items == []


async def test_a_failure_mid_transaction_rolls_everything_back(db_store: SqlStore) -> None:
    """`add_memory` writes the memory, then its topics; when the second statement fails, the
    first is undone too, and the error is a `StoreError` with the cause chained."""
    scope = Scope("t", "u")
    await db_store.get_session(scope, "warm-up")  # connect and migrate first
    bound = db_store._bound
    assert bound is not None

    def fail_on_topics(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO COVEY_MEMORY_TOPICS"):
            raise OSError("simulated disk failure")

    event.listen(bound.runner.sync_engine, "before_cursor_execute", fail_on_topics)
    try:
        with pytest.raises(StoreError) as raised:
            await db_store.add_memory(scope, Memory(id="m", user_id="u", memory="x", topics=["a"]))
    finally:
        event.remove(bound.runner.sync_engine, "before_cursor_execute", fail_on_topics)
    assert isinstance(raised.value.__cause__, OSError)
    assert await db_store.get_memory(scope, "m") is None
    # The store is still usable afterwards.
    await db_store.add_memory(scope, Memory(id="m", user_id="u", memory="x", topics=["a"]))
    assert [m.id for m in (await db_store.list_memories(scope, topic="a")).items] == ["m"]


async def test_a_conflicting_span_in_a_batch_writes_none_of_it(db_store: SqlStore) -> None:
    now = utc_now()
    await db_store.add_spans(
        Scope("t", "bob"), [TraceSpan(trace_id="t", span_id="taken", name="bob", start=now)]
    )
    alice = Scope("t", "alice")
    batch = [
        TraceSpan(trace_id="t", span_id="first", name="a", start=now),
        TraceSpan(trace_id="t", span_id="taken", name="a", start=now),
    ]
    with pytest.raises(ConflictError, match="nothing was written"):
        await db_store.add_spans(alice, batch)
    assert await db_store.list_spans(alice, "t") == []
    assert [s.name for s in await db_store.list_spans(Scope("t"), "t")] == ["bob"]


@pytest.mark.postgres
async def test_postgres_refusing_data_is_invalid_input(postgres_url: str) -> None:
    """PostgreSQL cannot keep U+0000 in text or JSONB: a typed error, nothing written."""
    async with SqlStore(postgres_url) as store:
        with pytest.raises(InvalidInputError, match="NUL") as raised:
            await store.save_session(
                Scope(), Session(id="s", summary="nul\x00byte"), expected_version=0
            )
        assert raised.value.__cause__ is not None
        with pytest.raises(InvalidInputError):
            await store.save_session(
                Scope(), Session(id="s", state={"k": "nul\x00"}), expected_version=0
            )
        assert await store.get_session(Scope(), "s") is None


async def test_sqlite_locked_past_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    async with SqlStore(f"sqlite:///{path}", busy_timeout=0.2) as store:
        await store.migrate()
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StoreUnavailableError, match="busy_timeout") as raised:
                await store.save_session(Scope(), Session(id="s"), expected_version=0)
            assert isinstance(raised.value.__cause__, Exception)
        finally:
            other.execute("ROLLBACK")
            other.close()
        saved = await store.save_session(Scope(), Session(id="s"), expected_version=0)
        assert saved.version == 1


async def test_unreachable_postgres_is_unavailable_and_the_password_stays_hidden() -> None:
    store = SqlStore(
        "postgresql://covey:s3cret-pw@127.0.0.1:1/covey", connect_timeout=2, pool_timeout=2
    )
    assert "s3cret-pw" not in repr(store)
    assert "s3cret-pw" not in store.url
    with pytest.raises(StoreUnavailableError) as raised:
        await store.get_session(Scope(), "s")
    error: BaseException | None = raised.value
    while error is not None:
        assert "s3cret-pw" not in str(error)
        assert "s3cret-pw" not in repr(error)
        error = error.__cause__ or error.__context__
    assert "covey:***@127.0.0.1:1" in str(raised.value)
    await store.close()
