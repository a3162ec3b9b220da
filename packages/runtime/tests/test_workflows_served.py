"""Workflows served over real HTTP on SQLite: list and describe (step tree, Mermaid), JSON, SSE
and WebSocket runs with their step runs' events, typed input, background runs and re-attach,
cancel, a paused step resumed through the workflow, children."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from runtime_helpers import check_event_log, read_sse, sse, wait_for
from runtime_teams import build
from test_teams_served import FINALS, _children, _member_waits, _until, by_run
from websockets.sync.client import connect

from covey.runtime import open_store

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the SQLite store")

PUBLISHED = (
    "published: {'review': 'critique of draft of outline of tea', "
    "'shout': 'DRAFT OF OUTLINE OF TEA'}"
)


@pytest.fixture
def flows(serve: Any, tmp_path: Path) -> tuple[Any, httpx.Client]:
    return serve(store=open_store(f"sqlite:///{tmp_path / 'flows.db'}"), registry=build())


@pytest.fixture
def api(flows: tuple[Any, httpx.Client]) -> httpx.Client:
    return flows[1]


def test_workflows_are_listed_and_described_with_their_step_tree_and_drawing(
    api: httpx.Client,
) -> None:
    names = [w["workflow_id"] for w in api.get("/v1/workflows").json()["items"]]
    assert names == ["pipeline", "signoff", "waiting", "ordering", "branches"]
    flow = api.get("/v1/workflows/pipeline").json()
    assert flow["description"] == "Outline, write, review and shout at once, publish."
    tree = [(s["kind"], s["name"], s["runs"]) for s in flow["steps"]]
    assert tree == [
        ("function", "outline", "function:outline"),
        ("agent", "write", "agent:writer"),
        ("parallel", "fan_out", None),
        ("function", "publish", "function:publish"),
    ]
    assert flow["steps"][1]["description"] == "The writer drafts."
    assert [(s["name"], s["runs"]) for s in flow["steps"][2]["steps"]] == [
        ("review", "agent:critic"),
        ("shout", "function:shout"),
    ]
    assert flow["mermaid"].startswith("flowchart TD")
    assert '"write"' in flow["mermaid"] and '"fan_out"' in flow["mermaid"]
    assert api.get("/v1/teams/pipeline").status_code == 404
    assert "covey_workflows 5.0\n" in api.get("/metrics").text
    # Every construct, with the names and kinds the step events use.
    branches = api.get("/v1/workflows/branches").json()["steps"]

    def shape(steps: list[dict[str, Any]]) -> list[Any]:
        return [(s["kind"], s["name"], s["max_iterations"], shape(s["steps"])) for s in steps]

    assert shape(branches) == [
        ("condition", "maybe", None, [("function", "shout", None, [])]),
        ("loop", "again", 2, [("agent", "recheck", None, [])]),
        (
            "router",
            "pick",
            None,
            [("function", "publish", None, []), ("function", "loud", None, [])],
        ),
    ]
    assert branches[1]["steps"][0]["runs"] == "agent:critic"


def test_a_json_workflow_run_and_its_step_runs(api: httpx.Client) -> None:
    run = api.post("/v1/workflows/pipeline/runs", json={"input": "tea"}).json()
    assert (run["status"], run["agent_id"], run["output"]) == ("completed", "pipeline", PUBLISHED)
    steps = _children(api, run["run_id"])
    assert [s["agent_id"] for s in steps] == ["outline", "writer", "critic", "shout", "publish"]
    assert {s["parent_run_id"] for s in steps} == {run["run_id"]}
    assert steps[1]["output"] == "draft of outline of tea"


def test_a_workflow_takes_a_json_object_for_a_typed_first_step(api: httpx.Client) -> None:
    run = api.post("/v1/workflows/ordering/runs", json={"input": {"item": "tea", "qty": 2}})
    assert run.json()["output"] == "2 x tea = 6"
    refused = api.post("/v1/workflows/ordering/runs", json={"input": {}})
    assert refused.status_code == 400  # an empty object says nothing
    # Agents and teams still take text or content parts only.
    assert api.post("/v1/teams/desk/runs", json={"input": {"a": 1}}).status_code == 400


def test_a_streamed_workflow_run_pairs_its_steps_and_carries_its_step_runs_events(
    api: httpx.Client,
) -> None:
    events = sse(api, "POST", "/v1/workflows/pipeline/runs", json={"input": "tea", "stream": True})
    flow_run = events[0].data["run_id"]
    own = [e for e in events if e.data["run_id"] == flow_run]
    children = [e for e in events if e.data["run_id"] != flow_run]
    assert all(e.id == e.data["seq"] for e in own)
    assert all(e.id is None for e in children)
    steps = [(e.event, e.data["step_path"]) for e in own if e.event.startswith("step.")]
    assert steps[:4] == [
        ("step.started", "outline"),
        ("step.completed", "outline"),
        ("step.started", "write"),
        ("step.completed", "write"),
    ]
    assert steps[-2:] == [("step.started", "publish"), ("step.completed", "publish")]
    started = [p for kind, p in steps if kind == "step.started"]
    assert sorted(started) == sorted(p for kind, p in steps if kind == "step.completed")
    # The writer's run events come between its step's start and end, under the workflow run.
    writer = [e for e in children if e.data.get("agent_name") == "writer"]
    assert writer[0].event == "run.started" and writer[-1].event == "run.completed"
    assert {e.data["parent_run_id"] for e in children} == {flow_run}
    position = {id(e): i for i, e in enumerate(events)}
    write_started = next(
        e for e in own if e.event == "step.started" and e.data["step_path"] == "write"
    )
    write_done = next(
        e for e in own if e.event == "step.completed" and e.data["step_path"] == "write"
    )
    assert position[id(write_started)] < position[id(writer[0])]
    assert position[id(writer[-1])] < position[id(write_done)]
    assert own[-1].data["result"]["output"] == PUBLISHED
    stored = sse(api, "GET", f"/v1/runs/{flow_run}/events")
    assert [e.data for e in stored if e.id is not None] == [e.data for e in own]
    assert by_run(stored) == by_run(events)  # the step runs' logs are replayed too


def test_a_workflow_run_over_a_websocket(flows: tuple[Any, httpx.Client]) -> None:
    server, _ = flows
    with connect(server.url.replace("http://", "ws://") + "/v1/workflows/ordering/ws") as ws:
        ws.send(json.dumps({"input": {"item": "jam", "qty": 1}}))
        events: list[dict[str, Any]] = []
        while True:
            message = json.loads(ws.recv(timeout=20))
            events.append(message)
            if message["type"] in FINALS and message["parent_run_id"] is None:
                break
    assert events[-1]["result"]["output"] == "1 x jam = 3"
    assert [e["type"] for e in events if e["type"].startswith("step.")] == [
        "step.started",
        "step.completed",
    ]


def test_a_background_workflow_run_re_attached_and_cancelled_with_its_step(
    api: httpx.Client, gates: Path
) -> None:
    """Fails if re-attaching after the workflow's own seq repeats or loses its events, or if
    cancelling the workflow leaves its step run going."""
    flow_run = api.post("/v1/workflows/waiting/runs", json={"input": "w1", "background": True})
    flow_run = flow_run.json()["run_id"]
    first = _until(api, flow_run, _member_waits)
    last_id = max(e.id for e in first if e.id is not None)
    with api.stream(
        "GET", f"/v1/runs/{flow_run}/events", headers={"Last-Event-ID": str(last_id)}
    ) as response:
        (gates / "w1").touch()
        rest = list(read_sse(response.iter_lines()))
    own = [e for e in first + rest if e.id is not None]
    assert [e.id for e in own] == list(range(1, len(own) + 1))
    check_event_log([e.data for e in own])
    assert rest[-1].data["result"]["output"] == "published: done: gate w1 opened"

    stuck = api.post("/v1/workflows/waiting/runs", json={"input": "never", "background": True})
    stuck_run = stuck.json()["run_id"]
    _until(api, stuck_run, _member_waits)
    cancelled = api.post(f"/v1/runs/{stuck_run}/cancel")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    [step] = wait_for(
        lambda: [s for s in _children(api, stuck_run) if s["status"] != "running"] or None
    )
    assert (step["agent_id"], step["status"]) == ("gated", "cancelled")


def test_a_paused_step_is_resumed_through_its_workflow(api: httpx.Client) -> None:
    paused = api.post("/v1/workflows/signoff/runs", json={"input": "/y"}).json()
    assert paused["status"] == "paused"
    [requirement] = paused["requirements"]
    [step] = _children(api, paused["run_id"])
    assert (step["agent_id"], step["status"]) == ("approver", "paused")
    decision = {"approvals": {requirement["tool_call_id"]: True}}
    refused = api.post(f"/v1/runs/{step['run_id']}/resume", json=decision)
    assert refused.json()["type"] == "urn:covey:problem:run-is-child"
    done = api.post(f"/v1/runs/{paused['run_id']}/resume", json=decision).json()
    assert (done["status"], done["output"]) == ("completed", "published: result: deleted /y")
    assert [s["agent_id"] for s in _children(api, paused["run_id"])] == ["approver", "publish"]


def test_a_workflow_run_is_not_resumed_by_an_agent_that_took_its_name(
    serve: Any, tmp_path: Path
) -> None:
    """Fails if a paused workflow run is handed to whatever now bears the workflow's name (a
    redeploy that renamed things): the agent's resume cannot read a workflow's run."""
    from covey.core import Agent
    from covey.core.testing import TestModel
    from covey.runtime import Registry

    url = f"sqlite:///{tmp_path / 'renamed.db'}"
    _, before = serve(store=open_store(url), registry=build())
    paused = before.post("/v1/workflows/signoff/runs", json={"input": "/z"}).json()
    [requirement] = paused["requirements"]
    _, after = serve(
        store=open_store(url), registry=Registry([Agent(name="signoff", model=TestModel())])
    )
    refused = after.post(
        f"/v1/runs/{paused['run_id']}/resume",
        json={"approvals": {requirement["tool_call_id"]: True}},
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"] == "urn:covey:problem:agent-not-served"
    assert after.get(f"/v1/runs/{paused['run_id']}").json()["status"] == "paused"
