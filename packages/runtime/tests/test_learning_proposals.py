"""A `LearningMachine` in propose mode served over real HTTP: the agent's proposal pauses the
run with an approval requirement, nothing is saved until a person answers through the ordinary
resume endpoint; approved → the profile shows the field at `/v1/users/{id}/profile` (and the
run's events report the change), rejected → nothing is kept. Also: what the machine learns in
always mode is listed and corrected through `/v1/memories`, `/v1/users/{id}/profile` and
`/v1/learnings`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_auth import SECRET, bearer, token

from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel
from covey.runtime import Registry, open_store
from covey.spec import (
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
)

pytest.importorskip("covey.learn", reason="covey-learn provides the LearningMachine")
pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the SQLite store")

from covey.learn import LearningMachine

ISSUER = {"aud": "covey-api", "iss": "https://issuer"}
SCOPES = "agents:run runs:read runs:write memories:read memories:write sessions:read"
Messages = list[ModelRequest | ModelResponse]


def who(sub: str, tenant: str = "acme") -> dict[str, str]:
    return bearer(token(sub, tenant=tenant, scope=SCOPES, **ISSUER))


ANN, BOB, ANN_GLOBEX = who("ann"), who("bob"), who("ann", "globex")


def assistant_model(messages: Messages, info: AgentInfo) -> ModelResponse:
    """Proposes to save the city the user names; then answers with the tool's result."""
    last = messages[-1]
    returns = [p for p in last.parts if isinstance(p, ToolReturnPart)]
    if returns:
        return ModelResponse(parts=[TextPart(content=f"Done: {returns[0].content}")])
    said = " ".join(str(p.content) for p in last.parts if isinstance(p, UserPart))
    if "moved to " in said:
        city = said.split("moved to ", 1)[1].strip(" .")
        call = ToolCallPart(
            tool_name="update_profile", args={"field": "city", "value": city}, tool_call_id="p1"
        )
        return ModelResponse(parts=[call])
    return ModelResponse(parts=[TextPart(content="Noted.")])


def extraction_model(messages: Messages, info: AgentInfo) -> ModelResponse:
    """Learns a memory and a decision from "I love jazz"."""
    text = " ".join(str(getattr(p, "content", "")) for m in messages for p in m.parts)
    answer: dict[str, Any] = {}
    if "I love jazz" in text:
        answer = {
            "memory": [{"op": "create", "memory": "The user loves jazz.", "topics": ["music"]}],
            "decision": [{"decision": "Recommend a jazz club", "reason": "The user loves jazz"}],
            "session_context": {"goal": "Find a jazz club tonight"},
        }
    call = ToolCallPart(tool_name=info.output_tools[0].name, args=answer, tool_call_id="x")
    return ModelResponse(parts=[call])


@pytest.fixture
def api(serve: Any, tmp_path: Path) -> httpx.Client:
    store = open_store(f"sqlite:///{tmp_path / 'covey.db'}")
    proposer = LearningMachine(
        FunctionModel(extraction_model),
        store=store,
        user_profile="propose",
        user_memory=None,
        background=False,
    )
    learner = LearningMachine(
        FunctionModel(extraction_model),
        store=store,
        user_profile=None,
        session_context="always",
        decision_log="always",
        background=False,
    )
    registry = Registry(
        [
            Agent(name="assistant", model=FunctionModel(assistant_model), learning=proposer),
            Agent(name="listener", model=FunctionModel(assistant_model), learning=learner),
        ]
    )
    _, client = serve(
        store=store,
        registry=registry,
        auth="jwt",
        jwt_secret=SECRET,
        jwt_audience="covey-api",
        jwt_issuer="https://issuer",
    )
    return client


def events_of(api: httpx.Client, run_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The run's stored events, replayed over SSE (the run has stopped, so the stream ends)."""
    found: list[dict[str, Any]] = []
    with api.stream("GET", f"/v1/runs/{run_id}/events", headers=headers) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data:"):
                found.append(json.loads(line[5:]))
    return found


def propose(api: httpx.Client, headers: dict[str, str], city: str) -> dict[str, Any]:
    run = api.post(
        "/v1/agents/assistant/runs",
        json={"input": f"I moved to {city}", "session_id": "trip"},
        headers=headers,
    )
    assert run.status_code == 200, run.text
    body = run.json()
    assert body["status"] == "paused"
    return body


def test_an_approved_proposal_is_saved_and_served(api: httpx.Client) -> None:
    run = propose(api, ANN, "Lyon")
    # The paused run lists the proposal with the other approvals, described for a person.
    listed = api.get(f"/v1/runs/{run['run_id']}", headers=ANN).json()
    [requirement] = listed["requirements"]
    assert requirement["kind"] == "approval" and requirement["tool_name"] == "update_profile"
    assert requirement["description"] == "Save to the user's profile: city = 'Lyon'"
    assert requirement["args"] == {"field": "city", "value": "Lyon"}
    # Nothing is kept while it waits.
    assert api.get("/v1/users/ann/profile", headers=ANN).status_code == 404
    # Someone else cannot answer it.
    for intruder in (BOB, ANN_GLOBEX):
        refused = api.post(
            f"/v1/runs/{run['run_id']}/resume",
            json={"approvals": {requirement["tool_call_id"]: True}},
            headers=intruder,
        )
        assert refused.status_code == 404
    assert api.get("/v1/users/ann/profile", headers=ANN).status_code == 404
    resumed = api.post(
        f"/v1/runs/{run['run_id']}/resume",
        json={"approvals": {requirement["tool_call_id"]: True}},
        headers=ANN,
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "completed"
    profile = api.get("/v1/users/ann/profile", headers=ANN)
    assert profile.status_code == 200 and profile.json()["data"] == {"city": "Lyon"}
    changed = [e for e in events_of(api, run["run_id"], ANN) if e.get("type") == "learning.changed"]
    assert [(e["change"]["kind"], e["change"]["content"]) for e in changed] == [
        ("profile", "city: Lyon")
    ]
    # Bob, and Ann of another tenant, see nothing of it.
    assert api.get("/v1/users/bob/profile", headers=BOB).status_code == 404
    assert api.get("/v1/users/ann/profile", headers=ANN_GLOBEX).status_code == 404


def test_a_rejected_proposal_is_not_saved(api: httpx.Client) -> None:
    run = propose(api, BOB, "Oslo")
    [requirement] = api.get(f"/v1/runs/{run['run_id']}", headers=BOB).json()["requirements"]
    resumed = api.post(
        f"/v1/runs/{run['run_id']}/resume",
        json={"approvals": {requirement["tool_call_id"]: {"approved": False, "note": "no"}}},
        headers=BOB,
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "completed"
    assert api.get("/v1/users/bob/profile", headers=BOB).status_code == 404
    events = events_of(api, run["run_id"], BOB)
    assert not [e for e in events if e.get("type") == "learning.changed"]


def test_what_is_learned_is_listed_corrected_and_deleted_over_http(api: httpx.Client) -> None:
    run = api.post(
        "/v1/agents/listener/runs",
        json={"input": "I love jazz", "session_id": "music"},
        headers=ANN,
    )
    assert run.status_code == 200 and run.json()["status"] == "completed", run.text
    run_id = run.json()["run_id"]
    [memory] = api.get("/v1/memories", headers=ANN).json()["items"]
    assert memory["memory"] == "The user loves jazz."
    corrected = api.patch(
        f"/v1/memories/{memory['id']}", json={"memory": "The user loves bebop."}, headers=ANN
    )
    assert corrected.status_code == 200, corrected.text
    [decision] = api.get("/v1/learnings", params={"namespace": "decisions"}, headers=ANN).json()[
        "items"
    ]
    assert decision["content"].startswith("Decided: Recommend a jazz club")
    assert decision["metadata"]["run_id"] == run_id
    assert (
        api.get("/v1/learnings", params={"namespace": "decisions"}, headers=BOB).json()["items"]
        == []
    )
    assert api.delete(f"/v1/learnings/{decision['id']}", headers=ANN).status_code == 204
    assert (
        api.get("/v1/learnings", params={"namespace": "decisions"}, headers=ANN).json()["items"]
        == []
    )
    assert api.get("/v1/memories", headers=BOB).json()["items"] == []
    [context] = api.get(
        "/v1/learnings", params={"namespace": "session_context"}, headers=ANN
    ).json()["items"]
    assert context["content"] == "Goal: Find a jazz club tonight"
    assert context["metadata"]["session_id"] == "music"
    assert api.delete(f"/v1/learnings/{context['id']}", headers=ANN).status_code == 204
