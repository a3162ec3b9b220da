"""Two `covey serve` processes sharing one store (an SQLite file, then PostgreSQL).

Process A runs the runs; process B follows, cancels and resumes them through the store alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from runtime_agents import GATES_ENV
from runtime_helpers import (
    check_event_log,
    server_pair,
    sse,
    wait_for,
    wait_until_event,
)

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the shared SQL store")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'shared.db'}"
        return
    from covey.db.sql.testing import PostgresCluster, find_postgres_bin

    if find_postgres_bin() is None and not os.environ.get("CI"):
        pytest.skip("PostgreSQL server binaries are not installed (make system-deps)")
    request.applymarker(pytest.mark.postgres)
    with PostgresCluster(settings={"fsync": "off"}) as cluster:
        yield cluster.create_database("covey_runtime")


@pytest.fixture(scope="module")
def pair(
    store_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, httpx.Client, Path]]:
    folder = tmp_path_factory.mktemp("pair")
    with server_pair(
        folder, agents="runtime_agents:registry", store=store_url, gates_env=GATES_ENV
    ) as pair:
        yield pair


def _visible(client: httpx.Client, run_id: str) -> bool:
    return client.get(f"/v1/runs/{run_id}").status_code == 200


def test_follow_a_run_of_another_process_to_its_end(
    pair: tuple[httpx.Client, httpx.Client, Path],
) -> None:
    a, b, gates = pair
    run_id = a.post("/v1/agents/gated/runs", json={"input": "x1", "background": True}).json()[
        "run_id"
    ]
    wait_for(lambda: _visible(b, run_id))
    seen = wait_until_event(b, run_id, "tool_call.started")
    assert b.get(f"/v1/runs/{run_id}").json()["status"] == "running"
    with b.stream(
        "GET", f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": str(seen[-1].id)}
    ) as response:
        (gates / "x1").touch()
        from runtime_helpers import read_sse

        rest = list(read_sse(response.iter_lines()))
    check_event_log([e.data for e in seen + rest])
    assert rest[-1].data["result"]["output"] == "done: gate x1 opened"
    assert a.get(f"/v1/runs/{run_id}").json()["status"] == "completed"


def test_cancel_from_another_process(pair: tuple[httpx.Client, httpx.Client, Path]) -> None:
    a, b, _ = pair
    run_id = a.post("/v1/agents/gated/runs", json={"input": "never", "background": True}).json()[
        "run_id"
    ]
    wait_for(lambda: _visible(b, run_id))
    wait_until_event(b, run_id, "tool_call.started")
    response = b.post(f"/v1/runs/{run_id}/cancel")
    assert response.status_code == 202
    assert response.json()["cancel_requested"] is True
    # A's watcher sees the flag while the tool is still in flight and cancels the run.
    events = sse(b, "GET", f"/v1/runs/{run_id}/events")
    check_event_log([e.data for e in events])
    assert [e.event for e in events][-2:] == ["tool_call.cancelled", "run.cancelled"]
    assert a.get(f"/v1/runs/{run_id}").json()["status"] == "cancelled"
    assert b.get(f"/v1/runs/{run_id}").json()["status"] == "cancelled"


def test_resume_in_another_process(pair: tuple[httpx.Client, httpx.Client, Path]) -> None:
    a, b, _ = pair
    paused = a.post("/v1/agents/approver/runs", json={"input": "/srv/x"}).json()
    assert paused["status"] == "paused"
    done = b.post(f"/v1/runs/{paused['run_id']}/resume", json={"approvals": {"d1": True}})
    assert done.status_code == 200
    assert done.json()["output"] == "result: deleted /srv/x"
    events = sse(a, "GET", f"/v1/runs/{paused['run_id']}/events")
    check_event_log([e.data for e in events])
    assert [e.event for e in events].count("run.started") == 2
    session = a.get(f"/v1/sessions/{paused['session_id']}/runs").json()
    assert [r["status"] for r in session["items"]] == ["completed"]


def test_cancel_a_paused_run_from_another_process(
    pair: tuple[httpx.Client, httpx.Client, Path],
) -> None:
    a, b, _ = pair
    paused = a.post("/v1/agents/approver/runs", json={"input": "/srv/y"}).json()
    response = b.post(f"/v1/runs/{paused['run_id']}/cancel")
    assert response.json()["status"] == "cancelled"
    refused = a.post(f"/v1/runs/{paused['run_id']}/resume", json={"approvals": {"d1": True}})
    assert refused.status_code == 409
