"""`/v1/approvals` over real HTTP on an SQLite file store: the inbox lists every approval a
paused run waits for (an agent's own calls, a team member's, a workflow step's, a learning
proposal), a decision is kept with who, when and the note, the run goes on once its pause is
decided, two deciders never both win, expiry rejects, and callers reach only their own."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from approvals_agents import build
from runtime_helpers import wait_for
from test_auth import SECRET, bearer, token

from covey.runtime import open_store
from covey.spec.store import Store

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the SQLite store")

JWT = {
    "auth": "jwt",
    "jwt_secret": SECRET,
    "jwt_audience": "covey-api",
    "jwt_issuer": "https://issuer",
}
ISSUER = {"aud": "covey-api", "iss": "https://issuer"}
RW = "agents:run runs:read runs:write"


def who(sub: str, *, tenant: str = "acme", scope: str = RW) -> dict[str, str]:
    return bearer(token(sub, tenant=tenant, scope=scope, **ISSUER))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"sqlite:///{tmp_path / 'covey.db'}")


@pytest.fixture
def api(serve: Any, store: Store) -> httpx.Client:
    return serve(store=store, registry=build())[1]


def pending(api: httpx.Client, headers: dict[str, str] | None = None, **query: Any) -> list[Any]:
    response = api.get("/v1/approvals", params=query, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def finished(api: httpx.Client, run_id: str, headers: dict[str, str] | None = None) -> Any:
    """The run once it stopped running (a decided pause resumes it in the background)."""
    return wait_for(
        lambda: (
            (r := api.get(f"/v1/runs/{run_id}", headers=headers).json())["status"]
            not in ("running", "paused")
            and r
        )
    )


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == f"urn:covey:problem:{slug}", body
    return body


def test_an_approved_call_resumes_its_run_and_the_decision_is_kept(api: httpx.Client) -> None:
    """Fails if a paused run's call is not in the inbox with its context, if approving it does
    not run the tool and finish the run, or if the decision is not kept (and cannot be made
    twice)."""
    run = api.post("/v1/agents/approver/runs", json={"input": "/srv/x"}).json()
    assert run["status"] == "paused"
    [item] = pending(api)
    assert (item["run_id"], item["tool_call_id"], item["tool_name"]) == (
        run["run_id"],
        "d1",
        "delete_file",
    )
    assert (item["args"], item["status"], item["open"]) == ({"path": "/srv/x"}, "pending", True)
    assert (item["kind"], item["agent_id"], item["session_id"]) == (
        "agent",
        "approver",
        run["session_id"],
    )
    assert item["member_run_id"] is None and item["expires_at"] is None

    decided = api.post(
        f"/v1/approvals/{item['approval_id']}", json={"approved": True, "note": "ok"}
    )
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert (body["status"], body["note"], body["run_status"], body["waiting_for"]) == (
        "approved",
        "ok",
        "running",
        [],
    )
    assert body["resolved_at"] is not None
    assert finished(api, run["run_id"])["output"] == "result: deleted /srv/x"
    assert pending(api) == []
    [kept] = pending(api, status="approved")
    assert (kept["approval_id"], kept["note"], kept["open"]) == (item["approval_id"], "ok", False)
    assert api.get(f"/v1/approvals/{item['approval_id']}").json()["status"] == "approved"
    again = api.post(f"/v1/approvals/{item['approval_id']}", json={"approved": False})
    assert "already approved" in problem(again, 409, "approval-decided")["detail"]


def test_a_rejected_call_does_not_run_and_the_model_hears_the_note(api: httpx.Client) -> None:
    run = api.post("/v1/agents/approver/runs", json={"input": "/srv/keep"}).json()
    [item] = pending(api)
    note = "not that folder"
    decided = api.post(
        f"/v1/approvals/{item['approval_id']}", json={"approved": False, "note": note}
    )
    assert decided.json()["status"] == "rejected"
    done = finished(api, run["run_id"])
    assert done["status"] == "completed"
    assert "deleted" not in done["output"]
    assert note in done["output"]
    [kept] = pending(api, status="rejected", run_id=run["run_id"])
    assert kept["note"] == note


def test_a_pause_with_two_calls_goes_on_only_once_both_are_decided(api: httpx.Client) -> None:
    """Fails if the run resumes after the first decision (the resume would miss the other), or
    if the run does not get both decisions."""
    run = api.post("/v1/agents/pair/runs", json={"input": "/p"}).json()
    first, second = pending(api, run_id=run["run_id"])
    assert [first["args"]["path"], second["args"]["path"]] == ["/p/a", "/p/b"]
    one = api.post(f"/v1/approvals/{first['approval_id']}", json={"approved": True}).json()
    assert (one["run_status"], one["waiting_for"]) == ("paused", [second["approval_id"]])
    assert api.get(f"/v1/runs/{run['run_id']}").json()["status"] == "paused"
    assert [i["approval_id"] for i in pending(api)] == [second["approval_id"]]
    two = api.post(f"/v1/approvals/{second['approval_id']}", json={"approved": False}).json()
    assert (two["run_status"], two["waiting_for"]) == ("running", [])
    output = finished(api, run["run_id"])["output"]
    first_said, second_said = output.split("; ")
    assert first_said == "deleted /p/a"
    assert "deleted" not in second_said


def test_team_members_and_workflow_steps_are_decided_through_their_top_run(
    api: httpx.Client,
) -> None:
    team = api.post("/v1/teams/hitl/runs", json={"input": "/t"}).json()
    flow = api.post("/v1/workflows/signoff/runs", json={"input": "/w"}).json()
    assert team["status"] == flow["status"] == "paused"
    by_run = {i["run_id"]: i for i in pending(api)}
    member, step = by_run[team["run_id"]], by_run[flow["run_id"]]
    assert (member["kind"], member["agent_id"], member["tool_name"]) == (
        "team",
        "hitl",
        "delete_file",
    )
    [child] = api.get(f"/v1/runs/{team['run_id']}/children").json()["items"]
    assert member["member_run_id"] == child["run_id"] != team["run_id"]
    assert (step["kind"], step["agent_id"]) == ("workflow", "signoff")
    for item in (member, step):
        assert (
            api.post(f"/v1/approvals/{item['approval_id']}", json={"approved": True}).json()[
                "run_status"
            ]
            == "running"
        )
    assert finished(api, team["run_id"])["output"] == "approver said: result: deleted /t"
    assert finished(api, flow["run_id"])["output"] == "published: result: deleted /w"


def test_two_deciders_at_once_only_one_wins(api: httpx.Client) -> None:
    """Fails if two people deciding one approval at once can both succeed, or the run goes on
    with a decision other than the winner's."""
    run = api.post("/v1/agents/approver/runs", json={"input": "/race"}).json()
    [item] = pending(api)
    url = f"/v1/approvals/{item['approval_id']}"
    answers: list[tuple[bool, int]] = []
    start = threading.Barrier(6)

    def decide(approved: bool) -> None:
        with httpx.Client(base_url=str(api.base_url), timeout=30) as client:
            start.wait()
            answers.append((approved, client.post(url, json={"approved": approved}).status_code))

    threads = [threading.Thread(target=decide, args=(i % 2 == 0,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [approved for approved, status in answers if status == 200]
    assert len(winners) == 1, answers
    assert sorted(status for _, status in answers) == [200, 409, 409, 409, 409, 409]
    output = finished(api, run["run_id"])["output"]
    assert ("deleted /race" in output) is winners[0]
    assert api.get(url).json()["status"] == ("approved" if winners[0] else "rejected")


def test_resume_and_the_inbox_decide_through_the_same_compare_and_set(
    api: httpx.Client,
) -> None:
    """Fails if a `/resume` decision is not kept in the inbox (who, the note), if `/resume` can
    contradict a decision the inbox already made (two deciders winning), or if a cancelled
    run's approval stays decidable."""
    resumed = api.post("/v1/agents/approver/runs", json={"input": "/r1"}).json()
    cancelled = api.post("/v1/agents/approver/runs", json={"input": "/r2"}).json()
    ids = {i["run_id"]: i["approval_id"] for i in pending(api)}
    decision = {"approvals": {"d1": {"approved": True, "note": "via resume"}}}
    assert api.post(f"/v1/runs/{resumed['run_id']}/resume", json=decision).status_code == 200
    api.post(f"/v1/runs/{cancelled['run_id']}/cancel")
    assert pending(api) == []
    late = api.post(f"/v1/approvals/{ids[resumed['run_id']]}", json={"approved": False})
    problem(late, 409, "approval-decided")
    problem(
        api.post(f"/v1/approvals/{ids[cancelled['run_id']]}", json={"approved": True}),
        409,
        "approval-closed",
    )
    assert api.get(f"/v1/runs/{resumed['run_id']}").json()["output"] == "result: deleted /r1"
    kept = api.get(f"/v1/approvals/{ids[resumed['run_id']]}").json()
    assert (kept["status"], kept["note"], kept["open"]) == ("approved", "via resume", False)

    # The other way round: the inbox rejected first; a /resume approving it is refused.
    run = api.post("/v1/agents/pair/runs", json={"input": "/mixed"}).json()
    first, _ = pending(api, run_id=run["run_id"])
    api.post(f"/v1/approvals/{first['approval_id']}", json={"approved": False})
    both = {"approvals": {"d1": True, "d2": True}}
    contradicting = api.post(f"/v1/runs/{run['run_id']}/resume", json=both)
    assert "already rejected" in problem(contradicting, 409, "approval-decided")["detail"]
    assert api.get(f"/v1/runs/{run['run_id']}").json()["status"] == "paused"
    agreeing = api.post(
        f"/v1/runs/{run['run_id']}/resume", json={"approvals": {"d1": False, "d2": True}}
    )
    assert agreeing.status_code == 200, agreeing.text
    first_said, second_said = agreeing.json()["output"].split("; ")
    assert "deleted" not in first_said and second_said == "deleted /mixed/b"


def test_an_expired_approval_is_rejected_and_the_run_goes_on(serve: Any, store: Store) -> None:
    _, api = serve(store=store, registry=build(), approval_expiry=0.001)
    run = api.post("/v1/agents/approver/runs", json={"input": "/late"}).json()
    assert pending(api) == []  # reading the inbox expired it
    [expired] = pending(api, status="rejected")
    assert (expired["note"], expired["resolved_by"]) == ("expired", None)
    assert expired["expires_at"] is not None
    done = finished(api, run["run_id"])
    assert "deleted" not in done["output"]
    second = api.post("/v1/agents/approver/runs", json={"input": "/late2"}).json()
    # Deciding after the expiry (without reading the inbox first) is refused and rejects it.
    approval = _approval_id_of(store, second["run_id"])
    refused = api.post(f"/v1/approvals/{approval}", json={"approved": True})
    problem(refused, 409, "approval-expired")
    assert "deleted" not in finished(api, second["run_id"])["output"]


def _approval_id_of(store: Store, run_id: str) -> str:
    import anyio

    from covey.runtime.approvals import approval_id
    from covey.spec.store import Scope

    async def read() -> str:
        run = await store.get_run(Scope("default"), run_id)
        assert run is not None
        return approval_id(run, run.requirements[0])

    return anyio.run(read)


def test_callers_reach_only_their_own_approvals(serve: Any, store: Store) -> None:
    """Attack: another user, another tenant, a token without `runs:write`; an admin sees and
    decides the tenant's, and the audit names who decided."""
    _, api = serve(store=store, registry=build(), **JWT)
    ann, bob = who("ann"), who("bob")
    run = api.post("/v1/agents/approver/runs", json={"input": "/ann"}, headers=ann).json()
    [item] = pending(api, ann)
    url = f"/v1/approvals/{item['approval_id']}"
    assert item["user_id"] == "ann"
    assert pending(api, bob) == []
    assert pending(api, who("ann", tenant="globex")) == []
    problem(api.get(url, headers=bob), 404, "not-found")
    problem(api.post(url, json={"approved": True}, headers=bob), 404, "not-found")
    problem(
        api.post(url, json={"approved": True}, headers=who("ann", tenant="globex")),
        404,
        "not-found",
    )
    problem(
        api.post(url, json={"approved": True}, headers=who("ann", scope="runs:read")),
        403,
        "forbidden",
    )
    problem(api.get("/v1/approvals"), 401, "unauthorized")
    assert api.get(url, headers=ann).json()["status"] == "pending"

    admin = who("root", scope="admin")
    [seen] = pending(api, admin)
    assert seen["approval_id"] == item["approval_id"]
    decided = api.post(url, json={"approved": True, "note": "fine"}, headers=admin).json()
    assert (decided["resolved_by"], decided["note"]) == ("root", "fine")
    assert finished(api, run["run_id"], ann)["output"] == "result: deleted /ann"
    [audit] = pending(api, ann, status="approved")
    assert (audit["resolved_by"], audit["user_id"]) == ("root", "ann")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"approved": "yes"}, "approved"),
        ({"approved": 1}, "approved"),
        ({}, "approved"),
        ({"approved": True, "note": "x" * 10_001}, "note"),
        ({"approved": True, "run_id": "other"}, "run_id"),
    ],
)
def test_a_malformed_decision_is_a_400_and_decides_nothing(
    api: httpx.Client, body: dict[str, Any], field: str
) -> None:
    run = api.post("/v1/agents/approver/runs", json={"input": "/bad"}).json()
    [item] = pending(api)
    refused = api.post(f"/v1/approvals/{item['approval_id']}", json=body)
    details = problem(refused, 400, "validation-error")
    assert field in json.dumps(details)
    assert api.get(f"/v1/runs/{run['run_id']}").json()["status"] == "paused"
    assert pending(api)[0]["status"] == "pending"


def test_bad_queries_and_unknown_ids(api: httpx.Client) -> None:
    problem(api.get("/v1/approvals", params={"status": "maybe"}), 400, "validation-error")
    problem(api.get("/v1/approvals", params={"limit": 0}), 400, "validation-error")
    problem(api.get("/v1/approvals", params={"cursor": "forged"}), 400, "invalid-input")
    problem(api.get("/v1/approvals/apr_missing"), 404, "not-found")
    problem(api.post("/v1/approvals/apr_missing", json={"approved": True}), 404, "not-found")
    problem(
        api.post(
            "/v1/approvals/apr_x", content=b"approved", headers={"content-type": "text/plain"}
        ),
        415,
        "unsupported-media-type",
    )


def test_pages_of_the_inbox(api: httpx.Client) -> None:
    runs = [api.post("/v1/agents/approver/runs", json={"input": f"/{i}"}).json() for i in range(3)]
    first = api.get("/v1/approvals", params={"limit": 2}).json()
    rest = api.get("/v1/approvals", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert rest["next_cursor"] is None
    listed = [i["run_id"] for i in first["items"] + rest["items"]]
    assert listed == [r["run_id"] for r in runs]


def test_a_decided_pause_left_paused_is_resumed_by_the_next_read(
    api: httpx.Client, store: Store
) -> None:
    """Fails if a run stays paused for good when its decider stopped between the decision and
    the resume (a process killed there): the next read of the inbox resumes it."""
    from datetime import UTC, datetime, timedelta

    import anyio

    from covey.spec.store import Scope

    run = api.post("/v1/agents/approver/runs", json={"input": "/crash"}).json()
    [item] = pending(api)

    async def decide(long_ago: bool) -> None:
        scope = Scope("default")
        row = await store.get_approval(scope, item["approval_id"])
        assert row is not None
        when = datetime.now(UTC) - timedelta(seconds=60 if long_ago else 0)
        decided = {"status": "approved", "resolved_by": "gone", "resolved_at": when}
        await store.save_approval(scope, row.model_copy(update=decided))

    # Decided a moment ago: its decider may be claiming the run; the inbox leaves it be.
    anyio.run(decide, False)
    assert pending(api) == []
    assert api.get(f"/v1/runs/{run['run_id']}").json()["status"] == "paused"
    # Decided longer ago than a lease (15 s by default): its decider is gone.
    anyio.run(decide, True)
    assert pending(api) == []
    assert finished(api, run["run_id"])["output"] == "result: deleted /crash"


def test_a_call_id_the_store_cannot_keep_leaves_resume_working(serve: Any, store: Store) -> None:
    """Fails if a provider's odd tool call id (longer than an id may be) breaks `/resume` now
    that resume records decisions, or if the inbox resumes a pause it cannot decide whole."""
    from runtime_agents import delete_file

    from covey.core import Agent
    from covey.core.testing import FunctionModel
    from covey.runtime import Registry
    from covey.spec import ModelResponse, TextPart, ToolCallPart, ToolReturnPart

    odd = "c" * 300

    def model(messages: Any, info: Any) -> ModelResponse:
        if any(isinstance(p, ToolReturnPart) for p in messages[-1].parts):
            return ModelResponse(parts=[TextPart(content="done")])
        call = ToolCallPart(tool_name="delete_file", args={"path": "/o"}, tool_call_id=odd)
        return ModelResponse(parts=[call])

    agent = Agent(name="odd", model=FunctionModel(model), tools=[delete_file])
    _, api = serve(store=store, registry=Registry([agent]))
    run = api.post("/v1/agents/odd/runs", json={"input": "go"}).json()
    assert run["status"] == "paused"
    assert pending(api) == []
    done = api.post(f"/v1/runs/{run['run_id']}/resume", json={"approvals": {odd: True}})
    assert (done.status_code, done.json()["output"]) == (200, "done")
