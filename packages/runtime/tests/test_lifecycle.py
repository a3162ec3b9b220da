"""Per-run timeouts and graceful shutdown."""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
from runtime_helpers import check_event_log, sse, wait_until_event

from covey.spec.store import Scope
from covey.spec.testing import InMemoryStore


def test_a_run_past_its_timeout_is_cancelled_with_the_reason(serve, gates: Path) -> None:
    _, api = serve(run_timeout=0.5)
    run = api.post("/v1/agents/gated/runs", json={"input": "late"}).json()
    assert run["status"] == "cancelled"
    assert run["error"]["type"] == "RunTimeout"
    stored = api.get(f"/v1/runs/{run['run_id']}").json()
    assert stored["status"] == "cancelled"
    assert stored["error"]["type"] == "RunTimeout"
    events = sse(api, "GET", f"/v1/runs/{run['run_id']}/events")
    check_event_log([e.data for e in events])
    assert [e.event for e in events][-2:] == ["tool_call.cancelled", "run.cancelled"]


def _stored_status(store: InMemoryStore, run_id: str) -> str:
    async def read() -> str:
        run = await store.get_run(Scope(), run_id)
        assert run is not None
        return run.status.value

    return anyio.run(read)


def test_shutdown_lets_running_runs_finish_within_the_grace(serve, gates: Path) -> None:
    store = InMemoryStore()
    server, api = serve(store=store, shutdown_grace=20)
    run_id = api.post("/v1/agents/gated/runs", json={"input": "soon", "background": True}).json()[
        "run_id"
    ]
    wait_until_event(api, run_id, "tool_call.started")
    threading.Timer(0.3, (gates / "soon").touch).start()
    api.close()
    server.stop()
    assert _stored_status(store, run_id) == "completed"


def test_shutdown_marks_runs_still_running_interrupted(serve, gates: Path) -> None:
    store = InMemoryStore()
    server, api = serve(store=store, shutdown_grace=0.2)
    run_id = api.post("/v1/agents/gated/runs", json={"input": "never", "background": True}).json()[
        "run_id"
    ]
    wait_until_event(api, run_id, "tool_call.started")
    api.close()
    server.stop()
    assert _stored_status(store, run_id) == "interrupted"

    async def error_type() -> str | None:
        run = await store.get_run(Scope(), run_id)
        assert run is not None and run.error is not None
        return run.error.type

    assert anyio.run(error_type) == "Interrupted"
