"""Teams served over real HTTP on SQLite: list and describe, JSON, SSE and WebSocket runs with
their member runs' events, background runs and re-attach, cancel, human in the loop, children.

The teams are real `Team`s led by `FunctionModel`s (`runtime_teams`), so which member got what
and what the leader saw is known exactly.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from runtime_helpers import SseEvent, check_event_log, read_sse, sse, wait_for
from runtime_teams import build
from websockets.sync.client import connect

from covey.runtime import open_store

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the SQLite store")

FINALS = ("run.completed", "run.failed", "run.paused", "run.cancelled")


@pytest.fixture
def teams(serve: Any, tmp_path: Path) -> tuple[Any, httpx.Client]:
    """A server of the test teams on an SQLite file."""
    return serve(store=open_store(f"sqlite:///{tmp_path / 'teams.db'}"), registry=build())


@pytest.fixture
def api(teams: tuple[Any, httpx.Client]) -> httpx.Client:
    return teams[1]


def _children(api: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    return api.get(f"/v1/runs/{run_id}/children").json()["items"]


def test_teams_are_listed_and_described_with_nested_members(api: httpx.Client) -> None:
    names = [t["team_id"] for t in api.get("/v1/teams").json()["items"]]
    assert names == ["desk", "router", "hitl", "slow", "outer"]
    assert [a["agent_id"] for a in api.get("/v1/agents").json()["items"]] == ["echo"]
    outer = api.get("/v1/teams/outer").json()
    assert (outer["mode"], outer["description"]) == ("coordinate", "Asks the desk.")
    [desk, echo] = outer["members"]
    assert (desk["name"], desk["kind"], echo["kind"]) == ("desk", "team", "agent")
    assert [(m["name"], m["description"]) for m in desk["members"]] == [
        ("writer", "Writes drafts."),
        ("critic", "Criticises drafts."),
    ]
    assert api.get("/v1/teams/router").json()["mode"] == "route"
    assert api.get("/v1/agents/desk").status_code == 404  # a team is not an agent
    metrics = api.get("/metrics").text
    assert "covey_agents 1.0\n" in metrics and "covey_teams 5.0\n" in metrics


def test_a_json_team_run_and_its_member_runs(api: httpx.Client) -> None:
    """Fails if the leader's delegations do not reach the members in order, or the member runs
    are not stored as children of the team run."""
    run = api.post("/v1/teams/desk/runs", json={"input": "tea"}).json()
    assert run["status"] == "completed", run
    assert run["output"] == "team: draft of tea | critique of draft of tea"
    assert run["agent_id"] == "desk"
    assert [c["tool_name"] for c in run["tool_calls"]] == ["delegate_task", "delegate_task"]
    members = _children(api, run["run_id"])
    assert [(m["agent_id"], m["output"]) for m in members] == [
        ("writer", "draft of tea"),
        ("critic", "critique of draft of tea"),
    ]
    assert {m["parent_run_id"] for m in members} == {run["run_id"]}
    assert api.get(f"/v1/runs/{run['run_id']}").json()["status"] == "completed"

    routed = api.post("/v1/teams/router/runs", json={"input": "soup"}).json()
    assert routed["output"] == "draft of soup"  # route: the member's answer is the team's
    assert [m["agent_id"] for m in _children(api, routed["run_id"])] == ["writer"]


def by_run(events: list[SseEvent]) -> dict[str, list[dict[str, Any]]]:
    """Each run's events in a stream, in order, by run id."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        runs.setdefault(event.data["run_id"], []).append(event.data)
    return runs


def _shape(events: list[SseEvent], team_run: str) -> list[str]:
    """Each event as `<whose>:<type>`, whose being `team` or the member's agent name."""
    return [
        f"{'team' if e.data['run_id'] == team_run else e.data['agent_name']}:{e.event}"
        for e in events
        if not e.event.endswith(".delta")
    ]


def test_a_streamed_team_run_carries_its_members_events_in_order_with_ids_on_its_own(
    api: httpx.Client,
) -> None:
    """Fails if member events are missing or out of order in the team's stream, if a member's
    event carries an SSE id (a client would re-attach with another run's seq), or if the team's
    own ids are not its stored log's seqs."""
    events = sse(api, "POST", "/v1/teams/desk/runs", json={"input": "tea", "stream": True})
    team_run = events[0].data["run_id"]
    assert _shape(events, team_run) == [
        "team:run.started",
        "team:model_request.started",
        "team:model_request.completed",
        "team:tool_call.started",
        "writer:run.started",
        "writer:model_request.started",
        "writer:model_request.completed",
        "writer:run.completed",
        "team:tool_call.completed",
        "team:model_request.started",
        "team:model_request.completed",
        "team:tool_call.started",
        "critic:run.started",
        "critic:model_request.started",
        "critic:model_request.completed",
        "critic:run.completed",
        "team:tool_call.completed",
        "team:model_request.started",
        "team:model_request.completed",
        "team:run.completed",
    ]
    own = [e for e in events if e.data["run_id"] == team_run]
    members = [e for e in events if e.data["run_id"] != team_run]
    assert all(e.id == e.data["seq"] for e in own)
    assert all(e.id is None for e in members)
    assert {e.data["parent_run_id"] for e in members} == {team_run}
    assert own[-1].data["result"]["output"] == "team: draft of tea | critique of draft of tea"
    # Replayed from the store once it ended: the team's log (the same events, seq 1..n) and
    # each member's, merged.
    stored = sse(api, "GET", f"/v1/runs/{team_run}/events")
    assert [e.data for e in stored if e.id is not None] == [e.data for e in own]
    check_event_log([e.data for e in stored if e.id is not None])
    assert by_run(stored) == by_run(events)
    # Each member's log is at its own events URL.
    writer_run = members[0].data["run_id"]
    writer_log = sse(api, "GET", f"/v1/runs/{writer_run}/events")
    assert [e.id for e in writer_log] == [e.data["seq"] for e in writer_log]
    assert writer_log[-1].data["result"]["output"] == "draft of tea"


def test_nested_teams_three_deep(api: httpx.Client) -> None:
    """Fails if a nested team's members are not run under the nested team's run, or their
    events do not reach the outer stream."""
    events = sse(api, "POST", "/v1/teams/outer/runs", json={"input": "jam", "stream": True})
    outer_run = events[0].data["run_id"]
    assert events[-1].data["result"]["output"] == (
        "desk said: team: draft of jam | critique of draft of jam"
    )
    [desk_run] = _children(api, outer_run)
    assert desk_run["agent_id"] == "desk"
    assert [m["agent_id"] for m in _children(api, desk_run["run_id"])] == ["writer", "critic"]
    by_run = {e.data["run_id"]: e.data["parent_run_id"] for e in events}
    writer = next(e for e in events if e.data.get("agent_name") == "writer")
    assert by_run[writer.data["run_id"]] == desk_run["run_id"]
    assert by_run[desk_run["run_id"]] == outer_run
    assert [e.id for e in events if e.id is not None] == list(
        range(1, 1 + sum(e.data["run_id"] == outer_run for e in events))
    )


def _receive_team_run(ws: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        message = json.loads(ws.recv(timeout=20))
        events.append(message)
        if message["type"] in FINALS and message["parent_run_id"] is None:
            return events


def test_a_team_run_over_a_websocket(teams: tuple[Any, httpx.Client]) -> None:
    server, _ = teams
    with connect(server.url.replace("http://", "ws://") + "/v1/teams/desk/ws") as ws:
        ws.send(json.dumps({"input": "tea"}))
        events = _receive_team_run(ws)
    with connect(server.url.replace("http://", "ws://") + "/v1/teams/hitl/ws") as ws:
        ws.send(json.dumps({"input": "/w"}))
        paused = _receive_team_run(ws)[-1]
        assert paused["type"] == "run.paused"
        [requirement] = paused["result"]["requirements"]
        decision = {requirement["tool_call_id"]: True}
        ws.send(json.dumps({"type": "resume", "run_id": paused["run_id"], "approvals": decision}))
        resumed = _receive_team_run(ws)
        assert resumed[-1]["result"]["output"] == "approver said: result: deleted /w"
        assert any(e["run_id"] == requirement["run_id"] for e in resumed)  # the member went on
    team_run = events[0]["run_id"]
    assert events[-1]["result"]["output"] == "team: draft of tea | critique of draft of tea"
    members = [e for e in events if e["run_id"] != team_run]
    assert [e["agent_name"] for e in members if e["type"] == "run.started"] == ["writer", "critic"]
    check_event_log([e for e in events if e["run_id"] == team_run])


def _until(api: httpx.Client, run_id: str, done: Any, headers: Any = None) -> list[SseEvent]:
    seen: list[SseEvent] = []
    with api.stream("GET", f"/v1/runs/{run_id}/events", headers=headers or {}) as response:
        for event in read_sse(response.iter_lines()):
            seen.append(event)
            if done(event):
                return seen
    raise AssertionError(f"the stream ended first: {[e.event for e in seen]}")


def _member_waits(event: SseEvent) -> bool:
    return event.event == "tool_call.started" and event.data["tool_name"] == "gate"


def test_a_background_team_run_re_attached_after_its_own_seq(
    api: httpx.Client, gates: Path
) -> None:
    """Fails if re-attaching with `Last-Event-ID` replays team events the client saw, skips
    member events that came after, or loses the end of the run."""
    accepted = api.post("/v1/teams/slow/runs", json={"input": "g1", "background": True})
    assert accepted.status_code == 202
    team_run = accepted.json()["run_id"]
    first = _until(api, team_run, _member_waits)
    last_id = max(e.id for e in first if e.id is not None)
    assert first[-1].id is None  # the member's tool call: not the team's log
    assert api.get(f"/v1/runs/{team_run}").json()["status"] == "running"

    with api.stream(
        "GET", f"/v1/runs/{team_run}/events", headers={"Last-Event-ID": str(last_id)}
    ) as response:
        (gates / "g1").touch()
        rest = list(read_sse(response.iter_lines()))
    # Replayed first: the member events published after the team's event `last_id`.
    mark = max(i for i, e in enumerate(first) if e.id == last_id)
    seen_after = first[mark + 1 :]
    assert seen_after and all(e.id is None for e in seen_after)
    assert [e.data for e in rest[: len(seen_after)]] == [e.data for e in seen_after]
    own = [e for e in first + rest if e.id is not None]
    assert [e.id for e in own] == list(range(1, len(own) + 1))  # nothing repeated, nothing lost
    check_event_log([e.data for e in own])
    assert rest[-1].data["result"]["output"] == "gated said: done: gate g1 opened"
    member_final = [e for e in rest if e.id is None and e.event == "run.completed"]
    assert member_final and member_final[0].data["result"]["output"] == "done: gate g1 opened"


def test_cancelling_a_team_run_cancels_its_members(api: httpx.Client) -> None:
    """Fails if the member run goes on (or is left `running`) after its team was cancelled."""
    team_run = api.post("/v1/teams/slow/runs", json={"input": "never", "background": True}).json()[
        "run_id"
    ]
    _until(api, team_run, _member_waits)
    cancelled = api.post(f"/v1/runs/{team_run}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    [member] = wait_for(
        lambda: [m for m in _children(api, team_run) if m["status"] != "running"] or None
    )
    assert (member["agent_id"], member["status"]) == ("gated", "cancelled")
    log = [e for e in sse(api, "GET", f"/v1/runs/{team_run}/events") if e.id is not None]
    assert log[-1].event == "run.cancelled"
    check_event_log([e.data for e in log])
    # Idempotent, as for agents.
    again = api.post(f"/v1/runs/{team_run}/cancel")
    assert (again.status_code, again.json()["status"]) == (200, "cancelled")


def test_a_paused_member_pauses_the_team_and_the_team_is_resumed(api: httpx.Client) -> None:
    """Fails if a member's approval does not pause the team run with the member's requirement,
    if the member run can be resumed on its own, or if resuming the team does not finish it."""
    paused = api.post("/v1/teams/hitl/runs", json={"input": "/x"}).json()
    assert paused["status"] == "paused"
    [requirement] = paused["requirements"]
    assert (requirement["kind"], requirement["tool_name"]) == ("approval", "delete_file")
    [member] = _children(api, paused["run_id"])
    assert (member["run_id"], member["status"]) == (requirement["run_id"], "paused")
    decision = {"approvals": {requirement["tool_call_id"]: True}}
    refused = api.post(f"/v1/runs/{member['run_id']}/resume", json=decision)
    assert (refused.status_code, refused.json()["type"]) == (409, "urn:covey:problem:run-is-child")
    wrong = api.post(f"/v1/runs/{paused['run_id']}/resume", json={"approvals": {"d1": True}})
    assert wrong.status_code == 422

    before = [e for e in sse(api, "GET", f"/v1/runs/{paused['run_id']}/events") if e.id]
    events = sse(
        api, "POST", f"/v1/runs/{paused['run_id']}/resume", json={**decision, "stream": True}
    )
    assert events[-1].data["result"]["output"] == "approver said: result: deleted /x"
    # The resumed stream's ids go on from the paused log's last one.
    resumed_ids = [e.id for e in events if e.id is not None]
    assert resumed_ids == list(range(before[-1].id + 1, before[-1].id + 1 + len(resumed_ids)))
    assert any(e.id is None and e.data["run_id"] == member["run_id"] for e in events)
    done = api.get(f"/v1/runs/{paused['run_id']}").json()
    assert done["status"] == "completed"
    assert api.get(f"/v1/runs/{member['run_id']}").json()["status"] == "completed"
    own = [e for e in sse(api, "GET", f"/v1/runs/{paused['run_id']}/events") if e.id]
    assert [e.id for e in own] == list(range(1, len(own) + 1))


def test_a_member_busy_longer_than_the_lease_is_not_taken_for_a_dead_workers_run(
    serve: Any, tmp_path: Path, gates: Path
) -> None:
    """Fails if the server renews only the team run's lease: its member, busy in one long tool
    call, would be closed as `interrupted` by the orphan sweep while it still runs."""
    _, api = serve(
        store=open_store(f"sqlite:///{tmp_path / 'lease.db'}"),
        registry=build(),
        lease_seconds=0.6,
    )
    team_run = api.post("/v1/teams/slow/runs", json={"input": "long", "background": True}).json()[
        "run_id"
    ]
    _until(api, team_run, _member_waits)
    [member] = _children(api, team_run)
    time.sleep(2.0)  # several leases pass while the member's tool call is in flight
    assert api.get(f"/v1/runs/{member['run_id']}").json()["status"] == "running"
    (gates / "long").touch()
    wait_for(lambda: api.get(f"/v1/runs/{team_run}").json()["status"] == "completed")
    assert api.get(f"/v1/runs/{member['run_id']}").json()["status"] == "completed"


def test_a_team_whose_leader_model_cannot_be_resolved_is_refused_before_it_runs(
    serve: Any,
) -> None:
    """Fails if the run starts (and is stored failed) instead of a 503 problem saying what to
    install, as for an agent."""
    from runtime_teams import writer

    from covey.core import Team
    from covey.runtime import Registry
    from covey.testing import InMemoryStore

    store = InMemoryStore()
    _, api = serve(
        store=store,
        registry=Registry(
            [
                Team(name="unled", members=[writer], model="nowhere:model"),
                Team(name="leaderless", members=[writer]),
            ]
        ),
    )
    for name, hint in (("unled", "nowhere"), ("leaderless", "no model for its leader")):
        response = api.post(f"/v1/teams/{name}/runs", json={"input": "hi"})
        assert response.status_code == 503, response.text
        assert response.json()["type"] == "urn:covey:problem:misconfigured"
        assert hint in response.json()["detail"]
    assert api.get("/v1/sessions").json()["items"] == []  # nothing was written


def test_cancelling_one_member_here_answers_200_and_the_team_goes_on(api: httpx.Client) -> None:
    """Fails if cancelling a member run of this process answers 202 (as if it ran elsewhere),
    leaves the member running, or brings its team down."""
    team_run = api.post("/v1/teams/slow/runs", json={"input": "stop", "background": True}).json()[
        "run_id"
    ]
    _until(api, team_run, _member_waits)
    [member] = _children(api, team_run)
    cancelled = api.post(f"/v1/runs/{member['run_id']}/cancel")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    wait_for(lambda: api.get(f"/v1/runs/{team_run}").json()["status"] != "running")
    team = api.get(f"/v1/runs/{team_run}").json()
    assert team["status"] == "completed"
    assert team["output"].startswith("gated said: ")  # the leader was told, as a tool result
