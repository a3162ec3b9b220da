"""`POST /v1/evals` in the background, over real HTTP on a SQLite file: the answer comes at once
(202, `running`), progress as cases finish, the same report as the synchronous path at the end;
cancel; the per-process limit; and a report left running by a killed server."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from runtime_agents import GATES_ENV, build
from runtime_helpers import TESTS, ProcessServer, ThreadServer, wait_for, write_config

from covey.runtime import RuntimeSettings, create_app
from covey.runtime.eval_jobs import INTERRUPTED

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the SQLite store")

Serve = Callable[..., httpx.Client]


@pytest.fixture
def serve_sqlite(gates: Path, tmp_path: Path) -> Iterator[Serve]:
    """A server of the test registry on a SQLite file: `serve_sqlite(**settings)`."""
    started: list[tuple[ThreadServer, httpx.Client]] = []

    def start(**settings: Any) -> httpx.Client:
        values: dict[str, Any] = {
            "store": f"sqlite:///{tmp_path / 'evals.db'}",
            "shutdown_grace": 1.0,
            **settings,
        }
        server = ThreadServer(create_app(RuntimeSettings(**values), registry=build())).start()
        client = httpx.Client(base_url=server.url, timeout=30)
        started.append((server, client))
        return client

    yield start
    for server, client in reversed(started):
        client.close()
        server.stop()


def gated_suite(*gates: str, name: str = "gated") -> dict[str, Any]:
    """A suite whose case `gN` runs the `gated` agent until the test opens the gate `gN`."""
    return {
        "name": name,
        "agent": "gated",
        "thresholds": {"pass_rate": 1.0},
        "cases": [{"id": gate, "input": gate, "tool_calls": [{"name": "gate"}]} for gate in gates],
    }


def report(client: httpx.Client, report_id: str) -> dict[str, Any]:
    got = client.get(f"/v1/evals/{report_id}")
    assert got.status_code == 200, got.text
    return got.json()


def running_runs(client: httpx.Client) -> list[dict[str, Any]]:
    page = client.get("/v1/runs", params={"agent_id": "gated", "status": "running"})
    assert page.status_code == 200, page.text
    return page.json()["items"]


def test_post_answers_at_once_and_the_report_follows_the_cases(
    serve_sqlite: Serve, gates: Path
) -> None:
    api = serve_sqlite()
    started = api.post("/v1/evals", json={"suite": gated_suite("b1", "b2"), "concurrency": 1})
    # The first case waits on its gate: the answer cannot have waited for the suite.
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["status"] == "running" and body["progress"] == {"done": 0, "total": 2}
    assert started.headers["location"] == f"/v1/evals/{body['id']}"
    report_id = body["id"]

    now = report(api, report_id)
    assert now["status"] == "running" and now["finished_at"] is None
    (listed,) = api.get("/v1/evals").json()["items"]
    assert listed["id"] == report_id and listed["status"] == "running"
    assert listed["progress"] == {"done": 0, "total": 2}

    (gates / "b1").touch()
    one = wait_for(lambda: (r := report(api, report_id))["progress"]["done"] == 1 and r)
    assert one["status"] == "running"
    assert [c["id"] for c in one["cases"]] == ["b1"] and one["cases"][0]["passed"]
    (gates / "b2").touch()
    done = wait_for(lambda: (r := report(api, report_id))["status"] != "running" and r)
    assert done["status"] == "completed" and done["passed"] is True
    assert done["progress"] == {"done": 2, "total": 2} and done["finished_at"] is not None
    assert done["heartbeat_at"] is None

    # The synchronous path (the gates are open now) gives the same results.
    sync = api.post("/v1/evals", json={"suite": gated_suite("b1", "b2"), "wait": True})
    assert sync.status_code == 201, sync.text
    same = sync.json()

    def results(r: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [(c["id"], c["status"], c["output"], c["passed"]) for c in r["cases"]]

    assert results(same) == results(done)
    assert [t for t in same["thresholds"]] == done["thresholds"]
    assert same["status"] == "completed" and same["pass_rate"] == done["pass_rate"] == 1
    # Each case run is an ordinary stored run, tagged with the report.
    run = api.get(f"/v1/runs/{done['cases'][0]['run_id']}").json()
    assert run["status"] == "completed"


def test_wait_in_the_query_answers_the_finished_report(serve_sqlite: Serve) -> None:
    api = serve_sqlite()
    suite = {"name": "q", "cases": [{"id": "a", "input": "hi", "tool_calls": []}]}
    done = api.post("/v1/evals?wait=true", json={"suite": suite, "agent": "echo"})
    assert done.status_code == 201, done.text
    assert done.json()["status"] == "completed" and done.json()["passed"] is True
    assert report(api, done.json()["id"]) == done.json()
    # A report nobody stores cannot be polled: `save: false` needs `wait`.
    refused = api.post("/v1/evals", json={"suite": suite, "agent": "echo", "save": False})
    assert refused.status_code == 400 and "wait" in refused.json()["detail"]


def test_cancel_stops_the_eval_and_its_runs(serve_sqlite: Serve) -> None:
    api = serve_sqlite()
    started = api.post("/v1/evals", json={"suite": gated_suite("c1", "c2"), "concurrency": 1})
    assert started.status_code == 202, started.text
    report_id = started.json()["id"]
    (run,) = wait_for(lambda: running_runs(api))

    cancelled = api.post(f"/v1/evals/{report_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    stored = report(api, report_id)
    assert stored["status"] == "cancelled" and stored["finished_at"] is not None
    assert stored["progress"] == {"done": 0, "total": 2} and stored["passed"] is False
    # The case in flight was cancelled like any run; the next case never started.
    assert api.get(f"/v1/runs/{run['run_id']}").json()["status"] == "cancelled"
    assert [
        r["run_id"] for r in api.get("/v1/runs", params={"agent_id": "gated"}).json()["items"]
    ] == [run["run_id"]]
    # Cancelling again answers the report as it ended.
    again = api.post(f"/v1/evals/{report_id}/cancel")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    assert api.post("/v1/evals/nope/cancel").status_code == 404


def test_too_many_evals_at_once_answer_429_with_retry_after(
    serve_sqlite: Serve, gates: Path
) -> None:
    api = serve_sqlite(max_concurrent_evals=1)
    first = api.post("/v1/evals", json={"suite": gated_suite("l1")})
    assert first.status_code == 202, first.text
    # Not queued: refused, stored nowhere, with when to come back.
    busy = api.post("/v1/evals", json={"suite": gated_suite("l2")})
    assert busy.status_code == 429, busy.text
    assert busy.json()["type"] == "urn:covey:problem:too-many-evals"
    assert int(busy.headers["retry-after"]) > 0
    synchronous = api.post("/v1/evals", json={"suite": gated_suite("l2"), "wait": True})
    assert synchronous.status_code == 429
    assert [r["id"] for r in api.get("/v1/evals").json()["items"]] == [first.json()["id"]]
    assert "covey_evals_in_progress 1.0" in api.get("/metrics").text
    (gates / "l1").touch()
    wait_for(lambda: report(api, first.json()["id"])["status"] == "completed")
    (gates / "l2").touch()
    assert api.post("/v1/evals", json={"suite": gated_suite("l2")}).status_code == 202


def test_cancel_and_progress_are_admin_only(serve: Any) -> None:
    from test_auth import SECRET, bearer, token

    _, client = serve(
        auth="jwt", jwt_secret=SECRET, jwt_audience="covey-api", jwt_issuer="https://issuer"
    )
    claims = {"aud": "covey-api", "iss": "https://issuer"}
    admin = bearer(token("root", tenant="acme", scope="admin", **claims))
    user = bearer(token("eve", tenant="acme", scope="agents:run runs:read runs:write", **claims))
    other = bearer(token("root", tenant="globex", scope="admin", **claims))
    started = client.post("/v1/evals", json={"suite": gated_suite("x1")}, headers=admin)
    assert started.status_code == 202, started.text
    report_id = started.json()["id"]
    assert client.post(f"/v1/evals/{report_id}/cancel", headers=user).status_code == 403
    assert client.post(f"/v1/evals/{report_id}/cancel").status_code == 401
    # Another tenant's admin neither sees nor stops it.
    assert client.post(f"/v1/evals/{report_id}/cancel", headers=other).status_code == 404
    assert client.get(f"/v1/evals/{report_id}", headers=other).status_code == 404
    assert client.get(f"/v1/evals/{report_id}", headers=admin).json()["status"] == "running"
    done = client.post(f"/v1/evals/{report_id}/cancel", headers=admin)
    assert done.status_code == 200 and done.json()["status"] == "cancelled"


def test_a_server_that_stops_marks_its_running_eval_interrupted(
    gates: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'stop.db'}"

    def start() -> ThreadServer:
        settings = RuntimeSettings(store=url, shutdown_grace=1.0)
        return ThreadServer(create_app(settings, registry=build())).start()

    server = start()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        report_id = client.post("/v1/evals", json={"suite": gated_suite("z1")}).json()["id"]
        (run,) = wait_for(lambda: running_runs(client))
    server.stop()  # a clean stop (SIGTERM): the eval cannot finish, its report says why
    again = start()
    try:
        with httpx.Client(base_url=again.url, timeout=30) as client:
            stopped = report(client, report_id)
            assert stopped["status"] == "failed" and stopped["error"] == INTERRUPTED
            assert client.get(f"/v1/runs/{run['run_id']}").json()["status"] != "running"
    finally:
        again.stop()


@pytest.mark.slow
def test_a_killed_servers_eval_is_marked_interrupted_but_a_live_ones_is_not(
    tmp_path: Path,
) -> None:
    lease = 1.0
    gates = tmp_path / "gates"
    gates.mkdir()
    config = write_config(
        tmp_path / "covey.toml",
        agents="runtime_agents:registry",
        python_path=[str(TESTS)],
        store=f"sqlite:///{tmp_path / 'crash.db'}",
        shutdown_grace=1,
        eval_lease_seconds=lease,
        log_level="warning",
    )
    env = {GATES_ENV: str(gates)}
    doomed = ProcessServer(config, env).start()
    live = ProcessServer(config, env).start()
    fresh: ProcessServer | None = None
    try:
        with (
            httpx.Client(base_url=doomed.url, timeout=30) as a,
            httpx.Client(base_url=live.url, timeout=30) as b,
        ):
            dead_id = a.post("/v1/evals", json={"suite": gated_suite("k1")}).json()["id"]
            live_id = b.post("/v1/evals", json={"suite": gated_suite("k2")}).json()["id"]
            wait_for(lambda: len(running_runs(a)) == 2)
            assert doomed.process is not None
            os.kill(doomed.process.pid, signal.SIGKILL)
            doomed.process.wait(10)

            fresh = ProcessServer(config, env).start()
            with httpx.Client(base_url=fresh.url, timeout=30) as c:
                failed = wait_for(lambda: (r := report(c, dead_id))["status"] != "running" and r)
                assert failed["status"] == "failed" and failed["error"] == INTERRUPTED
                assert failed["finished_at"] is not None
                # The live worker kept renewing its report for longer than a lease since: the
                # new process left it running.
                marked = datetime.fromisoformat(failed["finished_at"])

                def renewed_after_a_lease() -> bool:
                    now = report(c, live_id)
                    assert now["status"] == "running", now
                    beat = datetime.fromisoformat(now["heartbeat_at"])
                    return (beat - marked).total_seconds() > 2 * lease

                wait_for(renewed_after_a_lease)

                # A cancel asked of another process than the one running the eval goes
                # through the store: 202, and that process stops it at its next renewal.
                other_id = b.post("/v1/evals", json={"suite": gated_suite("k3")}).json()["id"]
                asked = c.post(f"/v1/evals/{other_id}/cancel")
                assert asked.status_code == 202, asked.text
                assert asked.json()["cancel_requested"] is True
                ended = wait_for(lambda: (r := report(c, other_id))["status"] != "running" and r)
                assert ended["status"] == "cancelled"
                assert report(c, live_id)["status"] == "running"  # the other eval goes on

                (gates / "k2").touch()
                done = wait_for(lambda: (r := report(c, live_id))["status"] != "running" and r)
                assert done["status"] == "completed" and done["passed"] is True
    finally:
        for server in (live, fresh):
            if server is not None:
                server.stop()


def test_a_burst_of_posts_never_passes_the_limit(serve_sqlite: Serve, gates: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    api = serve_sqlite(max_concurrent_evals=2)
    suites = [gated_suite(f"burst{i}") for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda s: api.post("/v1/evals", json={"suite": s}), suites))
    assert sorted(a.status_code for a in answers) == [202, 202, 429, 429, 429, 429]
    accepted = [a.json()["id"] for a in answers if a.status_code == 202]
    assert sorted(r["id"] for r in api.get("/v1/evals").json()["items"]) == sorted(accepted)
    for report_id in accepted:
        assert api.post(f"/v1/evals/{report_id}/cancel").json()["status"] == "cancelled"


def test_a_caller_cannot_forge_a_status_or_reach_other_learnings(serve: Any) -> None:
    import anyio

    from covey.spec.store import Learning, Scope
    from covey.testing import InMemoryStore

    store = InMemoryStore()
    note = Learning(id="note-1", namespace="notes", kind="eval_report", content="not a report")
    anyio.run(store.add_learning, Scope("default"), note)
    _, api = serve(store=store)
    suite = gated_suite("f1")
    for extra in ({"status": "completed"}, {"cancel_requested": True}, {"id": "mine"}):
        forged = api.post("/v1/evals", json={"suite": suite, **extra})
        assert forged.status_code == 400, forged.text
    assert api.get("/v1/evals").json()["items"] == []
    # Eval routes reach only eval reports: a learning of another namespace is not one.
    assert api.post("/v1/evals/note-1/cancel").status_code == 404
    assert api.get("/v1/evals/note-1").status_code == 404
    assert anyio.run(store.get_learning, Scope("default"), "note-1") == note
