"""Two `covey serve` processes on one store (an SQLite file, then PostgreSQL) decide the same
approvals at once: one decider wins each approval, and a run goes on exactly once — also when
the two last approvals of one pause are decided in the two processes at the same moment."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from runtime_agents import GATES_ENV
from runtime_helpers import check_event_log, server_pair, sse, wait_for

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
        yield cluster.create_database("covey_approvals")


@pytest.fixture(scope="module")
def pair(
    store_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[httpx.Client, httpx.Client, Path]]:
    folder = tmp_path_factory.mktemp("pair")
    with server_pair(
        folder, agents="approvals_agents:registry", store=store_url, gates_env=GATES_ENV
    ) as pair:
        yield pair


def _at_once(calls: list[tuple[httpx.Client, str, dict[str, Any]]]) -> list[httpx.Response]:
    """POST every call at the same moment, each from its own thread; the responses in order."""
    answers: list[httpx.Response | None] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def post(index: int, client: httpx.Client, url: str, body: dict[str, Any]) -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=30) as own:
            start.wait()
            answers[index] = own.post(url, json=body)

    threads = [threading.Thread(target=post, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


def _ended(client: httpx.Client, run_id: str) -> dict[str, Any]:
    return wait_for(
        lambda: (
            (r := client.get(f"/v1/runs/{run_id}").json())["status"] not in ("running", "paused")
            and r
        )
    )


def _resumed_once(client: httpx.Client, run_id: str) -> None:
    events = sse(client, "GET", f"/v1/runs/{run_id}/events")
    check_event_log([e.data for e in events])
    assert [e.event for e in events].count("run.started") == 2


def test_deciders_in_two_processes_one_wins(
    pair: tuple[httpx.Client, httpx.Client, Path],
) -> None:
    a, b, _ = pair
    run = a.post("/v1/agents/approver/runs", json={"input": "/race"}).json()
    [item] = [i for i in b.get("/v1/approvals").json()["items"] if i["run_id"] == run["run_id"]]
    url = f"/v1/approvals/{item['approval_id']}"
    calls = [(c, url, {"approved": i % 2 == 0}) for i, c in enumerate([a, b] * 4)]
    answers = _at_once(calls)
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [409] * 7, [r.text for r in answers]
    [winner] = [r.json() for r in answers if r.status_code == 200]
    output = _ended(a, run["run_id"])["output"]
    assert ("deleted /race" in output) is (winner["status"] == "approved")
    assert b.get(url).json()["status"] == winner["status"]
    _resumed_once(b, run["run_id"])


def test_the_last_two_approvals_of_a_pause_decided_in_two_processes(
    pair: tuple[httpx.Client, httpx.Client, Path],
) -> None:
    """Fails if the run goes on twice (both deciders resume it) or never (each thinks the
    other's decision is missing)."""
    a, b, _ = pair
    run = a.post("/v1/agents/pair/runs", json={"input": "/both"}).json()
    first, second = b.get("/v1/approvals", params={"run_id": run["run_id"]}).json()["items"]
    answers = _at_once(
        [
            (a, f"/v1/approvals/{first['approval_id']}", {"approved": True}),
            (b, f"/v1/approvals/{second['approval_id']}", {"approved": True}),
        ]
    )
    assert [r.status_code for r in answers] == [200, 200], [r.text for r in answers]
    assert "running" in [r.json()["run_status"] for r in answers]
    done = _ended(b, run["run_id"])
    assert (done["status"], done["output"]) == ("completed", "deleted /both/a; deleted /both/b")
    _resumed_once(a, run["run_id"])
