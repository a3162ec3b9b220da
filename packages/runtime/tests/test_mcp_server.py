"""The MCP server: streamable HTTP at `/mcp` under a running runtime and stdio through
`covey mcp serve`, each driven by the `mcp` SDK's own client over a real socket or pipe."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from runtime_helpers import ThreadServer
from test_auth import SECRET as KEY
from test_auth import bearer, token

from covey.core import Agent, RunContext
from covey.core.testing import TestModel
from covey.runtime import Registry, RuntimeSettings, create_app
from covey.spec import tool
from covey.spec.errors import ConfigurationError, ModelRetry

TESTS = Path(__file__).parent


@tool
def add_item(ctx: RunContext, item: str, count: int = 1) -> dict[str, Any]:
    """Put an item in the shopping cart."""
    if count < 1:
        raise ModelRetry("count must be at least 1")
    return {"item": item, "count": count, "user": ctx.user_id, "tenant": ctx.tenant_id}


@tool
def crash() -> str:
    """A tool with a bug."""
    raise RuntimeError("db password=hunter2 leaked")


@tool(requires_approval=True)
def delete_everything(path: str) -> str:
    """Delete a folder (needs a person's approval)."""
    return f"deleted {path}"


def registry() -> Registry:
    return Registry(
        [
            Agent(
                name="shop",
                description="Helps with shopping.",
                model=TestModel(call_tools=[], custom_output_text="Your cart is ready."),
                tools=[add_item, crash],
            ),
            Agent(
                name="danger",
                model=TestModel(call_tools=["delete_everything"]),
                tools=[delete_everything],
            ),
            Agent(name="hidden", model=TestModel(custom_output_text="secret agent")),
        ]
    )


EXPOSE = ["agent:shop", "agent:danger", "tool:shop.add_item", "tool:shop.crash"]


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadServer]:
    settings = RuntimeSettings(store="memory://", auth="jwt", jwt_secret=KEY, mcp_expose=EXPOSE)
    running = ThreadServer(create_app(settings, registry=registry())).start()
    try:
        yield running
    finally:
        running.stop()


def _client(server: ThreadServer, headers: dict[str, str], mode: Any = "auto") -> Client:
    http = httpx2.AsyncClient(headers=headers, timeout=30)
    return Client(streamable_http_client(f"{server.url}/mcp", http_client=http), mode=mode)


ALICE = bearer(token("alice", scope="agents:run runs:read"))


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_tools_over_streamable_http(server: ThreadServer, mode: str) -> None:
    async with _client(server, ALICE, mode) as client:
        listed = await client.list_tools()
        names = sorted(t.name for t in listed.tools)
        assert names == ["danger", "shop", "shop_add_item", "shop_crash"]  # never `hidden`
        shop = next(t for t in listed.tools if t.name == "shop")
        assert shop.description == "Helps with shopping."
        assert shop.input_schema["required"] == ["input"]

        result = await client.call_tool("shop", {"input": "buy milk"})
        assert not result.is_error
        assert result.content[0].text == "Your cart is ready."
        run = result.structured_content
        assert run["status"] == "completed"
        again = await client.call_tool("shop", {"input": "more", "session_id": run["session_id"]})
        assert again.structured_content["session_id"] == run["session_id"]

        direct = await client.call_tool("shop_add_item", {"item": "milk", "count": 2})
        assert not direct.is_error
        # The caller's identity reached the tool: the token's user and tenant.
        assert direct.structured_content == {
            "item": "milk",
            "count": 2,
            "user": "alice",
            "tenant": "acme",
        }

    # The run is an ordinary, stored run of the caller's, readable through the REST API.
    async with httpx.AsyncClient(base_url=server.url, headers=ALICE) as http:
        stored = await http.get(f"/v1/runs/{run['run_id']}")
        assert stored.status_code == 200
        assert stored.json()["output"] == "Your cart is ready."
        other = bearer(token("mallory", scope="runs:read"))
        assert (await http.get(f"/v1/runs/{run['run_id']}", headers=other)).status_code == 404


async def test_failures_are_error_results(
    server: ThreadServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="covey")
    async with _client(server, ALICE) as client:
        retry = await client.call_tool("shop_add_item", {"item": "milk", "count": 0})
        assert retry.is_error
        assert "at least 1" in retry.content[0].text
        bad_args = await client.call_tool("shop_add_item", {"count": "many"})
        assert bad_args.is_error
        crashed = await client.call_tool("shop_crash", {})
        assert crashed.is_error
        assert "hunter2" not in crashed.content[0].text  # a bug's message is not sent
        assert "shop_crash failed with RuntimeError" in caplog.text
        assert "hunter2" not in caplog.text  # nor logged above debug
        assert await _error_text(client, "shop", {}) == "`input` must be a non-empty string"
        assert "Unknown arguments" in await _error_text(
            client, "shop", {"input": "x", "model": "gpt-5"}
        )
        assert "session_id" in await _error_text(
            client, "shop", {"input": "x", "session_id": "a\x00b"}
        )
        assert "Unknown tool" in await _error_text(client, "hidden", {"input": "x"})
        paused = await client.call_tool("danger", {"input": "clean up"})
        assert paused.is_error
        assert paused.structured_content["status"] == "paused"
        assert "delete_everything (approval)" in paused.content[0].text


async def _error_text(client: Client, name: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(name, args)
    assert result.is_error
    text = result.content[0].text
    return text.split(":")[0] if text.startswith("`input`") else text


def test_mcp_needs_a_token_and_the_run_scope(server: ThreadServer) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    headers = {"Accept": "application/json, text/event-stream"}
    with httpx.Client(base_url=server.url, headers=headers) as http:
        anonymous = http.post("/mcp", json=body)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        reader = bearer(token("eve", scope="agents:read runs:read"))
        assert http.post("/mcp", json=body, headers=reader).status_code == 403
        forged = bearer(token("alice", scope="agents:run", key="x" * 40))
        assert http.post("/mcp", json=body, headers=forged).status_code == 401
        # DNS rebinding: a browser page on another site cannot reach a loopback server.
        evil = {**ALICE, "Origin": "http://evil.example", "Host": "evil.example"}
        assert http.post("/mcp", json=body, headers=evil).status_code in (400, 403, 421)


def test_nothing_is_served_unless_exposed() -> None:
    app = create_app(RuntimeSettings(store="memory://"), registry=registry())
    running = ThreadServer(app).start()
    try:
        with httpx.Client(base_url=running.url) as http:
            assert http.post("/mcp", json={}).status_code == 404
    finally:
        running.stop()


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (["agent:nobody"], "no served agent 'nobody'"),
        (["robot:shop"], "is not agent, team, workflow or tool"),
        (["shop"], "use agent:NAME"),
        (["tool:shop"], "tool:AGENT.TOOL"),
        (["agent:shop", "agent:shop"], "several tools named ['shop']"),
    ],
)
def test_bad_exposure_fails_at_startup(entries: list[str], message: str) -> None:
    settings = RuntimeSettings(store="memory://", mcp_expose=entries)
    with pytest.raises(ConfigurationError) as caught:
        create_app(settings, registry=registry())
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("tool:danger.delete_everything", "needs a person's approval"),
        ("tool:shop.nothing", "has no tool 'nothing'"),
    ],
)
def test_unsafe_or_missing_tools_stop_the_server(entry: str, message: str) -> None:
    from litestar.testing import TestClient

    settings = RuntimeSettings(store="memory://", mcp_expose=[entry])
    app = create_app(settings, registry=registry())
    with pytest.raises(BaseException) as caught, TestClient(app):
        pass
    errors = _leaves(caught.value)
    assert any(isinstance(e, ConfigurationError) and message in str(e) for e in errors), errors


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


async def test_stdio_through_covey_mcp_serve(tmp_path: Path) -> None:
    config = tmp_path / "covey.toml"
    db = tmp_path / "covey.db"
    config.write_text(
        f'agents = "test_mcp_server:registry"\npython_path = ["{TESTS}"]\n'
        f'store = "sqlite:///{db}"\nmcp_expose = ["agent:shop", "tool:shop.add_item"]\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVEY_")}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "covey.runtime.cli", "mcp", "serve", "--config", str(config), "--user", "u1"],
        env=env,
        cwd=str(tmp_path),
    )
    with anyio.fail_after(60):
        async with Client(params) as client:
            names = sorted(t.name for t in (await client.list_tools()).tools)
            assert names == ["shop", "shop_add_item"]
            result = await client.call_tool("shop", {"input": "hello"})
            assert not result.is_error
            assert result.content[0].text == "Your cart is ready."
            direct = await client.call_tool("shop_add_item", {"item": "tea"})
            assert direct.structured_content["user"] == "u1"
    # The run went to the configured store, under the --user given.
    from covey.runtime.app import open_store
    from covey.spec.store import Scope

    store = open_store(f"sqlite:///{db}")
    async with store:
        run = await store.get_run(Scope("default", "u1"), result.structured_content["run_id"])
        assert run is not None
        assert run.output == "Your cart is ready."


async def test_teams_and_workflows_as_tools() -> None:
    from runtime_teams import build

    expose = ["team:desk", "workflow:pipeline", "workflow:ordering"]
    settings = RuntimeSettings(store="memory://", mcp_expose=expose)
    running = ThreadServer(create_app(settings, registry=build())).start()
    try:
        async with _client(running, {}) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert sorted(tools) == ["desk", "ordering", "pipeline"]
            assert "anyOf" in tools["ordering"].input_schema["properties"]["input"]
            desk = await client.call_tool("desk", {"input": "a poem"})
            assert not desk.is_error, desk
            assert desk.structured_content["status"] == "completed"
            pipeline = await client.call_tool("pipeline", {"input": "a poem"})
            assert pipeline.content[0].text.startswith("published: ")
            # A workflow whose first step takes a model: a JSON object input.
            order = await client.call_tool("ordering", {"input": {"item": "tea", "qty": 2}})
            assert order.content[0].text == "2 x tea = 6"
            wrong = await client.call_tool("ordering", {"input": {"item": "tea"}})
            assert wrong.is_error
            assert await _error_text(client, "desk", {"input": {"a": 1}}) == (
                "`input` must be a non-empty string"
            )
    finally:
        running.stop()
