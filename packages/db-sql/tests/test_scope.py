"""Scope isolation the conformance suite does not reach, and run recovery."""

from __future__ import annotations

from datetime import timedelta

import pytest

from covey.db.sql import SqlStore
from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.events import TextDelta
from covey.spec.runs import RunStatus
from covey.spec.store import (
    Approval,
    Learning,
    Memory,
    Run,
    Schedule,
    Scope,
    Session,
    utc_now,
)

A, B = Scope("tenant-a"), Scope("tenant-b")
ALICE, BOB = A.for_user("alice"), A.for_user("bob")


async def test_deleting_a_session_leaves_other_tenants_runs_alone(db_store: SqlStore) -> None:
    """Tenant B's runs and events under the same session and run ids survive A's delete."""
    for scope in (A, B):
        await db_store.save_session(scope, Session(id="s1"), expected_version=0)
        await db_store.save_run(scope, Run(id="r1", session_id="s1"))
        await db_store.append_events(scope, "r1", [TextDelta(run_id="r1", seq=1, delta="x")])
        await db_store.save_approval(
            scope, Approval(id="a1", run_id="r1", tool_call_id="c", tool_name="t")
        )
    await db_store.delete_session(A, "s1")
    assert await db_store.get_run(A, "r1") is None
    assert await db_store.get_run(B, "r1") is not None
    assert len(await db_store.list_events(B, "r1")) == 1
    assert await db_store.get_approval(B, "a1") is not None
    assert await db_store.get_session(B, "s1") is not None


async def test_memory_topics_are_scoped(db_store: SqlStore) -> None:
    """The topic filter never finds another tenant's or user's memories."""
    await db_store.add_memory(ALICE, Memory(id="m", user_id="alice", memory="a", topics=["t"]))
    await db_store.add_memory(BOB, Memory(id="mb", user_id="bob", memory="b", topics=["t"]))
    await db_store.add_memory(B, Memory(id="m", user_id="alice", memory="b", topics=["t"]))
    assert [m.id for m in (await db_store.list_memories(ALICE, topic="t")).items] == ["m"]
    assert [m.id for m in (await db_store.list_memories(BOB, topic="t")).items] == ["mb"]
    assert sorted(m.id for m in (await db_store.list_memories(A, topic="t")).items) == ["m", "mb"]
    await db_store.delete_memory(B, "m")
    assert [m.id for m in (await db_store.list_memories(ALICE, topic="t")).items] == ["m"]
    assert (await db_store.list_memories(B, topic="t")).items == []


async def test_a_user_scope_recovers_and_lists_only_its_own_runs(db_store: SqlStore) -> None:
    old = utc_now() - timedelta(hours=1)
    await db_store.save_run(ALICE, Run(id="ra", heartbeat_at=old))
    await db_store.save_run(BOB, Run(id="rb", heartbeat_at=old))
    assert await db_store.mark_stale_runs_interrupted(ALICE, older_than=timedelta(minutes=1)) == [
        "ra"
    ]
    bob_run = await db_store.get_run(BOB, "rb")
    assert bob_run is not None
    assert bob_run.status is RunStatus.RUNNING
    assert [r.id for r in (await db_store.list_runs(ALICE)).items] == ["ra"]
    assert [r.id for r in (await db_store.list_runs(A, status=RunStatus.RUNNING)).items] == ["rb"]


async def test_due_schedules_per_user(db_store: SqlStore) -> None:
    past = utc_now() - timedelta(minutes=1)
    for scope, sid in ((ALICE, "sa"), (BOB, "sb"), (B, "sa")):
        await db_store.save_schedule(
            scope,
            Schedule(
                id=sid, name=sid, target_id="agent", trigger="interval", spec="60", next_run_at=past
            ),
        )
    now = utc_now()
    assert [s.id for s in await db_store.list_due(ALICE, now)] == ["sa"]
    assert [s.id for s in await db_store.list_due(A, now)] == ["sa", "sb"]
    assert [s.id for s in await db_store.list_due(B, now)] == ["sa"]


async def test_shared_learnings_cannot_be_overwritten_by_a_user(db_store: SqlStore) -> None:
    await db_store.add_learning(A, Learning(id="shared", namespace="ns", content="all"))
    with pytest.raises(ConflictError):
        await db_store.add_learning(ALICE, Learning(id="shared", namespace="ns", content="mine"))
    with pytest.raises(InvalidInputError):
        await db_store.add_learning(
            ALICE, Learning(id="x", namespace="ns", content="c", user_id="bob")
        )
    got = await db_store.get_learning(BOB, "shared")
    assert got is not None
    assert got.content == "all"


async def test_moving_a_run_to_another_user_moves_its_log(db_store: SqlStore) -> None:
    """A tenant-wide save may give a run to another user; its events follow it."""
    await db_store.save_run(ALICE, Run(id="r"))
    await db_store.append_events(ALICE, "r", [TextDelta(run_id="r", seq=1, delta="x")])
    await db_store.save_run(A, Run(id="r", user_id="bob"))
    assert await db_store.list_events(ALICE, "r") == []
    assert [e.seq for e in await db_store.list_events(BOB, "r")] == [1]
    with pytest.raises(NotFoundError):
        await db_store.heartbeat(ALICE, "r")
    assert await db_store.heartbeat(BOB, "r") is False


async def test_stale_runs_are_found_by_heartbeat_age(db_store: SqlStore) -> None:
    """Run recovery: a run whose process stopped beating is marked interrupted; one that beats
    survives; a paused run is never touched, however old."""
    scope = Scope("t")
    long_ago = utc_now() - timedelta(minutes=30)
    await db_store.save_run(scope, Run(id="dead", heartbeat_at=long_ago))
    await db_store.save_run(scope, Run(id="alive", heartbeat_at=long_ago))
    await db_store.save_run(
        scope, Run(id="waiting", status=RunStatus.PAUSED, heartbeat_at=long_ago)
    )
    await db_store.heartbeat(scope, "alive")
    five_minutes = timedelta(minutes=5)
    assert await db_store.mark_stale_runs_interrupted(scope, older_than=five_minutes) == ["dead"]
    assert await db_store.mark_stale_runs_interrupted(scope, older_than=five_minutes) == []
    statuses = {r.id: r.status for r in (await db_store.list_runs(scope)).items}
    assert statuses == {
        "dead": RunStatus.INTERRUPTED,
        "alive": RunStatus.RUNNING,
        "waiting": RunStatus.PAUSED,
    }
