"""A tenant's schedule outlives the process it was created on: a restarted server (default
settings, it never saw the tenant) fires it. Real `covey serve` processes, JWT auth with a
tenant claim, one SQLite file."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest
from runtime_helpers import TESTS, ProcessServer, wait_for, write_config
from test_auth import SECRET, bearer, token

from covey.runtime.app import open_store
from covey.spec.store import Run, Schedule, Scope

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the shared SQL store")

pytestmark = pytest.mark.slow


def _read(url: str, schedule_id: str) -> tuple[Schedule | None, list[Run]]:
    """The schedule as `acme` sees it, and the runs it started, read from the store itself
    (reading through a server could make that server notice the tenant)."""

    async def read() -> tuple[Schedule | None, list[Run]]:
        store = open_store(url)
        try:
            found = await store.get_schedule(Scope("acme"), schedule_id)
            runs = (await store.list_runs(Scope("acme"), limit=500)).items
            return found, [r for r in runs if r.metadata.get("schedule_id") == schedule_id]
        finally:
            await store.close()

    return anyio.run(read)


def test_a_restarted_server_fires_a_tenants_schedule_it_never_saw(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'covey.db'}"
    config = write_config(
        tmp_path / "covey.toml",
        agents="runtime_agents:registry",
        python_path=[str(TESTS)],
        store=url,
        auth="jwt",
        shutdown_grace=5,
        schedule_poll=0.05,
        log_level="warning",
    )  # `schedule_tenants` left at its default: ["default"]
    env = {"COVEY_JWT_SECRET": SECRET}
    alice = bearer(token("alice", tenant="acme"))

    a = ProcessServer(config, env).start()
    try:
        with httpx.Client(base_url=a.url, timeout=30, headers=alice) as client:
            created = client.post(
                "/v1/schedules",
                json={"name": "tick", "target_id": "echo", "interval": 1, "input": "tick"},
            )
            assert created.status_code == 201, created.text
            sid = created.json()["schedule_id"]
    finally:
        a.stop()
    before, _ = _read(url, sid)
    assert before is not None and before.enabled
    fired_before = int(before.metadata.get("fired", 0))

    b = ProcessServer(config, env).start()
    assert b.process is not None
    by_b = f":{b.process.pid}"

    def fired_by_b() -> tuple[Schedule, list[Run]] | None:
        schedule, runs = _read(url, sid)
        assert schedule is not None
        ids = {f["run_id"] for f in schedule.metadata.get("firings", []) if f["by"].endswith(by_b)}
        done = [r for r in runs if r.id in ids and r.status.is_final]
        return (schedule, done) if done else None

    try:
        # B fires acme's schedule though nobody of acme has called it.
        schedule, done = wait_for(fired_by_b, timeout=30, interval=0.1)
    finally:
        b.stop()
    assert int(schedule.metadata["fired"]) > fired_before
    assert {(r.user_id, r.output, r.status.value) for r in done} == {
        ("alice", "echo: tick", "completed")
    }
    # Nothing of acme's leaked into the default tenant.
    assert _read_default_runs(url) == []


def _read_default_runs(url: str) -> list[Run]:
    async def read() -> list[Run]:
        store = open_store(url)
        try:
            return (await store.list_runs(Scope(), limit=500)).items
        finally:
            await store.close()

    return anyio.run(read)
