"""`/v1/schedules` over real HTTP: CRUD, validation, pause/resume, firings as ordinary runs,
history, cancelling a firing, scopes and owners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from runtime_helpers import wait_for
from test_auth import SECRET, bearer, token

PROBLEM = "application/problem+json"


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == f"urn:covey:problem:{slug}"
    return body


@pytest.fixture
def api(serve: Any) -> httpx.Client:
    # The scheduler looks often, so a 1 s interval fires within about a second.
    return serve(schedule_poll=0.05)[1]


def _create(api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = api.post("/v1/schedules", json={"name": "s", "input": "hello", **body})
    assert response.status_code == 201, response.text
    return response.json()


def _firings(api: httpx.Client, schedule_id: str, **params: Any) -> list[dict[str, Any]]:
    response = api.get(f"/v1/schedules/{schedule_id}/runs", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_create_read_list_update_delete(api: httpx.Client) -> None:
    daily = _create(
        api, name="report", target_id="echo", cron="0 9 * * 1-5", timezone="Europe/Paris"
    )
    assert daily["cron"] == "0 9 * * 1-5"
    assert daily["interval"] is None
    assert daily["enabled"] is True
    assert daily["fired"] == daily["missed"] == 0
    # 09:00 in Paris is 07:00 or 08:00 UTC, on a weekday.
    from datetime import datetime

    first = datetime.fromisoformat(daily["next_run_at"])
    assert first.hour in (7, 8) and first.minute == 0 and first.weekday() < 5
    sid = daily["schedule_id"]
    assert api.get(f"/v1/schedules/{sid}").json() == daily
    slow = _create(api, name="poll", target_id="echo", interval=3600, enabled=False)
    assert slow["next_run_at"] is None
    listed = api.get("/v1/schedules").json()["items"]
    assert {s["schedule_id"] for s in listed} == {sid, slow["schedule_id"]}
    assert [s["schedule_id"] for s in api.get("/v1/schedules?enabled=false").json()["items"]] == [
        slow["schedule_id"]
    ]
    changed = api.patch(f"/v1/schedules/{sid}", json={"cron": "*/5 * * * *", "timezone": "UTC"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["cron"] == "*/5 * * * *"
    assert datetime.fromisoformat(changed.json()["next_run_at"]).minute % 5 == 0
    moved = api.patch(f"/v1/schedules/{sid}", json={"interval": 90, "input": "other"}).json()
    assert (moved["cron"], moved["interval"], moved["input"]) == (None, 90.0, "other")
    assert api.delete(f"/v1/schedules/{sid}").status_code == 204
    problem(api.get(f"/v1/schedules/{sid}"), 404, "not-found")
    problem(api.delete(f"/v1/schedules/{sid}"), 404, "not-found")
    problem(api.patch(f"/v1/schedules/{sid}", json={"name": "x"}), 404, "not-found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target_id": "echo", "cron": "61 * * * *"}, "cron"),
        ({"target_id": "echo", "cron": "* * 31 2 *"}, "cron"),
        ({"target_id": "echo", "cron": "* * * *"}, "cron"),
        ({"target_id": "echo", "cron": "0 9 * * * * * *"}, "cron"),
        ({"target_id": "echo", "cron": "0 9 * * *", "timezone": "Mars/Olympus"}, "timezone"),
        ({"target_id": "echo", "cron": "0 9 * * *", "timezone": "../../etc/passwd"}, "timezone"),
        ({"target_id": "echo", "interval": 0.01}, "interval"),
        ({"target_id": "echo", "interval": -5}, "interval"),
        ({"target_id": "echo", "interval": "1e400"}, "interval"),
        ({"target_id": "echo"}, None),
        ({"target_id": "echo", "cron": "0 9 * * *", "interval": 60}, None),
        ({"target_id": "nobody", "interval": 60}, "target_id"),
        ({"target_id": "echo", "target_kind": "team", "interval": 60}, "target_id"),
        ({"target_id": "echo", "target_kind": "robot", "interval": 60}, "target_kind"),
        ({"target_id": "echo", "interval": 60, "input": {"a": 1}}, "input"),
        ({"target_id": "echo", "interval": 60, "input": "   "}, "input"),
        ({"target_id": "echo", "interval": 60, "enabled": "yes"}, "enabled"),
        ({"target_id": "echo", "interval": 60, "extra": 1}, None),
        ({"target_id": "echo\x00", "interval": 60}, "target_id"),
    ],
)
def test_bad_schedules_are_refused_with_the_field(
    api: httpx.Client, body: dict[str, Any], field: str | None
) -> None:
    sent = {"name": "bad", "input": "hello", **body}
    refused = problem(api.post("/v1/schedules", json=sent), 400, "validation-error")
    if field is not None:
        assert any(field in str(e.get("field", "")) for e in refused["errors"]), refused
    assert api.get("/v1/schedules").json()["items"] == []


def test_a_firing_is_an_ordinary_run_linked_to_its_schedule(api: httpx.Client) -> None:
    schedule = _create(api, target_id="echo", interval=1, input="tick")
    sid = schedule["schedule_id"]
    firings = wait_for(lambda: _firings(api, sid), timeout=30)
    run_id = firings[0]["run_id"]
    run = wait_for(
        lambda: (r := api.get(f"/v1/runs/{run_id}").json()).get("status") == "completed" and r,
        timeout=30,
    )
    assert run["output"] == "echo: tick"
    assert run["agent_id"] == "echo"
    events = api.get(f"/v1/runs/{run_id}/events", headers={"Accept": "application/json"})
    assert events.status_code == 200
    assert api.get(f"/v1/schedules/{sid}").json()["fired"] >= 1
    # Paused: no firing after the pause is answered.
    paused = api.post(f"/v1/schedules/{sid}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["enabled"] is False
    assert paused.json()["next_run_at"] is None
    count = api.get(f"/v1/schedules/{sid}").json()["fired"]
    # Resumed: it fires again, from the next firing after now.
    resumed = api.post(f"/v1/schedules/{sid}/resume").json()
    assert resumed["enabled"] is True
    assert resumed["next_run_at"] is not None
    wait_for(lambda: api.get(f"/v1/schedules/{sid}").json()["fired"] > count, timeout=30)
    history = _firings(api, sid, limit=100)
    assert history == sorted(history, key=lambda f: f["scheduled_for"], reverse=True)
    assert len({f["scheduled_for"] for f in history}) == len(history)
    assert len(_firings(api, sid, limit=1)) == 1
    problem(api.get(f"/v1/schedules/{sid}/runs?limit=0"), 400, "validation-error")


def test_a_firing_can_be_cancelled_like_any_run(serve: Any, gates: Path) -> None:
    api = serve(schedule_poll=0.05)[1]
    sid = _create(api, target_id="gated", interval=3600, input="never")["schedule_id"]
    # Bring the first firing to now: an interval counts from creation, so re-time it to 1 s.
    api.patch(f"/v1/schedules/{sid}", json={"interval": 1})
    run_id = wait_for(lambda: _firings(api, sid), timeout=30)[0]["run_id"]
    api.post(f"/v1/schedules/{sid}/pause")
    wait_for(lambda: api.get(f"/v1/runs/{run_id}").json().get("status") == "running")
    cancelled = api.post(f"/v1/runs/{run_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert _firings(api, sid)[0]["status"] == "cancelled"


def test_a_firing_whose_target_is_gone_is_a_failed_run_in_the_history(serve: Any) -> None:
    from covey.runtime import Registry
    from covey.spec.store import Schedule, Scope
    from covey.testing import InMemoryStore

    store = InMemoryStore()
    api = serve(store=store, schedule_poll=0.05, registry=Registry([]))[1]
    import anyio

    anyio.run(
        store.save_schedule,
        Scope(),
        Schedule(
            id="orphan",
            name="orphan",
            target_id="retired",
            trigger="interval",
            spec="1",
            payload={"input": "x"},
            next_run_at=__import__("datetime").datetime.now(__import__("datetime").UTC),
        ),
    )
    firing = wait_for(lambda: _firings(api, "orphan"), timeout=30)[0]
    assert firing["status"] == "failed"
    run = api.get(f"/v1/runs/{firing['run_id']}").json()
    assert "retired" in run["error"]["message"]


def test_scopes_and_owners(serve: Any) -> None:
    api = serve(auth="jwt", jwt_secret=SECRET, jwt_audience="covey-api", schedule_poll=0.05)[1]

    def auth(sub: str, scope: str) -> dict[str, str]:
        return bearer(token(sub, aud="covey-api", scope=scope))

    rw = "schedules:read schedules:write agents:run runs:read"
    body = {"name": "n", "target_id": "echo", "interval": 3600, "input": "x"}
    problem(api.post("/v1/schedules", json=body), 401, "unauthorized")
    problem(
        api.post("/v1/schedules", json=body, headers=auth("alice", "schedules:read")),
        403,
        "forbidden",
    )
    # Writing schedules is not enough: its runs are the caller's runs.
    problem(
        api.post("/v1/schedules", json=body, headers=auth("alice", "schedules:write")),
        403,
        "forbidden",
    )
    mine = api.post("/v1/schedules", json=body, headers=auth("alice", rw))
    assert mine.status_code == 201, mine.text
    sid = mine.json()["schedule_id"]
    assert mine.json()["user_id"] == "alice"
    # Bob, same tenant: cannot see, change, pause, read the history of, or delete it.
    bob = auth("bob", rw)
    assert api.get("/v1/schedules", headers=bob).json()["items"] == []
    for method, url, json in (
        ("GET", f"/v1/schedules/{sid}", None),
        ("PATCH", f"/v1/schedules/{sid}", {"enabled": False}),
        ("POST", f"/v1/schedules/{sid}/pause", None),
        ("GET", f"/v1/schedules/{sid}/runs", None),
        ("DELETE", f"/v1/schedules/{sid}", None),
    ):
        problem(api.request(method, url, json=json, headers=bob), 404, "not-found")
    # Another tenant's admin neither.
    other_admin = bearer(token("eve", aud="covey-api", tenant="other", scope="admin"))
    problem(api.get(f"/v1/schedules/{sid}", headers=other_admin), 404, "not-found")
    # The tenant's admin sees and pauses it; it stays Alice's.
    admin = auth("root", "admin")
    paused = api.post(f"/v1/schedules/{sid}/pause", headers=admin)
    assert paused.status_code == 200, paused.text
    assert paused.json()["user_id"] == "alice"
    assert api.get(f"/v1/schedules/{sid}", headers=auth("alice", rw)).json()["enabled"] is False


def test_an_attacker_cannot_retarget_reassign_or_smuggle_fields(serve: Any) -> None:
    api = serve(auth="jwt", jwt_secret=SECRET, jwt_audience="covey-api")[1]
    rw = "schedules:read schedules:write agents:run"
    mallory = bearer(token("mallory", aud="covey-api", scope=rw))
    body = {"name": "n", "target_id": "echo", "interval": 3600, "input": "x"}
    # Creating a schedule that runs as someone else, or with stored bookkeeping, is refused.
    for extra in (
        {"user_id": "alice"},
        {"next_run_at": "2020-01-01T00:00:00Z"},
        {"metadata": {"fired": 9}},
        {"name": "n" * 201},
        {"timezone": "UTC\x00"},
    ):
        refused = api.post("/v1/schedules", json={**body, **extra}, headers=mallory)
        problem(refused, 400, "validation-error")
    made = api.post("/v1/schedules", json=body, headers=mallory).json()
    sid = made["schedule_id"]
    assert made["user_id"] == "mallory"
    # Its target and owner cannot be changed afterwards either.
    for change in ({"target_id": "gated"}, {"target_kind": "team"}, {"user_id": "alice"}):
        problem(
            api.patch(f"/v1/schedules/{sid}", json=change, headers=mallory),
            400,
            "validation-error",
        )
    problem(
        api.patch(f"/v1/schedules/{sid}", json={"input": {"a": 1}}, headers=mallory),
        400,
        "validation-error",
    )
    assert api.get(f"/v1/schedules/{sid}", headers=mallory).json() == made
