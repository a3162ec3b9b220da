"""The API pieces the console needs: `GET /v1/runs`, `RunOut.input`, `GET /v1/sessions?q=`."""

from __future__ import annotations

import base64

from console_helpers import console_registry, console_token, jwt_settings

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _run(api, agent: str, text: str, **body) -> dict:
    response = api.post(f"/v1/agents/{agent}/runs", json={"input": text, **body})
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_runs_are_listed_newest_first_with_filters(serve) -> None:
    _, api = serve(registry=console_registry())
    first = _run(api, "weather", "Weather in Paris?")
    second = _run(api, "refunds", "Refund A-17")
    third = _run(api, "weather", "Weather in Oslo?")
    listed = api.get("/v1/runs").json()["items"]
    assert [r["run_id"] for r in listed] == [third["run_id"], second["run_id"], first["run_id"]]
    assert listed[0]["input"] == "Weather in Oslo?"
    assert listed[0]["status"] == "completed" and listed[1]["status"] == "paused"
    assert listed[0]["usage"]["requests"] == 2
    # A test model has no price: unpriced, never guessed.
    assert listed[0]["cost_usd"] is None
    weather = api.get("/v1/runs", params={"agent_id": "weather"}).json()["items"]
    assert [r["run_id"] for r in weather] == [third["run_id"], first["run_id"]]
    paused = api.get("/v1/runs", params={"status": "paused"}).json()["items"]
    assert [r["run_id"] for r in paused] == [second["run_id"]]
    session = api.get("/v1/runs", params={"session_id": first["session_id"]}).json()["items"]
    assert [r["run_id"] for r in session] == [first["run_id"]]
    assert api.get("/v1/runs", params={"status": "bogus"}).status_code == 400


def test_paging_with_a_filter_never_skips_or_repeats_a_run(serve) -> None:
    _, api = serve(registry=console_registry())
    made = [_run(api, "weather" if i % 3 else "refunds", f"q{i}")["run_id"] for i in range(10)]
    wanted = [r for i, r in enumerate(made) if i % 3][::-1]
    seen: list[str] = []
    cursor = None
    for _ in range(20):
        page = api.get(
            "/v1/runs",
            params={"agent_id": "weather", "limit": 2, **({"cursor": cursor} if cursor else {})},
        ).json()
        seen += [r["run_id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # The store filters: every page but the last is full, whatever lies between matches.
        assert len(page["items"]) == 2
    assert seen == wanted


def test_a_filter_matching_nothing_answers_one_empty_last_page(serve) -> None:
    _, api = serve(registry=console_registry())
    for i in range(6):
        _run(api, "weather", f"q{i}")
    page = api.get("/v1/runs", params={"agent_id": "nobody", "limit": 2}).json()
    assert page == {"items": [], "next_cursor": None}
    top = api.get("/v1/runs", params={"agent_id": "weather", "top_level": "true", "limit": 4})
    assert len(top.json()["items"]) == 4 and top.json()["next_cursor"]


def test_top_level_leaves_out_member_runs(serve) -> None:
    _, api = serve(registry=console_registry())
    team = api.post("/v1/teams/desk/runs", json={"input": "Weather in Paris?"}).json()
    everything = api.get("/v1/runs").json()["items"]
    assert len(everything) == 2
    member = next(r for r in everything if r["parent_run_id"] == team["run_id"])
    assert member["agent_id"] == "weather"
    top = api.get("/v1/runs", params={"top_level": "true"}).json()["items"]
    assert [r["run_id"] for r in top] == [team["run_id"]]


def test_users_see_their_own_runs_and_admins_filter_by_user(serve) -> None:
    _, api = serve(registry=console_registry(), **jwt_settings())

    def as_(sub: str, tenant: str = "acme", scope: str | None = None) -> dict[str, str]:
        kwargs = {"scope": scope} if scope else {}
        return {"Authorization": f"Bearer {console_token(sub, tenant=tenant, **kwargs)}"}

    ann = api.post("/v1/agents/weather/runs", json={"input": "a"}, headers=as_("ann")).json()
    bob = api.post("/v1/agents/weather/runs", json={"input": "b"}, headers=as_("bob")).json()
    api.post("/v1/agents/weather/runs", json={"input": "c"}, headers=as_("eve", "globex"))
    mine = api.get("/v1/runs", headers=as_("ann")).json()["items"]
    assert [r["run_id"] for r in mine] == [ann["run_id"]]
    assert api.get("/v1/runs", params={"user_id": "bob"}, headers=as_("ann")).status_code == 403
    admin = as_("root", scope="admin")
    assert len(api.get("/v1/runs", headers=admin).json()["items"]) == 2  # acme only
    bobs = api.get("/v1/runs", params={"user_id": "bob"}, headers=admin).json()["items"]
    assert [r["run_id"] for r in bobs] == [bob["run_id"]]


def test_a_run_shows_the_input_it_was_given_content_parts_included(serve) -> None:
    _, api = serve(registry=console_registry())
    parts = [
        {"kind": "text", "text": "What is in this picture?"},
        {"kind": "image", "data": base64.b64encode(PNG).decode(), "media_type": "image/png"},
    ]
    run = api.post("/v1/agents/weather/runs", json={"input": parts}).json()
    stored = api.get(f"/v1/runs/{run['run_id']}").json()
    assert stored["input"][0] == {"kind": "text", "text": "What is in this picture?"}
    image = stored["input"][1]
    assert image["kind"] == "image" and image["media_type"] == "image/png"
    assert base64.b64decode(image["data"]) == PNG
    in_session = api.get(f"/v1/sessions/{run['session_id']}/runs").json()["items"]
    assert in_session[0]["input"] == stored["input"]


def test_sessions_can_be_searched(serve) -> None:
    _, api = serve(registry=console_registry())
    weather = _run(api, "weather", "Weather in Paris?")
    refund = _run(api, "refunds", "Refund A-17")
    found = api.get("/v1/sessions", params={"q": "REFUND"}).json()["items"]
    assert [s["session_id"] for s in found] == [refund["session_id"]]
    by_id = api.get("/v1/sessions", params={"q": weather["session_id"][:10]}).json()["items"]
    assert [s["session_id"] for s in by_id] == [weather["session_id"]]
    assert api.get("/v1/sessions", params={"q": "nothing-like-it"}).json()["items"] == []
    assert len(api.get("/v1/sessions", params={"q": "  "}).json()["items"]) == 2


def test_session_search_takes_like_wildcards_literally_and_pages_full(serve) -> None:
    _, api = serve(registry=console_registry())
    made = [_run(api, "refunds" if i % 2 else "weather", f"q{i}")["session_id"] for i in range(6)]
    for wildcard in ("%", "_", "\\", "%efund%"):
        assert api.get("/v1/sessions", params={"q": wildcard}).json()["items"] == []
    first = api.get("/v1/sessions", params={"q": "FUND", "limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = api.get(
        "/v1/sessions", params={"q": "FUND", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    found = [s["session_id"] for s in first["items"] + rest["items"]]
    assert rest["next_cursor"] is None
    assert found == [made[5], made[3], made[1]]
    too_long = api.get("/v1/sessions", params={"q": "x" * 201})
    assert too_long.status_code == 400
    control = api.get("/v1/sessions", params={"q": "a\x00b"})
    assert control.status_code == 400
