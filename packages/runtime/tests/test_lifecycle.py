"""Per-run timeouts and graceful shutdown."""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
from runtime_helpers import check_event_log, sse, wait_until_event

from covey.spec import events as ev
from covey.spec.store import Scope
from covey.testing import InMemoryStore


def test_a_run_past_its_timeout_fails_with_run_timeout(serve, gates: Path) -> None:
    _, api = serve(run_timeout=0.5)
    run = api.post("/v1/agents/gated/runs", json={"input": "late"}).json()
    assert run["status"] == "failed"
    assert run["error"]["type"] == "RunTimeout"
    assert "run_timeout=0.5s" in run["error"]["message"]
    stored = api.get(f"/v1/runs/{run['run_id']}").json()
    assert stored["status"] == "failed"
    assert stored["error"] == run["error"]
    events = sse(api, "GET", f"/v1/runs/{run['run_id']}/events")
    check_event_log([e.data for e in events])
    assert [e.event for e in events][-2:] == ["tool_call.failed", "run.failed"]
    # The log and the stored record tell the same story.
    assert events[-1].data["result"]["status"] == "failed"
    assert events[-1].data["result"]["error"] == run["error"]


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

    # The log ends the stretch with the same error: `run.failed` carrying `Interrupted`.
    async def final_event() -> tuple[str, str | None]:
        log = await store.list_events(Scope(), run_id)
        final = log[-1]
        assert isinstance(final, ev.RunFailed)
        assert final.result.error is not None
        return final.type, final.result.error.type

    assert anyio.run(final_event) == ("run.failed", "Interrupted")
