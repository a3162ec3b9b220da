"""Team runs across two `covey serve` processes sharing one SQLite file: process A runs them,
process B resumes, cancels and follows them through the store alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from runtime_agents import GATES_ENV
from runtime_helpers import (
    check_event_log,
    read_sse,
    server_pair,
    sse,
    wait_for,
    wait_until_event,
)

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the shared SQL store")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[httpx.Client, httpx.Client, Path]]:
    folder = tmp_path_factory.mktemp("teams")
    store = f"sqlite:///{folder / 'shared.db'}"
    with server_pair(
        folder, agents="runtime_teams:registry", store=store, gates_env=GATES_ENV
    ) as pair:
        yield pair


def _children(client: httpx.Client, run_id: str) -> list[dict]:
    """The run's children; none while the run is not stored yet (B knows it only from there)."""
    response = client.get(f"/v1/runs/{run_id}/children")
    return response.json()["items"] if response.status_code == 200 else []


def test_a_paused_member_is_resumed_through_its_team_in_another_process(
    pair: tuple[httpx.Client, httpx.Client, Path],
) -> None:
    """Fails if a team paused by a member in one process cannot be finished by another."""
    a, b, _ = pair
    paused = a.post("/v1/teams/hitl/runs", json={"input": "/srv/t"}).json()
    assert paused["status"] == "paused"
    [requirement] = paused["requirements"]
    done = b.post(
        f"/v1/runs/{paused['run_id']}/resume",
        json={"approvals": {requirement["tool_call_id"]: True}},
    )
    assert done.status_code == 200, done.text
    assert done.json()["output"] == "approver said: result: deleted /srv/t"
    [member] = _children(a, paused["run_id"])
    assert (member["run_id"], member["status"]) == (requirement["run_id"], "completed")
    events = [e for e in sse(a, "GET", f"/v1/runs/{paused['run_id']}/events") if e.id]
    check_event_log([e.data for e in events])
    assert [e.event for e in events].count("run.started") == 2


def test_follow_a_team_run_of_another_process_with_its_member_and_re_attach(
    pair: tuple[httpx.Client, httpx.Client, Path],
) -> None:
    """Fails if a follower in another process (another worker behind the load balancer) sees
    only the team's own events, or if re-attaching there repeats or loses events."""
    a, b, gates = pair
    team_run = a.post("/v1/teams/slow/runs", json={"input": "x2", "background": True}).json()[
        "run_id"
    ]
    wait_for(lambda: b.get(f"/v1/runs/{team_run}").status_code == 200)
    first: list = []
    with b.stream("GET", f"/v1/runs/{team_run}/events") as response:
        for event in read_sse(response.iter_lines()):
            first.append(event)
            if event.event == "tool_call.started" and event.data["tool_name"] == "gate":
                break
    member = first[-1].data["run_id"]
    assert member != team_run and first[-1].id is None
    assert [e.data["agent_name"] for e in first if e.event == "run.started"] == ["slow", "gated"]
    last_id = max(e.id for e in first if e.id is not None)
    with b.stream(
        "GET", f"/v1/runs/{team_run}/events", headers={"Last-Event-ID": str(last_id)}
    ) as response:
        (gates / "x2").touch()
        rest = list(read_sse(response.iter_lines()))
    own = [e for e in first + rest if e.id is not None]
    assert [e.id for e in own] == list(range(1, len(own) + 1))
    check_event_log([e.data for e in own])
    assert rest[-1].data["result"]["output"] == "gated said: done: gate x2 opened"
    member_rest = [e.data for e in rest if e.data["run_id"] == member]
    assert member_rest[-1]["type"] == "run.completed"
    # As in the process running it: re-attaching after team event N replays what followed it
    # (here the member's events), then goes on; the member's log arrives whole and in order.
    mark = max(i for i, e in enumerate(first) if e.id == last_id)
    seen_after = first[mark + 1 :]
    assert [e.data for e in rest[: len(seen_after)]] == [e.data for e in seen_after]
    member_log = [e.data["seq"] for e in first[: mark + 1] + rest if e.data["run_id"] == member]
    assert member_log == list(range(1, len(member_log) + 1))


def test_cancel_a_team_run_of_another_process(
    pair: tuple[httpx.Client, httpx.Client, Path],
) -> None:
    """Fails if a cancel through process B does not stop the team, and its member, in A."""
    a, b, _ = pair
    team_run = a.post("/v1/teams/slow/runs", json={"input": "never", "background": True}).json()[
        "run_id"
    ]
    wait_for(lambda: b.get(f"/v1/runs/{team_run}").status_code == 200)
    wait_for(lambda: [m for m in _children(b, team_run) if m["status"] == "running"])
    response = b.post(f"/v1/runs/{team_run}/cancel")
    assert response.status_code == 202
    # Followed from B, the stream merges the team's log and its member's.
    events = sse(b, "GET", f"/v1/runs/{team_run}/events")
    own = [e for e in events if e.id is not None]
    check_event_log([e.data for e in own])
    assert {e.data["run_id"] for e in own} == {team_run}
    assert own[-1].event == "run.cancelled"
    member_events = [e for e in events if e.id is None]
    assert member_events and {e.data["parent_run_id"] for e in member_events} == {team_run}
    [member] = wait_for(
        lambda: [m for m in _children(b, team_run) if m["status"] != "running"] or None
    )
    assert member["status"] == "cancelled"


def test_cancel_one_member_from_another_process_and_the_team_goes_on(
    pair: tuple[httpx.Client, httpx.Client, Path],
) -> None:
    """Fails if a member's cancel asked through the store is not seen by the process running
    it (only the team run's flag was watched), or if it brings the team down with it."""
    a, b, _ = pair
    team_run = a.post("/v1/teams/slow/runs", json={"input": "nope", "background": True}).json()[
        "run_id"
    ]
    [member] = wait_for(lambda: _children(b, team_run) or None)
    wait_until_event(b, member["run_id"], "tool_call.started")
    assert b.post(f"/v1/runs/{member['run_id']}/cancel").status_code == 202
    wait_for(lambda: b.get(f"/v1/runs/{team_run}").json()["status"] != "running")
    team = b.get(f"/v1/runs/{team_run}").json()
    assert team["status"] == "completed"
    assert team["output"].startswith("gated said: ")
    assert b.get(f"/v1/runs/{member['run_id']}").json()["status"] == "cancelled"


def test_cancel_a_paused_team_run_from_another_process(
    pair: tuple[httpx.Client, httpx.Client, Path],
) -> None:
    a, b, _ = pair
    paused = a.post("/v1/teams/hitl/runs", json={"input": "/srv/u"}).json()
    [requirement] = paused["requirements"]
    response = b.post(f"/v1/runs/{paused['run_id']}/cancel")
    assert response.json()["status"] == "cancelled"
    refused = a.post(
        f"/v1/runs/{paused['run_id']}/resume",
        json={"approvals": {requirement["tool_call_id"]: True}},
    )
    assert refused.status_code == 409


def test_a_paused_workflow_step_is_resumed_in_another_process(
    pair: tuple[httpx.Client, httpx.Client, Path],
) -> None:
    a, b, _ = pair
    paused = a.post("/v1/workflows/signoff/runs", json={"input": "/srv/w"}).json()
    assert paused["status"] == "paused"
    [requirement] = paused["requirements"]
    done = b.post(
        f"/v1/runs/{paused['run_id']}/resume",
        json={"approvals": {requirement["tool_call_id"]: True}},
    )
    assert done.status_code == 200, done.text
    assert done.json()["output"] == "published: result: deleted /srv/w"
    assert [s["status"] for s in _children(a, paused["run_id"])] == ["completed", "completed"]
