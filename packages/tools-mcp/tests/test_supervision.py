"""The owner task and its supervision, against real server processes."""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from covey.spec.context import RunContext
from covey.spec.errors import ToolError, ToolNotFoundError
from covey.tools.mcp import Backoff, MCPToolset

CTX = RunContext[Any](run_id="supervision")


async def server_pid(toolset: MCPToolset) -> int:
    result = await toolset.call_tool("pid", {}, CTX)
    assert not result.is_error, result.content
    return int(result.metadata.get("text") or result.content["result"])


async def test_a_server_killed_mid_call_is_a_tool_error_then_it_is_reconnected(
    py_stdio: Callable[..., MCPToolset],
) -> None:
    toolset = py_stdio()
    async with toolset:
        first = await server_pid(toolset)
        results: list[Any] = []

        async def long_call() -> None:
            results.append(await toolset.call_tool("hang", {"seconds": 600}, CTX))

        async with anyio.create_task_group() as tg:
            tg.start_soon(long_call)
            await anyio.wait_all_tasks_blocked()
            os.kill(first, signal.SIGKILL)
        [result] = results
        assert result.is_error
        assert "MCP server py is unavailable" in result.content

        with anyio.fail_after(30):
            assert await toolset.wait_until_up()
        second = await server_pid(toolset)
        assert second != first
        assert toolset.sessions_opened == 2


async def test_calls_while_the_server_is_down_fail_promptly_and_the_run_goes_on(
    py_stdio: Callable[..., MCPToolset],
) -> None:
    # A long backoff keeps it down while we call.
    toolset = py_stdio(backoff=Backoff(initial=60, maximum=60, jitter=0))
    async with toolset:
        pid = await server_pid(toolset)
        async with anyio.create_task_group() as tg:
            tg.start_soon(toolset.call_tool, "hang", {"seconds": 600}, CTX)
            await anyio.wait_all_tasks_blocked()
            os.kill(pid, signal.SIGKILL)
        assert toolset.status == "down"
        with anyio.fail_after(2):  # promptly: no waiting for a reconnect
            result = await toolset.call_tool("echo", {"text": "x"}, CTX)
        assert result.is_error
        assert result.content.startswith("MCP server py is unavailable")
        # The last known tools are still listed, so the model keeps its picture.
        assert "echo" in {t.name for t in await toolset.list_tools(CTX)}


async def test_a_hanging_call_times_out_as_an_error_result_and_the_next_call_works(
    py_stdio: Callable[..., MCPToolset],
) -> None:
    toolset = py_stdio(timeout=0.5)
    async with toolset:
        pid = await server_pid(toolset)
        result = await toolset.call_tool("hang", {"seconds": 600}, CTX)
        assert result.is_error
        assert "did not answer 'hang' within 0.5 s" in result.content
        echoed = await toolset.call_tool("echo", {"text": "still here"}, CTX)
        assert echoed.metadata["text"] == "still here"
        assert await server_pid(toolset) == pid  # same process: the hung request was cancelled


async def test_a_server_that_cannot_start_lists_no_tools_and_logs_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    toolset = MCPToolset.stdio(
        sys.executable,
        ["-c", "import sys; sys.exit(3)"],
        name="broken",
        backoff=Backoff(initial=60, maximum=60, jitter=0),
        connect_timeout=10,
    )
    with caplog.at_level(logging.WARNING, logger="covey.tools.mcp"):
        async with toolset:
            assert toolset.status == "down"
            assert await toolset.list_tools(CTX) == []
            with pytest.raises(ToolNotFoundError):
                await toolset.call_tool("anything", {}, CTX)
    assert "MCP server broken is unavailable" in caplog.text
    assert toolset.status == "closed"


async def test_a_missing_command_does_not_crash_the_run() -> None:
    toolset = MCPToolset.stdio(
        "/nonexistent/covey-mcp-server", name="missing", backoff=Backoff(initial=60, maximum=60)
    )
    async with toolset:
        assert await toolset.list_tools(CTX) == []
        assert toolset.status == "down"


async def test_entered_in_one_task_and_left_in_another(
    py_stdio: Callable[..., MCPToolset],
) -> None:
    """Runs end in other tasks than the one that connected: no cancel-scope errors."""
    toolset = py_stdio()
    entered = anyio.Event()
    leave = anyio.Event()

    async def first_run() -> None:
        await toolset.__aenter__()
        entered.set()

    async def second_run() -> None:
        async with toolset:
            await leave.wait()
            assert (await toolset.call_tool("echo", {"text": "a"}, CTX)).metadata["text"] == "a"

    async with anyio.create_task_group() as tg:
        tg.start_soon(first_run)  # enters and ends without leaving
        await entered.wait()
        tg.start_soon(second_run)
        await anyio.wait_all_tasks_blocked()
        leave.set()
    assert toolset.status == "up"  # the first run's entry is still held
    await toolset.__aexit__(None, None, None)  # left from the test's own task
    assert toolset.status == "closed"
    async with toolset:  # and it connects again afterwards
        assert await toolset.list_tools(CTX)


async def test_concurrent_runs_share_one_connection_and_one_process(
    py_stdio: Callable[..., MCPToolset],
) -> None:
    toolset = py_stdio()
    pids: list[int] = []

    async def run() -> None:
        async with toolset:
            pids.append(await server_pid(toolset))

    # The runtime holds it open; runs come and go.
    async with toolset, anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(run)
    assert len(pids) == 8
    assert len(set(pids)) == 1
    assert toolset.sessions_opened == 1


async def test_using_it_without_entering_is_a_clear_error(
    py_stdio: Callable[..., MCPToolset],
) -> None:
    toolset = py_stdio()
    with pytest.raises(ToolError, match="async with toolset"):
        await toolset.list_tools(CTX)


async def test_a_cancelled_caller_cancels_its_request(
    py_stdio: Callable[..., MCPToolset],
) -> None:
    toolset = py_stdio()
    async with toolset:
        with anyio.move_on_after(0.3):
            await toolset.call_tool("hang", {"seconds": 600}, CTX)
        # The connection is fine and serves the next call at once.
        with anyio.fail_after(10):
            echoed = await toolset.call_tool("echo", {"text": "next"}, CTX)
        assert echoed.metadata["text"] == "next"


async def test_an_entry_cancelled_while_connecting_is_undone(
    py_stdio: Callable[..., MCPToolset],
) -> None:
    toolset = py_stdio()
    with anyio.move_on_after(0.05):
        async with toolset:
            pytest.fail("the server cannot be up within 50 ms")
    assert toolset.status == "closed"  # the owner and its process were stopped
    async with toolset:
        assert toolset.status == "up"


def test_an_event_loop_that_ended_while_entered_does_not_wedge_the_toolset(
    py_stdio: Callable[..., MCPToolset],
) -> None:
    toolset = py_stdio()

    async def enter_and_never_leave() -> None:
        await toolset.__aenter__()

    async def use() -> str:
        async with toolset:
            return (await toolset.call_tool("echo", {"text": "again"}, CTX)).metadata["text"]

    import asyncio

    asyncio.run(enter_and_never_leave())  # the loop ends; its owner task is gone with it
    assert asyncio.run(use()) == "again"
