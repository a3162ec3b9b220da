"""A server killed mid-run (`kill -9`), and a second one started on the same store.

The dead worker stops renewing its runs' leases; the second server closes them: `interrupted`
with the reason, usage and tool calls so far, and an event log that ends cleanly, so a
follower that re-attaches gets the closing events and the end. Cancelling an orphan closes it
at once, as `cancelled`.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import pytest
from runtime_agents import GATES_ENV
from runtime_helpers import (
    TESTS,
    ProcessServer,
    check_event_log,
    read_sse,
    sse,
    wait_for,
    wait_until_event,
    write_config,
)

from covey.runtime.auth import SCOPES
from covey.spec.store import Run, Scope, utc_now

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the shared SQL store")

pytestmark = pytest.mark.slow

LEASE = 3.0
"""Seconds."""
SECRET = "crash-test-secret-crash-test-secret-0123"
TENANT = "acme"
"""A tenant the second server has not seen: its watcher sweeps only tenants it has seen, so
the cancel below finds the orphan still running."""


def _alice() -> dict[str, str]:
    now = int(time.time())
    claims = {"sub": "alice", "tenant": TENANT, "scope": " ".join(SCOPES[:-1]), "exp": now + 3600}
    return {"Authorization": "Bearer " + jwt.encode(claims, SECRET, algorithm="HS256")}


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'crash.db'}"
        return
    from covey.db.sql.testing import PostgresCluster, find_postgres_bin

    if find_postgres_bin() is None and not os.environ.get("CI"):
        pytest.skip("PostgreSQL server binaries are not installed (make system-deps)")
    request.applymarker(pytest.mark.postgres)
    with PostgresCluster(settings={"fsync": "off"}) as cluster:
        yield cluster.create_database("covey_crash")


def _stored(url: str, run_id: str) -> Run | None:
    """The run as stored, read straight from the database (no server closes anything)."""
    from covey.db.sql import SqlStore

    async def read() -> Run | None:
        async with SqlStore(url) as store:
            return await store.get_run(Scope(TENANT), run_id)

    return anyio.run(read)


def _start(client: httpx.Client, gate: str, session_id: str) -> str:
    body: dict[str, Any] = {"input": gate, "background": True, "session_id": session_id}
    response = client.post("/v1/agents/gated/runs", json=body, headers=_alice())
    assert response.status_code == 202, response.text
    return str(response.json()["run_id"])


def test_a_killed_worker_s_runs_are_closed_by_the_next_one(store_url: str, tmp_path: Path) -> None:
    gates = tmp_path / "gates"
    gates.mkdir()
    config = write_config(
        tmp_path / "covey.toml",
        agents="runtime_agents:registry",
        python_path=[str(TESTS)],
        store=store_url,
        lease_seconds=LEASE,
        auth="jwt",
        shutdown_grace=1,
        poll_interval=0.05,
        log_level="warning",
    )
    env = {GATES_ENV: str(gates), "COVEY_JWT_SECRET": SECRET}
    first = ProcessServer(config, env).start()
    try:
        with httpx.Client(base_url=first.url, timeout=30) as a:
            orphan = _start(a, "never", "crash-session")
            doomed = _start(a, "never-either", "crash-session-2")
            a.headers.update(_alice())
            seen = wait_until_event(a, orphan, "tool_call.started")
            wait_until_event(a, doomed, "tool_call.started")
    finally:
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)  # no shutdown: the runs stay `running`
        first.process.wait(10)
    running = _stored(store_url, orphan)
    assert running is not None
    assert running.status.value == "running"

    second = ProcessServer(config, env).start()
    try:
        with httpx.Client(base_url=second.url, timeout=30, headers=_alice()) as b:
            # Once the dead worker's lease has lapsed, a cancel closes the run at once.
            def lapsed() -> bool:
                run = _stored(store_url, doomed)
                assert run is not None
                beat = run.heartbeat_at or run.updated_at
                return (utc_now() - beat).total_seconds() > LEASE

            wait_for(lapsed, timeout=LEASE * 4, interval=0.2)
            cancel = b.post(f"/v1/runs/{doomed}/cancel")
            assert cancel.status_code == 200, cancel.text
            assert cancel.json()["status"] == "cancelled"
            doomed_log = sse(b, "GET", f"/v1/runs/{doomed}/events")
            check_event_log([e.data for e in doomed_log])
            assert [e.event for e in doomed_log][-2:] == ["tool_call.cancelled", "run.cancelled"], [
                e.event for e in doomed_log
            ]
            assert b.post(f"/v1/runs/{doomed}/cancel").json()["status"] == "cancelled"

            # The second server's watcher closes the other orphan by itself (no reader here).
            def closed() -> Run | None:
                # The claim itself carries the reason: no reader sees `interrupted` without it.
                run = _stored(store_url, orphan)
                return run if run is not None and run.status.value != "running" else None

            run = wait_for(closed, timeout=LEASE * 4, interval=0.2)
            assert run.status.value == "interrupted"
            assert run.error is not None
            assert run.error.type == "Interrupted"
            assert "stopped renewing its lease" in run.error.message
            assert run.input == "never"

            # A follower re-attaching after the last event it had gets the closing events.
            with b.stream(
                "GET", f"/v1/runs/{orphan}/events", headers={"Last-Event-ID": str(seen[-1].id)}
            ) as response:
                rest = list(read_sse(response.iter_lines()))
            assert [e.event for e in rest] == ["tool_call.failed", "run.failed"]
            assert "stopped renewing its lease" in rest[0].data["error"]
            final = rest[-1].data["result"]
            assert final["status"] == "interrupted"
            assert final["error"]["type"] == "Interrupted"
            log = [e.data for e in sse(b, "GET", f"/v1/runs/{orphan}/events")]
            check_event_log(log)

            # Usage and tool calls so far are kept: what the log says happened.
            completed = [e for e in log if e["type"] == "model_request.completed"]
            assert len(completed) == 1
            out = b.get(f"/v1/runs/{orphan}").json()
            assert out["status"] == "interrupted"
            assert out["usage"]["requests"] == completed[0]["usage"]["requests"] == 1
            assert out["usage"]["input_tokens"] == completed[0]["usage"]["input_tokens"]
            assert out["usage"]["tool_calls"] == 1
            assert [(c["tool_name"], c["args"]) for c in out["tool_calls"]] == [
                ("gate", {"name": "never"})
            ]

            # Cancel is idempotent on a finished run: 200 and the run as it ended.
            again = b.post(f"/v1/runs/{orphan}/cancel")
            assert again.status_code == 200
            assert again.json()["status"] == "interrupted"

            # The session is stored from the start of the run (the input is, above).
            session = b.get("/v1/sessions/crash-session")
            assert session.status_code == 200, session.text
            assert session.json()["user_id"] == "alice"
    finally:
        second.stop()
