"""`Retention` keeps a long-running `MemoryStore` bounded: counts of kept rows, not RSS."""

from __future__ import annotations

import pytest

from covey.db.memory import MemoryStore, Retention
from covey.spec.errors import ConfigurationError, ConflictError, InvalidInputError
from covey.spec.events import TextDelta
from covey.spec.runs import RunStatus
from covey.spec.store import Approval, Memory, Run, Schedule, Scope, Session, TraceSpan, utc_now

SCOPE = Scope("t", "alice")


def _deltas(run_id: str, seqs: range) -> list[TextDelta]:
    return [TextDelta(run_id=run_id, seq=s, delta=f"{s} ") for s in seqs]


async def test_a_server_serving_many_runs_keeps_a_bounded_number() -> None:
    store = MemoryStore(Retention(max_runs=20, max_events_per_run=50, max_sessions=10))
    for i in range(300):
        session_id = f"s{i}"
        await store.save_session(SCOPE, Session(id=session_id), expected_version=0)
        run = await store.save_run(SCOPE, Run(id=f"r{i}", session_id=session_id))
        await store.append_events(SCOPE, run.id, _deltas(run.id, range(1, 81)))
        await store.save_approval(
            SCOPE, Approval(id=f"a{i}", run_id=run.id, tool_call_id="c", tool_name="t")
        )
        await store.save_run(SCOPE, run.model_copy(update={"status": RunStatus.COMPLETED}))
        counts = store.row_counts()
        assert counts["runs"] <= 20
        assert counts["sessions"] <= 10
        assert counts["events"] <= 20 * 50
        assert counts["approvals"] <= 20
    assert store.row_counts()["runs"] == 20
    # The newest runs are kept, each with its newest events and its approval.
    kept = await store.list_runs(SCOPE, limit=100)
    assert [r.id for r in kept.items] == [f"r{i}" for i in range(280, 300)]
    events = await store.list_events(SCOPE, "r299")
    assert [e.seq for e in events] == list(range(31, 81))
    assert await store.get_approval(SCOPE, "a299") is not None
    assert await store.get_run(SCOPE, "r0") is None
    assert await store.get_approval(SCOPE, "a0") is None
    assert await store.list_events(SCOPE, "r0") == []


async def test_running_and_paused_runs_are_never_evicted() -> None:
    store = MemoryStore(Retention(max_runs=3))
    await store.save_run(SCOPE, Run(id="live", status=RunStatus.RUNNING))
    await store.save_run(SCOPE, Run(id="waiting", status=RunStatus.PAUSED))
    for i in range(10):
        await store.save_run(SCOPE, Run(id=f"done{i}", status=RunStatus.FAILED))
    assert store.row_counts()["runs"] == 5
    assert await store.get_run(SCOPE, "live") is not None
    assert await store.get_run(SCOPE, "waiting") is not None
    # Once it finishes it joins the finished runs, as the newest.
    await store.save_run(SCOPE, Run(id="live", status=RunStatus.COMPLETED))
    ids = {r.id for r in (await store.list_runs(SCOPE)).items}
    assert ids == {"waiting", "live", "done8", "done9"}


async def test_stale_runs_marked_interrupted_count_as_finished() -> None:
    from datetime import timedelta

    store = MemoryStore(Retention(max_runs=1))
    await store.save_run(SCOPE, Run(id="a", heartbeat_at=utc_now() - timedelta(hours=1)))
    await store.save_run(SCOPE, Run(id="b", heartbeat_at=utc_now() - timedelta(hours=1)))
    assert await store.mark_stale_runs_interrupted(SCOPE, older_than=timedelta(minutes=1)) == [
        "a",
        "b",
    ]
    assert [r.id for r in (await store.list_runs(SCOPE)).items] == ["b"]


async def test_trimmed_events_keep_their_seq_taken() -> None:
    store = MemoryStore(Retention(max_events_per_run=5))
    await store.save_run(SCOPE, Run(id="r"))
    await store.append_events(SCOPE, "r", _deltas("r", range(1, 9)))
    assert [e.seq for e in await store.list_events(SCOPE, "r")] == [4, 5, 6, 7, 8]
    assert [e.seq for e in await store.list_events(SCOPE, "r", after_seq=2)] == [4, 5, 6, 7, 8]
    assert [e.seq for e in await store.list_events(SCOPE, "r", after_seq=6, limit=1)] == [7]
    with pytest.raises(ConflictError):
        await store.append_events(SCOPE, "r", _deltas("r", range(2, 3)))
    await store.append_events(SCOPE, "r", _deltas("r", range(9, 10)))
    assert [e.seq for e in await store.list_events(SCOPE, "r")] == [5, 6, 7, 8, 9]


async def test_a_session_with_a_live_run_is_not_evicted() -> None:
    store = MemoryStore(Retention(max_sessions=2))
    await store.save_session(SCOPE, Session(id="busy"), expected_version=0)
    await store.save_run(SCOPE, Run(id="r", session_id="busy", status=RunStatus.RUNNING))
    for i in range(5):
        await store.save_session(SCOPE, Session(id=f"idle{i}"), expected_version=0)
    assert store.row_counts()["sessions"] == 2
    assert await store.get_session(SCOPE, "busy") is not None
    assert await store.get_session(SCOPE, "idle4") is not None
    assert await store.get_session(SCOPE, "idle0") is None


async def test_other_rows_keep_the_newest_and_schedules_are_refused() -> None:
    store = MemoryStore(Retention(max_rows=3))
    for i in range(6):
        await store.add_memory(SCOPE, Memory(id=f"m{i}", user_id="alice", memory=str(i)))
        await store.add_spans(
            SCOPE, [TraceSpan(trace_id=f"t{i}", span_id="s", name="n", start=utc_now())]
        )
    assert [m.id for m in (await store.list_memories(SCOPE)).items] == ["m5", "m4", "m3"]
    assert store.row_counts()["spans"] == 3
    assert await store.list_spans(SCOPE, "t0") == []
    for i in range(3):
        await store.save_schedule(
            SCOPE, Schedule(id=f"sc{i}", name="n", target_id="a", trigger="interval", spec="60")
        )
    with pytest.raises(InvalidInputError, match="max_rows"):
        await store.save_schedule(
            SCOPE, Schedule(id="sc3", name="n", target_id="a", trigger="interval", spec="60")
        )
    # Replacing a kept schedule is still fine.
    await store.save_schedule(
        SCOPE, Schedule(id="sc0", name="n2", target_id="a", trigger="interval", spec="60")
    )
    assert store.row_counts()["schedules"] == 3


@pytest.mark.parametrize("value", [0, -1, 1.5, "10"])
def test_limits_must_be_positive_integers(value: object) -> None:
    with pytest.raises(ConfigurationError, match="max_runs"):
        Retention(max_runs=value)  # type: ignore[arg-type]
