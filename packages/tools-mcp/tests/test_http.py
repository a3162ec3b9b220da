"""Streamable HTTP and SSE against the Python server on 127.0.0.1: headers, bearer, secrets."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from covey.spec.context import RunContext
from covey.tools.mcp import Backoff, MCPToolset

TOKEN = "s3cret-token-7f1c"
SLOW_RETRY = Backoff(initial=60, maximum=60, jitter=0)


def ctx(tenant: str | None = None) -> RunContext[Any]:
    return RunContext[Any](run_id="http", tenant_id=tenant)


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
async def test_bearer_static_and_per_call_headers_reach_the_server(
    http_server: Callable[..., Any], transport: str
) -> None:
    server = http_server(transport, env={"COVEY_TEST_TOKEN": TOKEN})
    toolset = MCPToolset.http(
        server.url,
        transport=transport,  # type: ignore[arg-type]
        auth=TOKEN,
        headers={"X-Tenant": "static"},
        request_headers=lambda c: {"X-Tenant": c.tenant_id} if c.tenant_id else {},
        name="remote",
    )
    async with toolset:
        assert toolset.status == "up"  # the server answers 401 without the bearer token
        plain = await toolset.call_tool("request_headers", {}, ctx())
        assert plain.content == {"tenant": "static", "bearer": True}
        acme = await toolset.call_tool("request_headers", {}, ctx("acme"))
        assert acme.content == {"tenant": "acme", "bearer": True}
        added = await toolset.call_tool("add", {"a": 20, "b": 22}, ctx())
        assert added.content == {"result": 42}


async def test_a_wrong_token_fails_the_connection_without_showing_the_token(
    http_server: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    server = http_server("streamable-http", env={"COVEY_TEST_TOKEN": TOKEN})
    wrong = "wrong-token-" + "9" * 12
    toolset = MCPToolset.http(
        server.url,
        auth=wrong,
        headers={"X-Api-Key": "header-secret-123"},
        name="remote",
        backoff=SLOW_RETRY,
        connect_timeout=10,
    )
    with caplog.at_level(logging.DEBUG):
        async with toolset:
            assert toolset.status == "down"
            assert await toolset.list_tools(ctx()) == []
    shown = [repr(toolset), str(toolset), caplog.text]
    for text in shown:
        assert wrong not in text
        assert "header-secret-123" not in text
    assert "401" in caplog.text or "Unauthorized" in caplog.text  # the reason is still told


def test_repr_shows_no_credentials() -> None:
    toolset = MCPToolset.http(
        "https://user:pw-in-url@mcp.example.com/mcp?key=query-secret",
        auth="bearer-secret",
        headers={"Authorization": "Basic abc-secret"},
    )
    text = repr(toolset)
    assert toolset.id == "mcp"
    assert MCPToolset.http("http://127.0.0.1:8000/mcp").id == "127_0_0_1"
    for secret in ("bearer-secret", "abc-secret", "pw-in-url", "query-secret"):
        assert secret not in text
    assert "mcp.example.com/mcp" in text


async def test_an_http_server_that_goes_away_is_reconnected(
    http_server: Callable[..., Any],
) -> None:
    server = http_server("streamable-http")
    toolset = MCPToolset.http(server.url, name="remote", backoff=Backoff(initial=0.05))
    async with toolset:
        assert (await toolset.call_tool("echo", {"text": "a"}, ctx())).content == {"result": "a"}
        server.stop()
        down = await toolset.call_tool("echo", {"text": "b"}, ctx())
        assert down.is_error
        assert "MCP server remote is unavailable" in down.content
