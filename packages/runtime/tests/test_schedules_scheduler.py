"""The `Scheduler` on its own, with times given: exactly-once claims by several schedulers on one
store, the misfire policy, pauses, and schedules that outlive the scheduler (restarts)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from runtime_agents import build

from covey.runtime.app import open_store
from covey.runtime.run_manager import RunManager
from covey.runtime.schedules import Scheduler
from covey.spec import RunStatus
from covey.spec.store import Run, Schedule, Scope, Store
from covey.testing import InMemoryStore

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SCOPE = Scope()

StoreFactory = Callable[[], Store]


@pytest.fixture(params=["memory", "sqlite"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Makes store handles on one shared store: one object in memory, or one SQLite file."""
    if request.param == "memory":
        shared = InMemoryStore()
        return lambda: shared
    url = f"sqlite:///{tmp_path / 'covey.db'}"
    return lambda: open_store(url)


@asynccontextmanager
async def scheduler(store: Store, **options: Any) -> AsyncIterator[Scheduler]:
    await _migrate(store)
    manager = RunManager(store, run_timeout=None, shutdown_grace=5, lease=15, poll_interval=0.05)
    async with manager.running():
        yield Scheduler(store, build(), manager, **options)


async def _save(store: Store, **fields: Any) -> Schedule:
    values: dict[str, Any] = {
        "id": "every-second",
        "name": "every second",
        "target_id": "echo",
        "trigger": "interval",
        "spec": "1",
        "payload": {"input": "tick"},
        "created_at": T0,
        "next_run_at": T0,
        **fields,
    }
    return await store.save_schedule(SCOPE, Schedule(**values))


async def _scheduled_runs(store: Store, count: int) -> list[Run]:
    """The runs started by schedules once `count` of them have ended."""
    with anyio.fail_after(30):
        while True:
            page = await store.list_runs(SCOPE, limit=500)
            runs = [r for r in page.items if "schedule_id" in r.metadata]
            if len(runs) >= count and all(r.status.is_final for r in runs):
                return runs
            await anyio.sleep(0.02)


async def test_several_schedulers_fire_each_firing_once(stores: StoreFactory) -> None:
    """Three schedulers look at the same due firings at the same moment, again and again:
    every firing starts exactly one run."""
    async with AsyncExitStack() as stack:
        handles = [stores() for _ in range(3)]
        await _migrate(handles[0])
        await _save(handles[0])
        schedulers = [await stack.enter_async_context(scheduler(h)) for h in handles]
        started: list[int] = []

        async def tick(s: Scheduler, now: datetime) -> None:
            started.append(await s.tick(now))

        for second in range(10):
            now = T0 + timedelta(seconds=second, milliseconds=500)
            async with anyio.create_task_group() as tg:
                for s in schedulers:
                    tg.start_soon(tick, s, now)
        assert sum(started) == 10
        runs = await _scheduled_runs(handles[0], 10)
        due = sorted(r.metadata["scheduled_for"] for r in runs)
        assert due == [(T0 + timedelta(seconds=i)).isoformat() for i in range(10)]
        assert {r.status for r in runs} == {RunStatus.COMPLETED}
        assert {r.output for r in runs} == {"echo: tick"}
        stored = await handles[0].get_schedule(SCOPE, "every-second")
        assert stored is not None
        assert stored.metadata["fired"] == 10
        assert [f["run_id"] for f in stored.metadata["firings"]] == [
            r.id for r in sorted(runs, key=lambda r: r.metadata["scheduled_for"])
        ]
        assert stored.next_run_at == T0 + timedelta(seconds=10)
        assert stored.last_run_at == T0 + timedelta(seconds=9)


async def test_misfire_policy_runs_late_firings_within_the_grace_and_skips_older_ones() -> None:
    store = InMemoryStore()
    now = T0 + timedelta(seconds=20)
    await _save(store)
    async with scheduler(store, misfire_grace=5) as s:
        assert await s.tick(now) == 6  # T0+15 .. T0+20: at most 5 s late
        runs = await _scheduled_runs(store, 6)
    stored = await store.get_schedule(SCOPE, "every-second")
    assert stored is not None
    assert stored.metadata["missed"] == 15  # T0 .. T0+14: more than 5 s late
    assert stored.metadata["fired"] == 6
    assert (
        sorted(r.metadata["scheduled_for"] for r in runs)[0]
        == (T0 + timedelta(seconds=15)).isoformat()
    )
    assert stored.next_run_at == now + timedelta(seconds=1)


async def test_a_daily_cron_missed_during_downtime_is_skipped_not_replayed() -> None:
    store = InMemoryStore()
    await _save(
        store,
        trigger="cron",
        spec="0 9 * * *",
        timezone="Europe/Paris",
        next_run_at=datetime(2026, 1, 2, 8, 0, tzinfo=UTC),  # 09:00 in Paris, 3 days before
    )
    now = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # 11:00 in Paris
    async with scheduler(store, misfire_grace=3600) as s:
        assert await s.tick(now) == 0
    stored = await store.get_schedule(SCOPE, "every-second")
    assert stored is not None
    assert stored.metadata["missed"] == 4  # Jan 2, 3, 4 and 5 at 09:00 Paris
    assert stored.next_run_at == datetime(2026, 1, 6, 8, 0, tzinfo=UTC)
    assert (await store.list_runs(SCOPE)).items == []


async def test_a_paused_schedule_never_fires() -> None:
    store = InMemoryStore()
    await _save(store, enabled=False)
    async with scheduler(store) as s:
        assert await s.tick(T0 + timedelta(seconds=30)) == 0
    assert (await store.list_runs(SCOPE)).items == []


async def test_schedules_survive_a_restart(tmp_path: Path) -> None:
    """A scheduler stops; a new one on the same database file goes on where it left off."""
    url = f"sqlite:///{tmp_path / 'covey.db'}"
    first = open_store(url)
    await _migrate(first)
    await _save(first)
    async with scheduler(first) as s:
        assert await s.tick(T0 + timedelta(seconds=2, milliseconds=1)) == 3
        await _scheduled_runs(first, 3)
    await first.close()
    second = open_store(url)
    async with scheduler(second) as s:
        assert await s.tick(T0 + timedelta(seconds=2, milliseconds=2)) == 0
        assert await s.tick(T0 + timedelta(seconds=4)) == 2
        runs = await _scheduled_runs(second, 5)
    assert sorted(r.metadata["scheduled_for"] for r in runs) == [
        (T0 + timedelta(seconds=i)).isoformat() for i in range(5)
    ]
    await second.close()


async def _migrate(store: Store) -> None:
    migrate = getattr(store, "migrate", None)
    if migrate is not None:
        await migrate()


async def _save_in(store: Store, scope: Scope, schedule_id: str = "theirs") -> None:
    await store.save_schedule(
        scope,
        Schedule(
            id=schedule_id,
            name=schedule_id,
            target_id="echo",
            trigger="interval",
            spec="1",
            payload={"input": "tick"},
            created_at=T0,
            next_run_at=T0,
        ),
    )


async def test_every_tenants_due_schedules_fire_without_being_watched(
    stores: StoreFactory,
) -> None:
    """A scheduler that never saw tenant `acme` (a restarted process, or another worker) still
    fires its due schedule, as `acme`'s user, and nothing lands in the default tenant."""
    store = stores()
    acme = Scope("acme", "alice")
    async with scheduler(store) as s:
        assert s.tenants == {"default"}
        await _save_in(store, acme)
        assert await s.tick(T0) == 1
        assert await s.tick(T0) == 0  # claimed: once
        with anyio.fail_after(30):
            while True:
                runs = (await store.list_runs(acme)).items
                if runs and runs[0].status.is_final:
                    break
                await anyio.sleep(0.02)
    assert runs[0].user_id == "alice"
    assert runs[0].output == "echo: tick"
    assert (await store.list_runs(SCOPE)).items == []


async def test_one_tenants_failure_does_not_stop_the_others() -> None:
    """A tenant whose schedules cannot be read this tick is skipped, logged, and retried; the
    tenants after it in the list still fire."""

    class Flaky(InMemoryStore):
        broken = True

        async def list_due(self, scope: Scope, now: datetime) -> list[Schedule]:
            if scope.tenant_id == "aaa" and self.broken:
                raise OSError("connection lost")
            return await super().list_due(scope, now)

    store = Flaky()
    for tenant in ("aaa", "zzz"):
        await _save_in(store, Scope(tenant, "alice"))
    async with scheduler(store) as s:
        assert await s.tick(T0) == 1  # zzz's
        store.broken = False
        assert await s.tick(T0) == 1  # aaa's, on the next look
        assert await s.tick(T0) == 0


async def test_a_long_downtime_of_a_second_by_second_cron_is_skipped_in_bounded_work() -> None:
    """Two hours of a every-second cron missed: 7,200 firings, counted up to 1,000, the schedule
    moved to the grace window at once, and only the firings inside the window run."""
    store = InMemoryStore()
    await _save(store, trigger="cron", spec="* * * * * *", next_run_at=T0)
    now = T0 + timedelta(hours=2)
    async with scheduler(store, misfire_grace=2) as s:
        assert await s.tick(now) == 3  # now-2 s, now-1 s, now
        runs = await _scheduled_runs(store, 3)
    stored = await store.get_schedule(SCOPE, "every-second")
    assert stored is not None
    assert stored.metadata["missed"] == 1_000
    assert stored.next_run_at == now + timedelta(seconds=1)
    assert sorted(r.metadata["scheduled_for"] for r in runs) == [
        (now - timedelta(seconds=i)).isoformat() for i in (2, 1, 0)
    ]


async def test_edits_and_firings_never_undo_each_other(stores: StoreFactory) -> None:
    """Renames race with a catch-up of 30 firings: every rename and every firing is kept."""
    from covey.runtime.schedules import service
    from covey.runtime.schedules.dto import SchedulePatch

    store = stores()
    await _migrate(store)
    await _save(store)
    async with scheduler(store) as s, anyio.create_task_group() as tg:

        async def fire() -> None:
            now = T0 + timedelta(seconds=29, milliseconds=500)
            while True:  # a tick that lost a claim to a rename stops; the next one goes on
                await s.tick(now)
                current = await store.get_schedule(SCOPE, "every-second")
                assert current is not None and current.next_run_at is not None
                if current.next_run_at > now:
                    return

        async def rename() -> None:
            for i in range(30):
                await service.update_schedule(
                    store, s.registry, SCOPE, "every-second", SchedulePatch(name=f"n{i}")
                )

        tg.start_soon(fire)
        tg.start_soon(rename)
    runs = await _scheduled_runs(store, 30)
    stored = await store.get_schedule(SCOPE, "every-second")
    assert stored is not None
    assert stored.name == "n29"
    assert stored.metadata["fired"] == len(stored.metadata["firings"]) == len(runs) == 30
    assert len({r.metadata["scheduled_for"] for r in runs}) == 30
    assert stored.next_run_at == T0 + timedelta(seconds=30)
