"""Child runs under their parent (`/v1/runs/{run_id}/children`), scoped like every run, and the
team and workflow routes' typed refusals, over real HTTP on SQLite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from runtime_agents import echo_model
from test_auth import SECRET, good
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from covey.core import Agent
from covey.core.testing import FunctionModel
from covey.runtime import open_store
from covey.spec.store import Store

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the SQLite store")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'covey.db'}"


@pytest.fixture
def jwt_sqlite(serve: Any, sqlite_url: str) -> httpx.Client:
    store = open_store(sqlite_url)
    _, client = serve(
        store=store,
        auth="jwt",
        jwt_secret=SECRET,
        jwt_audience="covey-api",
        jwt_issuer="https://issuer",
    )
    return client


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["type"] == f"urn:covey:problem:{slug}"
    return body


def _children(url: str, parent: str, count: int) -> list[str]:
    """Run the echo agent `count` times as child runs of `parent` (alice of acme), in a second
    store on the server's SQLite file, as a team or workflow would."""

    async def main() -> list[str]:
        store: Store = open_store(url)
        agent = Agent(name="echo", model=FunctionModel(echo_model))
        ids: list[str] = []
        async with store:
            for n in range(count):
                result = await agent.run(
                    f"part {n}",
                    store=store,
                    parent_run_id=parent,
                    tenant_id="acme",
                    user_id="alice",
                )
                ids.append(result.run_id)
        return ids

    return anyio.run(main)


def test_children_are_listed_under_their_parent_and_nowhere_else(
    jwt_sqlite: httpx.Client, sqlite_url: str
) -> None:
    """Fails if a run's children are not listed, are listed to another user or tenant (it must
    be a 404, as for the run itself), or if paging loses or repeats one."""
    api = jwt_sqlite
    parent = api.post("/v1/agents/echo/runs", json={"input": "lead"}, headers=good()).json()
    assert api.get(f"/v1/runs/{parent['run_id']}/children", headers=good()).json() == {
        "items": [],
        "next_cursor": None,
    }
    ids = _children(sqlite_url, parent["run_id"], 3)

    first = api.get(f"/v1/runs/{parent['run_id']}/children?limit=2", headers=good()).json()
    assert [r["run_id"] for r in first["items"]] == ids[:2]
    assert all(r["parent_run_id"] == parent["run_id"] for r in first["items"])
    assert first["items"][0]["output"] == "echo: part 0"
    rest = api.get(
        f"/v1/runs/{parent['run_id']}/children",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=good(),
    ).json()
    assert [r["run_id"] for r in rest["items"]] == ids[2:]
    assert rest["next_cursor"] is None
    # A child is a run like any other: read it, and it has no children of its own.
    assert api.get(f"/v1/runs/{ids[0]}", headers=good()).json()["parent_run_id"] == parent["run_id"]
    assert api.get(f"/v1/runs/{ids[0]}/children", headers=good()).json()["items"] == []

    for other in (good("bob"), good(tenant="globex")):
        _problem(api.get(f"/v1/runs/{parent['run_id']}/children", headers=other), 404, "not-found")
    _problem(api.get("/v1/runs/nope/children", headers=good()), 404, "not-found")
    _problem(
        api.get(f"/v1/runs/{parent['run_id']}/children?limit=0", headers=good()),
        400,
        "validation-error",
    )
    _problem(
        api.get(f"/v1/runs/{parent['run_id']}/children?cursor=garbage", headers=good()),
        400,
        "invalid-input",
    )
    no_scope = good(scope="agents:read")
    _problem(api.get(f"/v1/runs/{parent['run_id']}/children", headers=no_scope), 403, "forbidden")


def test_a_child_run_is_resumed_through_its_parent(
    jwt_sqlite: httpx.Client, sqlite_url: str
) -> None:
    """Fails if a paused member or step run can be resumed on its own: it would go on outside
    its team or workflow, which waits for it."""
    api = jwt_sqlite
    parent = api.post("/v1/agents/echo/runs", json={"input": "lead"}, headers=good()).json()

    async def paused_child() -> str:
        from runtime_agents import approval_model, delete_file

        store: Store = open_store(sqlite_url)
        agent = Agent(name="approver", model=FunctionModel(approval_model), tools=[delete_file])
        async with store:
            result = await agent.run(
                "/x", store=store, parent_run_id=parent["run_id"], tenant_id="acme", user_id="alice"
            )
        assert result.status.value == "paused"
        return result.run_id

    child = anyio.run(paused_child)
    body = _problem(
        api.post(f"/v1/runs/{child}/resume", json={"approvals": {"d1": True}}, headers=good()),
        409,
        "run-is-child",
    )
    assert parent["run_id"] in body["detail"]
    assert api.get(f"/v1/runs/{child}", headers=good()).json()["status"] == "paused"


def test_team_and_workflow_routes_refuse_unknown_ids_with_typed_problems(
    api: httpx.Client,
) -> None:
    """Fails if an unknown (or an agent's) id under /v1/teams or /v1/workflows is anything but a
    404 problem naming where to list them, or if the OpenAPI document lacks the new routes."""
    assert api.get("/v1/teams").json() == {"items": []}
    assert api.get("/v1/workflows").json() == {"items": []}
    for kind, lister in (("teams", "GET /v1/teams"), ("workflows", "GET /v1/workflows")):
        for name in ("nobody", "echo"):  # echo is an agent, not a team or a workflow
            assert lister in _problem(api.get(f"/v1/{kind}/{name}"), 404, "not-found")["detail"]
            _problem(api.post(f"/v1/{kind}/{name}/runs", json={"input": "hi"}), 404, "not-found")
        _problem(api.post(f"/v1/{kind}/nobody/runs", json={"input": ""}), 400, "validation-error")
    for kind in ("teams", "workflows"):
        url = str(api.base_url).rstrip("/").replace("http", "ws") + f"/v1/{kind}/nobody/ws"
        with pytest.raises(InvalidStatus), connect(url):  # the handshake is refused
            pass

    schema = api.get("/schema/openapi.json").json()
    for path, method in (
        ("/v1/teams", "get"),
        ("/v1/teams/{team_id}", "get"),
        ("/v1/teams/{team_id}/runs", "post"),
        ("/v1/workflows", "get"),
        ("/v1/workflows/{workflow_id}", "get"),
        ("/v1/workflows/{workflow_id}/runs", "post"),
        ("/v1/runs/{run_id}/children", "get"),
    ):
        operation = schema["paths"][path][method]
        problem = operation["responses"]["404" if "{" in path else "401"]
        assert "application/problem+json" in problem["content"], (path, method)
