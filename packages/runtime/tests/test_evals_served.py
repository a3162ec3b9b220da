"""`POST/GET /v1/evals` over real HTTP against the test registry's agents: reports stored and
listed per tenant, admin-only, and a request can never make the server import a module."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from test_auth import SECRET, bearer, token

from covey.runtime.controllers.evals import MAX_EVAL_RUNS
from covey.spec.store import Scope
from covey.testing import InMemoryStore

ISSUER = {"aud": "covey-api", "iss": "https://issuer"}
JWT = {
    "auth": "jwt",
    "jwt_secret": SECRET,
    "jwt_audience": "covey-api",
    "jwt_issuer": "https://issuer",
}


def who(sub: str, tenant: str = "acme", scope: str = "admin") -> dict[str, str]:
    return bearer(token(sub, tenant=tenant, scope=scope, **ISSUER))


SUITE: dict[str, Any] = {
    "name": "served",
    "thresholds": {"reliability": 1.0},
    "cases": [
        {"id": "weather", "input": "Weather in Paris?", "tool_calls": [{"name": "get_weather"}]},
        {"id": "quiet", "input": "hi", "tool_calls": []},
    ],
}


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == f"urn:covey:problem:{slug}"
    return body


def test_an_eval_runs_stores_its_report_and_links_its_runs(api: httpx.Client) -> None:
    suite = {**SUITE, "cases": [SUITE["cases"][0]]}
    created = api.post("/v1/evals", json={"wait": True, "suite": suite, "agent": "weather"})
    assert created.status_code == 201, created.text
    report = created.json()
    assert report["passed"] is True and report["reliability"] == 1
    (case,) = report["cases"]
    assert case["passed"] and case["reliability"]["actual"][0]["name"] == "get_weather"

    run = api.get(f"/v1/runs/{case['run_id']}")
    assert run.status_code == 200, run.text
    assert run.json()["status"] == "completed"

    listed = api.get("/v1/evals").json()["items"]
    assert [(r["id"], r["suite"], r["passed"], r["cases"]) for r in listed] == [
        (report["id"], "served", True, 1)
    ]
    again = api.get(f"/v1/evals/{report['id']}").json()
    assert again == report
    # Reports live in a reserved learning namespace: /v1/learnings neither lists, reads nor
    # deletes them.
    learnings = api.get("/v1/learnings", params={"namespace": "covey.evals"})
    problem(learnings, 400, "invalid-input")
    problem(api.get(f"/v1/learnings/{report['id']}"), 404, "not-found")
    problem(api.delete(f"/v1/learnings/{report['id']}"), 404, "not-found")
    assert api.get(f"/v1/evals/{report['id']}").status_code == 200


def test_a_failed_threshold_is_a_report_that_did_not_pass(api: httpx.Client) -> None:
    # echo calls no tool: expecting one fails the reliability threshold (a 201, not an error).
    suite = {**SUITE, "cases": [{"id": "e", "input": "x", "tool_calls": [{"name": "get_weather"}]}]}
    report = api.post(
        "/v1/evals", json={"wait": True, "suite": suite, "agent": "echo", "save": False}
    ).json()
    assert report["passed"] is False
    assert report["thresholds"] == [
        {"name": "reliability", "threshold": 1.0, "value": 0.0, "passed": False}
    ]
    assert api.get("/v1/evals").json()["items"] == []  # save: false


def test_accuracy_uses_a_judge_model_from_the_plugins(api: httpx.Client) -> None:
    suite = {"name": "j", "cases": [{"id": "a", "input": "hello", "expected": "hello"}]}
    report = api.post(
        "/v1/evals", json={"wait": True, "suite": suite, "agent": "echo", "judge": "test:judge"}
    )
    assert report.status_code == 201, report.text
    (case,) = report.json()["cases"]
    assert case["accuracy"]["error"] is None
    assert 0 <= case["accuracy"]["score"] <= 10
    assert report.json()["judge_usage"]["requests"] >= 1


def test_only_admins_run_and_read_evals_and_tenants_stay_apart(serve: Any) -> None:
    _, client = serve(**JWT)
    user = who("alice", scope="agents:run agents:read runs:read runs:write")
    problem(
        client.post(
            "/v1/evals", json={"wait": True, "suite": SUITE, "agent": "weather"}, headers=user
        ),
        403,
        "forbidden",
    )
    problem(client.get("/v1/evals", headers=user), 403, "forbidden")
    problem(
        client.post("/v1/evals", json={"wait": True, "suite": SUITE, "agent": "weather"}),
        401,
        "unauthorized",
    )

    made = client.post(
        "/v1/evals", json={"wait": True, "suite": SUITE, "agent": "weather"}, headers=who("root")
    )
    assert made.status_code == 201, made.text
    report_id = made.json()["id"]
    other = who("root", tenant="globex")
    assert client.get("/v1/evals", headers=other).json()["items"] == []
    problem(client.get(f"/v1/evals/{report_id}", headers=other), 404, "not-found")
    assert client.get(f"/v1/evals/{report_id}", headers=who("ops")).status_code == 200
    # The case runs ran as the caller, in the caller's tenant: another tenant cannot see them.
    run_id = made.json()["cases"][0]["run_id"]
    run = client.get(f"/v1/runs/{run_id}", headers=who("root"))
    assert run.status_code == 200 and run.json()["user_id"] == "root"
    problem(client.get(f"/v1/runs/{run_id}", headers=other), 404, "not-found")


def test_a_request_cannot_make_the_server_import_code(api: httpx.Client, tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "evil_judge_mod.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('x')\njudge = None\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        suite = {"name": "s", "cases": [{"id": "a", "input": "hi", "expected": "hi"}]}
        for judge in ("evil_judge_mod:judge", "os:system", "builtins:eval"):
            body = problem(
                api.post(
                    "/v1/evals",
                    json={"wait": True, "suite": suite, "agent": "echo", "judge": judge},
                ),
                400,
                "validation-error",
            )
            assert "installed model plugin" in body["detail"]
        suite_judge = {**suite, "judge": "evil_judge_mod:judge"}
        problem(
            api.post("/v1/evals", json={"wait": True, "suite": suite_judge, "agent": "echo"}),
            400,
            "validation-error",
        )
    finally:
        sys.path.remove(str(tmp_path))
    assert not marker.exists()
    assert "evil_judge_mod" not in sys.modules


@pytest.mark.parametrize(
    ("body", "status", "slug"),
    [
        ({"suite": SUITE, "agent": "nobody"}, 404, "not-found"),
        ({"suite": SUITE}, 400, "validation-error"),  # no agent anywhere
        ({"suite": {**SUITE, "casez": []}, "agent": "echo"}, 400, "validation-error"),
        (
            {
                "suite": {"name": "s", "cases": [{"id": "a", "input": "q", "tool_call": []}]},
                "agent": "echo",
            },
            400,
            "validation-error",
        ),
        (
            {
                "suite": {"name": "s", "cases": [{"id": "a", "input": "q", "expected": "x"}]},
                "agent": "echo",
            },
            400,
            "validation-error",
        ),  # no judge
        (
            {
                "suite": {**SUITE, "performance": {"runs": MAX_EVAL_RUNS, "warmup": 0}},
                "agent": "echo",
            },
            400,
            "validation-error",
        ),
    ],
)
def test_bad_requests_are_typed_problems_and_run_nothing(
    serve: Any, body: dict[str, Any], status: int, slug: str
) -> None:
    store = InMemoryStore()
    _, api = serve(store=store)
    problem(api.post("/v1/evals", json=body), status, slug)
    runs = anyio.run(lambda: store.list_runs(Scope("default")))
    assert runs.items == []
    assert api.get("/v1/evals").json()["items"] == []
