"""Leases of live runs: a worker renews them through a long tool call, so another worker on the
same store never mistakes a slow run for a dead one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from runtime_helpers import check_event_log, sse, wait_until_event

from covey.spec.store import Scope, utc_now
from covey.testing import InMemoryStore

LEASE = 1.0


async def _beat_age(store: InMemoryStore, run_id: str) -> float:
    run = await store.get_run(Scope(), run_id)
    assert run is not None
    assert run.heartbeat_at is not None
    return (utc_now() - run.heartbeat_at).total_seconds()


def test_a_long_tool_call_keeps_its_lease_and_another_worker_leaves_it_alone(
    serve: Any, gates: Path
) -> None:
    import anyio

    store = InMemoryStore()
    _, a = serve(store=store, lease_seconds=LEASE)
    _, b = serve(store=store, lease_seconds=LEASE)  # sweeps the same store for orphans
    run_id = a.post("/v1/agents/gated/runs", json={"input": "slow", "background": True}).json()[
        "run_id"
    ]
    wait_until_event(a, run_id, "tool_call.started")
    for _ in range(4):  # four leases, the tool call in flight all along
        time.sleep(LEASE)
        assert b.get(f"/v1/runs/{run_id}").json()["status"] == "running"
        assert anyio.run(_beat_age, store, run_id) < LEASE
    (gates / "slow").touch()
    events = sse(b, "GET", f"/v1/runs/{run_id}/events")
    check_event_log([e.data for e in events])
    assert events[-1].event == "run.completed"
    assert a.get(f"/v1/runs/{run_id}").json()["status"] == "completed"


def test_stale_after_is_a_deprecated_alias_of_lease_seconds() -> None:
    from covey.runtime import RuntimeSettings

    assert RuntimeSettings(stale_after=7).lease_seconds == 7
    assert RuntimeSettings(stale_after=7, lease_seconds=3).lease_seconds == 3
    assert RuntimeSettings().lease_seconds == 15
