"""MCP toolsets inside a `covey.core.Agent`: clashing servers, prefixes, list changes, images."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

from covey.core import Agent
from covey.core.testing import TestModel
from covey.spec.context import RunContext
from covey.tools.mcp import MCPToolset

CTX = RunContext[Any](run_id="agent")


async def test_two_servers_with_clashing_tool_names_in_one_agent(
    py_stdio: Callable[..., MCPToolset],
) -> None:
    alpha, beta = py_stdio(name="alpha"), py_stdio(name="beta")
    agent = Agent(model=TestModel(call_tools=["alpha_pid", "beta_pid"]), tools=[alpha, beta])
    result = await agent.run("which processes?")
    calls = {call.tool_name: call for call in result.tool_calls}
    assert set(calls) == {"alpha_pid", "beta_pid"}
    # Each prefixed name reached its own server: two processes, two pids.
    pids = {calls[name].result["result"] for name in calls}
    assert len(pids) == 2
    assert alpha.status == beta.status == "closed"  # the run left both; nothing holds them


async def test_prefix_names_every_tool(py_stdio: Callable[..., MCPToolset]) -> None:
    toolset = py_stdio(name="calc", prefix="calc")
    async with toolset:
        names = {t.name for t in await toolset.list_tools(CTX)}
        assert "calc_add" in names and "add" not in names
        result = await toolset.call_tool("calc_add", {"a": 1, "b": 2}, CTX)
        assert result.content == {"result": 3}


async def test_a_list_changed_notification_refreshes_the_tools(
    py_stdio: Callable[..., MCPToolset],
) -> None:
    toolset = py_stdio()
    async with toolset:
        before = toolset.tools_generation
        assert "greet" not in {t.name for t in await toolset.list_tools(CTX)}
        await toolset.call_tool("add_tool", {"name": "greet"}, CTX)
        with anyio.fail_after(10):
            await toolset.wait_tools_changed(before)
        assert "greet" in {t.name for t in await toolset.list_tools(CTX)}
        hello = await toolset.call_tool("greet", {}, CTX)
        assert hello.metadata["text"] == "hello from greet"


async def test_an_image_result_reaches_the_model_as_content_parts(
    py_stdio: Callable[..., MCPToolset],
) -> None:
    agent = Agent(model=TestModel(call_tools=["image"]), tools=[py_stdio()])
    result = await agent.run("show me")
    [call] = result.tool_calls
    caption, image = call.result
    assert caption == {"kind": "text", "text": "a pixel"}
    assert image["kind"] == "image" and image["media_type"] == "image/png"
