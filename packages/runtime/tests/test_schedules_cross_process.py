"""Two `covey serve` processes on one PostgreSQL fire a schedule every second for 30 s: each
firing exactly once, then a restart after downtime goes on where they stopped."""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import anyio
import httpx
import pytest
from runtime_helpers import TESTS, ProcessServer, wait_for, write_config

from covey.runtime.app import open_store
from covey.spec.store import Run, Scope

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the shared SQL store")

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SECONDS = 30


@pytest.fixture(scope="module")
def store_url() -> Iterator[str]:
    from covey.db.sql.testing import PostgresCluster, find_postgres_bin

    if find_postgres_bin() is None and not os.environ.get("CI"):
        pytest.skip("PostgreSQL server binaries are not installed (make system-deps)")
    with PostgresCluster(settings={"fsync": "off"}) as cluster:
        yield cluster.create_database("covey_schedules")


def _runs(url: str) -> list[Run]:
    async def read() -> list[Run]:
        store = open_store(url)
        try:
            runs: list[Run] = []
            cursor = None
            while True:
                page = await store.list_runs(Scope(), limit=500, cursor=cursor)
                runs.extend(page.items)
                cursor = page.next_cursor
                if cursor is None:
                    return [r for r in runs if "schedule_id" in r.metadata]
        finally:
            await store.close()

    return anyio.run(read)


def test_two_processes_fire_every_second_for_30_s_each_firing_once(
    store_url: str, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "covey.toml",
        agents="runtime_agents:registry",
        python_path=[str(TESTS)],
        store=store_url,
        shutdown_grace=5,
        schedule_poll=0.1,
        schedule_misfire_grace=60,
        log_level="warning",
    )
    a = ProcessServer(config).start()
    b = ProcessServer(config).start()
    try:
        with httpx.Client(base_url=a.url, timeout=30) as ca:
            created = ca.post(
                "/v1/schedules",
                json={"name": "tick", "target_id": "echo", "interval": 1, "input": "tick"},
            )
            assert created.status_code == 201, created.text
            sid = created.json()["schedule_id"]
            wait_for(
                lambda: ca.get(f"/v1/schedules/{sid}").json()["fired"] >= SECONDS,
                timeout=SECONDS + 30,
            )
    finally:
        a.stop()
        b.stop()
    runs = _runs(store_url)
    due = Counter(r.metadata["scheduled_for"] for r in runs)
    assert max(due.values()) == 1, [t for t, n in due.items() if n > 1]
    history = _history(store_url, sid)
    assert len(runs) == len(history) >= SECONDS
    assert {r.status.value for r in runs} == {"completed"}
    by = Counter(f["by"] for f in history)
    lateness = sorted(
        (datetime.fromisoformat(f["fired_at"]) - datetime.fromisoformat(f["scheduled_for"]))
        / timedelta(milliseconds=1)
        for f in history
    )
    print(
        f"firings per process: {dict(by)}; claimed late by {lateness[len(lateness) // 2]:.0f} ms "
        f"(median), {lateness[-1]:.0f} ms (max) with schedule_poll 0.1 s"
    )

    # Down (still enabled) while a third process starts: the firings missed meanwhile, within
    # the grace, run late, once each, and the one-second grid goes on without a gap.
    c = ProcessServer(config).start()
    try:
        with httpx.Client(base_url=c.url, timeout=30) as cc:
            wait_for(
                lambda: cc.get(f"/v1/schedules/{sid}").json()["fired"] >= len(history) + 3,
                timeout=30,
            )
            cc.post(f"/v1/schedules/{sid}/pause").raise_for_status()
            assert cc.get(f"/v1/schedules/{sid}").json()["missed"] == 0
    finally:
        c.stop()
    after = _history(store_url, sid)
    all_due = Counter(r.metadata["scheduled_for"] for r in _runs(store_url))
    assert max(all_due.values()) == 1
    assert sorted(all_due) == sorted(f["scheduled_for"] for f in after)
    times = sorted(datetime.fromisoformat(t) for t in all_due)
    assert all(y - x == timedelta(seconds=1) for x, y in itertools.pairwise(times))
    caught_up = after[len(history)]  # the first firing after the restart, made late
    late = datetime.fromisoformat(caught_up["fired_at"]) - datetime.fromisoformat(
        caught_up["scheduled_for"]
    )
    assert late > timedelta(seconds=1)
    assert caught_up["by"] not in by


def _history(url: str, schedule_id: str) -> list[dict[str, str]]:
    async def read() -> list[dict[str, str]]:
        store = open_store(url)
        try:
            found = await store.get_schedule(Scope(), schedule_id)
            assert found is not None
            return list(found.metadata["firings"])
        finally:
            await store.close()

    return anyio.run(read)
