"""The runtime holds its agents' toolsets open for the whole process: runs share one connection."""

from __future__ import annotations

import logging
from typing import Any, Self

import httpx
import pytest
from runtime_helpers import ThreadServer

from covey.core import Agent, Team
from covey.core.testing import TestModel
from covey.runtime import Registry, RuntimeSettings, create_app
from covey.runtime.toolsets import held_toolsets
from covey.spec import RunContext, ToolDefinition, ToolResult
from covey.spec.errors import PluginNotFoundError
from covey.spec.tools import Toolset
from covey.testing import InMemoryStore


class Connection(Toolset):
    """Counts entries as the spec asks: connects on the first, disconnects on the last."""

    def __init__(self, id: str, *, fail: bool = False) -> None:
        self.id = id
        self.fail = fail
        self.depth = 0
        self.connects = 0
        self.disconnects = 0

    async def __aenter__(self) -> Self:
        if self.fail:
            raise ConnectionRefusedError("server is down")
        if self.depth == 0:
            self.connects += 1
        self.depth += 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.depth -= 1
        if self.depth == 0:
            self.disconnects += 1

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        return [ToolDefinition(name=f"{self.id}_ping")]

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        return ToolResult(content=f"pong from connection {self.connects}")


def serve(registry: Registry) -> tuple[ThreadServer, httpx.Client]:
    app = create_app(RuntimeSettings(store="memory://"), registry=registry, store=InMemoryStore())
    server = ThreadServer(app).start()
    return server, httpx.Client(base_url=server.url, timeout=30)


def test_runs_share_one_connection_that_closes_at_shutdown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    conn = Connection("db")
    member_conn = Connection("crm")
    agent = Agent(name="ops", model=TestModel(), tools=[conn])
    member = Agent(name="sales", model=TestModel(), tools=[member_conn])
    team = Team(name="desk", model=TestModel(), members=[member])
    caplog.set_level(logging.INFO, logger="covey.runtime")
    server, api = serve(Registry([agent], teams=[team]))
    try:
        assert conn.connects == 1 and conn.depth == 1  # opened at startup, before any run
        assert member_conn.connects == 1  # a team member's toolsets too
        for _ in range(3):
            run = api.post("/v1/agents/ops/runs", json={"input": "go"}).json()
            assert run["status"] == "completed"
            assert run["tool_calls"][0]["result"] == "pong from connection 1"
        assert conn.connects == 1 and conn.disconnects == 0
    finally:
        api.close()
        server.stop()
    assert conn.depth == 0 and conn.disconnects == 1
    assert member_conn.disconnects == 1
    assert "holding 2 toolset(s) open for all runs: ['crm', 'db']" in caplog.text


def test_a_toolset_that_cannot_open_at_startup_does_not_stop_the_runtime(
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = Connection("search", fail=True)
    agent = Agent(name="ops", model=TestModel(), tools=[down])
    caplog.set_level(logging.WARNING, logger="covey.runtime")
    server, api = serve(Registry([agent]))
    try:
        assert api.get("/v1/agents").status_code == 200
        run = api.post("/v1/agents/ops/runs", json={"input": "go"}).json()
        # The run enters the toolset itself and fails with the reason, as a run without the
        # runtime would; the runtime stays up for the other agents.
        assert run["status"] == "failed"
        assert "server is down" in run["error"]["message"]
    finally:
        api.close()
        server.stop()
    assert "toolset search could not be opened at startup" in caplog.text


async def test_a_missing_tool_plugin_stops_the_startup_with_the_install_line() -> None:
    agent = Agent(name="ops", model=TestModel(), tools=["no-such-kit"])
    with pytest.raises(PluginNotFoundError, match="pip install covey-tools-no-such-kit"):
        async with held_toolsets([agent]):
            pass
