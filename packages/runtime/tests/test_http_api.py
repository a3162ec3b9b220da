"""Every HTTP endpoint over real HTTP on loopback, with auth off and an in-memory store."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
from runtime_helpers import check_event_log, read_sse, sse, wait_until_event

from covey.spec import RunStatus
from covey.spec.store import Run, Scope
from covey.testing import InMemoryStore

PROBLEM = "application/problem+json"


def problem(response: httpx.Response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == f"urn:covey:problem:{slug}"
    assert body["status"] == status
    return body


def test_health_ready_and_openapi(api: httpx.Client) -> None:
    assert api.get("/health").json() == {"status": "ok"}
    ready = api.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    schema = api.get("/schema/openapi.json").json()
    for path in (
        "/v1/agents",
        "/v1/agents/{agent_id}",
        "/v1/agents/{agent_id}/runs",
        "/v1/runs/{run_id}",
        "/v1/runs/{run_id}/events",
        "/v1/runs/{run_id}/cancel",
        "/v1/runs/{run_id}/resume",
        "/v1/sessions",
        "/v1/sessions/{session_id}",
        "/v1/sessions/{session_id}/runs",
        "/v1/plugins",
        "/health",
        "/ready",
    ):
        assert path in schema["paths"], path


def test_agents_are_listed_with_tools_output_schema_and_notice(api: httpx.Client) -> None:
    listing = api.get("/v1/agents").json()
    assert listing["notice"] == "test agents"
    names = [a["agent_id"] for a in listing["items"]]
    assert names == ["echo", "weather", "forecast", "gated", "approver", "history"]
    weather = api.get("/v1/agents/weather").json()
    assert [t["name"] for t in weather["tools"]] == ["get_weather"]
    assert weather["tools"][0]["parameters"]["required"] == ["city"]
    assert weather["output_schema"] is None
    forecast = api.get("/v1/agents/forecast").json()
    assert set(forecast["output_schema"]["properties"]) == {"city", "celsius"}
    approver = api.get("/v1/agents/approver").json()
    assert approver["tools"][0]["requires_approval"] is True
    problem(api.get("/v1/agents/nobody"), 404, "not-found")


def test_json_run_returns_the_finished_run(api: httpx.Client) -> None:
    response = api.post("/v1/agents/weather/runs", json={"input": "Weather in Paris?"})
    assert response.status_code == 200
    run = response.json()
    assert run["status"] == "completed"
    assert run["agent_id"] == "weather"
    assert run["session_id"]
    assert run["output"] == '{"get_weather":"sunny in text"}'
    assert run["usage"]["requests"] == 2
    assert run["tool_calls"][0]["tool_name"] == "get_weather"
    assert run["error"] is None
    assert run["requirements"] == []
    stored = api.get(f"/v1/runs/{run['run_id']}").json()
    assert stored["status"] == "completed"
    assert stored["output"] == run["output"]


def test_structured_output_comes_back_as_json(api: httpx.Client) -> None:
    run = api.post("/v1/agents/forecast/runs", json={"input": "Paris?"}).json()
    assert run["output"] == {"city": "Paris", "celsius": 21}


def test_sse_run_frames_every_event_with_id_event_and_data(api: httpx.Client) -> None:
    for options in (
        {"json": {"input": "hi", "stream": True}},
        {"json": {"input": "hi"}, "headers": {"Accept": "text/event-stream"}},
    ):
        with api.stream("POST", "/v1/agents/echo/runs", **options) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache"
            raw = response.read().decode()
        frames = [f for f in raw.split("\n\n") if f.strip()]
        events = list(read_sse(iter(raw.split("\n"))))
        assert len(frames) == len(events)
        for frame, event in zip(frames, events, strict=True):
            lines = frame.split("\n")
            assert lines[0] == f"id: {event.id}"
            assert lines[1] == f"event: {event.event}"
            assert lines[2].startswith("data: {")
            assert len(lines) == 3
            assert event.data["seq"] == event.id
            assert event.data["type"] == event.event
        check_event_log([e.data for e in events])
        assert events[0].event == "run.started"
        assert events[-1].event == "run.completed"
        assert events[-1].data["result"]["output"] == "echo: hi"
        assert "".join(e.data["delta"] for e in events if e.event == "text.delta") == "echo: hi"


def test_background_run_answers_202_and_is_followed(api: httpx.Client, gates: Path) -> None:
    response = api.post("/v1/agents/gated/runs", json={"input": "bg", "background": True})
    assert response.status_code == 202
    accepted = response.json()
    run_id = accepted["run_id"]
    assert accepted["status"] == "running"
    assert accepted["events_url"] == f"/v1/runs/{run_id}/events"
    assert response.headers["location"] == f"/v1/runs/{run_id}"
    assert api.get(f"/v1/runs/{run_id}").json()["status"] == "running"
    (gates / "bg").touch()
    events = sse(api, "GET", f"/v1/runs/{run_id}/events")
    check_event_log([e.data for e in events])
    assert events[-1].data["result"]["output"] == "done: gate bg opened"
    assert api.get(f"/v1/runs/{run_id}").json()["status"] == "completed"
    # A finished run's log replays from the store after ?after=.
    tail = sse(api, "GET", f"/v1/runs/{run_id}/events", params={"after": events[-3].id})
    assert [e.id for e in tail] == [e.id for e in events[-2:]]


def test_cancel_a_running_run(api: httpx.Client) -> None:
    run_id = api.post("/v1/agents/gated/runs", json={"input": "never", "background": True}).json()[
        "run_id"
    ]
    wait_until_event(api, run_id, "tool_call.started")
    response = api.post(f"/v1/runs/{run_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    events = sse(api, "GET", f"/v1/runs/{run_id}/events")
    check_event_log([e.data for e in events])
    assert events[-1].event == "run.cancelled"
    again = api.post(f"/v1/runs/{run_id}/cancel")
    assert again.status_code == 200
    assert again.json()["status"] == "cancelled"
    # Cancel is idempotent: a run that ended answers 200 with the run as it ended.
    done = api.post("/v1/agents/echo/runs", json={"input": "x"}).json()
    finished = api.post(f"/v1/runs/{done['run_id']}/cancel")
    assert finished.status_code == 200
    assert finished.json()["status"] == "completed"
    assert finished.json()["output"] == done["output"]
    problem(api.post("/v1/runs/nope/cancel"), 404, "not-found")


def test_pause_then_resume_with_an_approval(api: httpx.Client) -> None:
    paused = api.post("/v1/agents/approver/runs", json={"input": "/tmp/a"}).json()
    assert paused["status"] == "paused"
    [requirement] = paused["requirements"]
    assert requirement == {
        "tool_call_id": "d1",
        "tool_name": "delete_file",
        "kind": "approval",
        "args": {"path": "/tmp/a"},
        "input_fields": [],
        "description": requirement["description"],
        "run_id": None,  # the agent's own call; a team run's names the member run that waits
    }
    run_id = paused["run_id"]
    missing = problem(api.post(f"/v1/runs/{run_id}/resume", json={}), 422, "validation-error")
    assert missing["errors"][0]["field"] == "approvals.d1"
    wrong = problem(
        api.post(f"/v1/runs/{run_id}/resume", json={"approvals": {"d1": True, "zz": True}}),
        422,
        "validation-error",
    )
    assert [e["field"] for e in wrong["errors"]] == ["approvals.zz"]
    done = api.post(f"/v1/runs/{run_id}/resume", json={"approvals": {"d1": True}})
    assert done.status_code == 200
    assert done.json()["status"] == "completed"
    assert done.json()["output"] == "result: deleted /tmp/a"
    problem(
        api.post(f"/v1/runs/{run_id}/resume", json={"approvals": {"d1": True}}),
        409,
        "run-not-paused",
    )
    events = sse(api, "GET", f"/v1/runs/{run_id}/events")
    types = [e.event for e in events]
    assert types.count("run.started") == 2
    assert "run.paused" in types
    assert types[-1] == "run.completed"


def test_resume_with_a_rejection_streams_the_rest(api: httpx.Client) -> None:
    run_id = api.post("/v1/agents/approver/runs", json={"input": "/etc"}).json()["run_id"]
    events = sse(
        api,
        "POST",
        f"/v1/runs/{run_id}/resume",
        json={"approvals": {"d1": {"approved": False, "note": "not that"}}, "stream": True},
    )
    assert events[0].event == "run.started"
    assert events[0].data["resumed"] is True
    output = events[-1].data["result"]["output"]
    assert output == "result: The user rejected this tool call. Note: not that"


def test_cancel_a_paused_run(api: httpx.Client) -> None:
    run_id = api.post("/v1/agents/approver/runs", json={"input": "/x"}).json()["run_id"]
    response = api.post(f"/v1/runs/{run_id}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    events = sse(api, "GET", f"/v1/runs/{run_id}/events")
    check_event_log([e.data for e in events])
    assert events[-1].event == "run.cancelled"


class _ClaimedElsewhere(InMemoryStore):
    """Another process claims a paused run just as this one tries to: the race `resume` loses."""

    async def save_run(
        self, scope: Scope, run: Run, *, expected_status: RunStatus | None = None
    ) -> Run:
        if expected_status is RunStatus.PAUSED:
            stored = await self.get_run(scope, run.id)
            assert stored is not None
            await super().save_run(scope, stored.model_copy(update={"status": RunStatus.RUNNING}))
        return await super().save_run(scope, run, expected_status=expected_status)


def test_a_resume_that_loses_the_claim_is_a_409_and_writes_nothing(serve) -> None:
    store = _ClaimedElsewhere()
    _, api = serve(store=store)
    run_id = api.post("/v1/agents/approver/runs", json={"input": "/x"}).json()["run_id"]
    before = [e.data for e in sse(api, "GET", f"/v1/runs/{run_id}/events")]
    response = api.post(f"/v1/runs/{run_id}/resume", json={"approvals": {"d1": True}})
    body = problem(response, 409, "run-not-paused")
    assert "resumed or cancelled by another caller" in body["detail"]
    run = api.get(f"/v1/runs/{run_id}").json()
    assert (run["status"], run["error"]) == ("running", None)  # the other process's run

    async def log() -> list[dict]:
        return [e.model_dump(mode="json") for e in await store.list_events(Scope(), run_id)]

    assert [e["seq"] for e in anyio.run(log)] == [e["seq"] for e in before]


def test_sessions_list_get_runs_paginate_and_delete(api: httpx.Client) -> None:
    first = api.post("/v1/agents/echo/runs", json={"input": "one", "session_id": "s-1"}).json()
    api.post("/v1/agents/echo/runs", json={"input": "two", "session_id": "s-1"})
    api.post("/v1/agents/weather/runs", json={"input": "w", "session_id": "s-2"})
    api.post(
        "/v1/agents/echo/runs", json={"input": "three", "state": {"k": 1}, "session_id": "s-3"}
    )
    assert first["session_id"] == "s-1"

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/sessions", params=params).json()
        assert len(page["items"]) <= 2
        seen += [s["session_id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ["s-1", "s-2", "s-3"]
    only_weather = api.get("/v1/sessions", params={"agent_id": "weather"}).json()
    assert [s["session_id"] for s in only_weather["items"]] == ["s-2"]
    assert api.get("/v1/sessions/s-3").json()["state"] == {"k": 1}

    runs = api.get("/v1/sessions/s-1/runs", params={"limit": 1}).json()
    assert len(runs["items"]) == 1
    more = api.get("/v1/sessions/s-1/runs", params={"cursor": runs["next_cursor"]}).json()
    assert [r["output"] for r in runs["items"] + more["items"]] == ["echo: one", "echo: two"]

    assert api.delete("/v1/sessions/s-1").status_code == 204
    problem(api.get("/v1/sessions/s-1"), 404, "not-found")
    problem(api.get("/v1/sessions/s-1/runs"), 404, "not-found")
    problem(api.delete("/v1/sessions/s-1"), 404, "not-found")
    problem(api.get(f"/v1/runs/{first['run_id']}"), 404, "not-found")
    problem(api.get("/v1/sessions", params={"cursor": "garbage"}), 400, "invalid-input")


def test_plugins_lists_distributions_and_versions(api: httpx.Client) -> None:
    plugins = api.get("/v1/plugins").json()
    test_model = [p for p in plugins if p["kind"] == "models" and p["name"] == "test"]
    assert test_model == [
        {
            "kind": "models",
            "name": "test",
            "distribution": "covey-core",
            "version": test_model[0]["version"],
            "target": "covey.core.testing:test_model_factory",
        }
    ]
    # The repository's test-only plugin distributions are never installed, so never listed.
    assert [p for p in plugins if "fixture" in p["distribution"]] == []


JSON = {"content-type": "application/json"}


def test_malformed_requests_get_typed_4xx_never_500(api: httpx.Client) -> None:
    url = "/v1/agents/echo/runs"
    body = problem(
        api.post(url, content=b"{not json", headers={"content-type": "application/json"}),
        400,
        "bad-request",
    )
    assert body["detail"]
    body = problem(api.post(url, json={"input": 42}), 400, "validation-error")
    assert "input" in [e["field"] for e in body["errors"]]
    body = problem(
        api.post(url, json={"input": "x", "user_id": "mallory"}), 400, "validation-error"
    )
    assert "user_id" in [e["field"] for e in body["errors"]]
    body = problem(api.post(url, json={"input": "x", "session_id": ""}), 400, "validation-error")
    assert "session_id" in [e["field"] for e in body["errors"]]
    problem(api.post(url, json=[1, 2]), 400, "validation-error")
    problem(api.post(url, json={"input": "x", "stream": "maybe"}), 400, "validation-error")
    big = b"x" * 2_000_000
    problem(api.post(url, content=big, headers=JSON), 413, "payload-too-large")
    problem(api.get("/v1/sessions", params={"limit": 0}), 400, "validation-error")
    problem(api.get("/v1/sessions", params={"limit": "ten"}), 400, "validation-error")
    problem(api.get("/v1/runs/x/events", headers={"Last-Event-ID": "abc"}), 400, "validation-error")
    problem(api.get("/v1/runs/" + "x" * 300), 400, "invalid-input")
    problem(
        api.post("/v1/runs/x/resume", json={"approvals": {"a": "yes"}}), 400, "validation-error"
    )
    problem(api.put("/v1/agents"), 405, "method-not-allowed")
    problem(api.get("/v1/nothing"), 404, "not-found")
