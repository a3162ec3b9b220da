"""Served by the runtime: runs of a worker share one server process, closed at shutdown."""

from __future__ import annotations

import os
from collections.abc import Callable

import anyio
import pytest

from covey.core import Agent
from covey.core.testing import TestModel
from covey.runtime.toolsets import held_toolsets
from covey.tools.mcp import MCPToolset


async def test_served_runs_share_one_process_that_ends_at_shutdown(
    py_stdio: Callable[..., MCPToolset],
) -> None:
    toolset = py_stdio(name="worker")
    agent = Agent(name="ops", model=TestModel(call_tools=["pid"]), tools=[toolset])
    pids: list[str] = []

    async def one_run() -> None:
        result = await agent.run("which process?")
        pids.append(result.tool_calls[0].result["result"])

    async with held_toolsets([agent]) as held:  # what the runtime does at startup
        assert held == [toolset] and toolset.status == "up"
        async with anyio.create_task_group() as tg:  # concurrent requests to the worker
            for _ in range(4):
                tg.start_soon(one_run)
        await one_run()  # and a later one
        assert toolset.status == "up"
    assert len(pids) == 5 and len(set(pids)) == 1
    assert toolset.sessions_opened == 1
    assert toolset.status == "closed"
    with pytest.raises(ProcessLookupError):  # shutdown ended (and reaped) the server process
        os.kill(int(pids[0]), 0)
