"""Fifty concurrent writers on each database: no event lost, duplicated or reordered; no lost
session update."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from covey.db.sql import SqlStore
from covey.spec.errors import ConflictError
from covey.spec.events import TextDelta
from covey.spec.store import Run, Scope, Session

WRITERS = 50
SESSIONS = 10  # five writers share each session
BATCHES = 6
BATCH = 5
INCREMENTS = 4


async def test_fifty_writers_keep_every_event_and_every_update(db_store: SqlStore) -> None:
    """Each writer runs its own run, appending its events in batches (as the run loop does),
    beating the heart between batches, and adding to its session's counters with
    read-modify-write under `expected_version`, retrying on `ConflictError`."""
    scope = Scope("t", "alice")
    conflicts = 0

    async def bump(session_id: str, writer: int) -> None:
        nonlocal conflicts
        while True:
            current = await db_store.get_session(scope, session_id)
            expected = 0 if current is None else current.version
            state = {} if current is None else dict(current.state)
            state["total"] = state.get("total", 0) + 1
            state[f"w{writer}"] = state.get(f"w{writer}", 0) + 1
            session = current or Session(id=session_id)
            try:
                await db_store.save_session(
                    scope, session.model_copy(update={"state": state}), expected_version=expected
                )
                return
            except ConflictError:
                conflicts += 1
                await anyio.lowlevel.checkpoint()

    async def writer(i: int) -> None:
        run_id = f"run-{i}"
        session_id = f"session-{i % SESSIONS}"
        await db_store.save_run(scope, Run(id=run_id, session_id=session_id))
        seq = 0
        for batch in range(BATCHES):
            events = []
            for _ in range(BATCH):
                seq += 1
                events.append(TextDelta(run_id=run_id, seq=seq, delta=f"{i}:{seq}"))
            await db_store.append_events(scope, run_id, events)
            assert await db_store.heartbeat(scope, run_id) is False
            if batch < INCREMENTS:
                await bump(session_id, i)

    async with anyio.create_task_group() as tg:
        for i in range(WRITERS):
            tg.start_soon(writer, i)

    for i in range(WRITERS):
        got = await db_store.list_events(scope, f"run-{i}")
        expected = [f"{i}:{s}" for s in range(1, BATCHES * BATCH + 1)]
        assert [e.delta for e in got if isinstance(e, TextDelta)] == expected
        assert [e.seq for e in got] == list(range(1, BATCHES * BATCH + 1))
    per_session = WRITERS // SESSIONS
    for k in range(SESSIONS):
        session = await db_store.get_session(scope, f"session-{k}")
        assert session is not None
        assert session.state["total"] == per_session * INCREMENTS
        assert session.version == per_session * INCREMENTS
        writers = [i for i in range(WRITERS) if i % SESSIONS == k]
        assert {f"w{i}": INCREMENTS for i in writers} == {
            key: value for key, value in session.state.items() if key != "total"
        }
    runs = await db_store.list_runs(scope, limit=WRITERS + 1)
    assert len(runs.items) == WRITERS


@pytest.mark.parametrize("writers", [WRITERS])
async def test_racing_appends_of_one_seq_store_it_once(db_store: SqlStore, writers: int) -> None:
    """Writers racing to append the same seqs to one run: each seq lands exactly once."""
    scope = Scope("t")
    await db_store.save_run(scope, Run(id="r"))
    won: list[int] = []

    async def append(i: int) -> None:
        try:
            await db_store.append_events(
                scope, "r", [TextDelta(run_id="r", seq=s, delta=f"{i}") for s in (1, 2, 3)]
            )
            won.append(i)
        except ConflictError:
            pass

    async with anyio.create_task_group() as tg:
        for i in range(writers):
            tg.start_soon(append, i)
    assert len(won) == 1
    got = await db_store.list_events(scope, "r")
    assert [(e.seq, getattr(e, "delta", None)) for e in got] == [
        (s, str(won[0])) for s in (1, 2, 3)
    ]
