"""Agno's `MCPTools`, the counterpart of bench_mcp.py: the same server, the same measurements
(`mcp_common.py`), next to the bare `mcp` client in this same process. Runs in Agno's own venv
(`bench/.peers/agno-mcp`: Agno with its `mcp` extra, i.e. the `mcp` SDK and fastmcp, which
`MCPTools` builds its connections with); prints one JSON object.

A call is what Agno's agent does with a tool of the toolkit: the `Function` that
`MCPTools.build_tools` registered in `tools.functions`, its `entrypoint` awaited with the
model's arguments (it pings the server, calls the tool and maps the result to a `ToolResult`).

The agent rows run Agno's `Agent` on the loopback fake OpenAI server with the toolkit as its
tools (`agents` below).

Run: `python mcp_tools.py CONFIG.json` (bench_mcp.py writes the config: targets, counts, the
fake's URL). Not `mcp.py`: that name would shadow the SDK.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from agent import INSTRUCTIONS, make_agent
from agno.agent import Agent
from agno.models.openai import OpenAIChat
from agno.tools.mcp import MCPTools
from mcp import StdioServerParameters

sys.path.insert(0, str(Path(__file__).parent.parent))  # bench/: mcp_common.py
from mcp_common import Call, Run, Target, agent_runs, bare, check, measure


def _tools(target: Target) -> MCPTools:
    if target.transport == "stdio":
        params = StdioServerParameters(command=target.command[0], args=[*target.command[1:]])
        return MCPTools(server_params=params, transport="stdio")
    return MCPTools(url=target.url, transport="streamable-http")


@asynccontextmanager
async def agno(target: Target) -> AsyncIterator[Call]:
    """`MCPTools` connected (`async with`: fastmcp client, handshake, tools listed and built
    into Agno `Function`s); a call awaits the `add` function's entrypoint."""
    async with _tools(target) as tools:
        entrypoint = tools.functions["add"].entrypoint
        assert entrypoint is not None

        async def call(i: int) -> str:
            result = await entrypoint(a=i, b=1)
            return check(i, str(result.content))

        yield call


async def agents(config: dict[str, Any], target: Target) -> dict[str, list[float]]:
    """Agent runs on the fake OpenAI server whose `get_weather` is the MCP server's: the agent
    connects `MCPTools` itself at the start of a run and closes it at the end (`cold`), or
    the caller holds it open (`held`); `plain` is the bench's function-tool agent."""
    base_url, prompt, final = config["openai_url"], config["prompt"], config["final"]

    def agent(tools: MCPTools) -> Agent:
        model = OpenAIChat(id="gpt-4.1", api_key="bench", base_url=base_url, max_retries=0)
        return Agent(model=model, tools=[tools], instructions=INSTRUCTIONS, telemetry=False)

    async def answer(agent: Agent) -> None:
        result = await agent.arun(prompt)
        assert result.content == final, result.content

    async def cold() -> None:
        await answer(agent(_tools(target)))

    @asynccontextmanager
    async def held() -> AsyncIterator[Run]:
        async with _tools(target) as tools:
            connected = agent(tools)
            yield lambda: answer(connected)

    plain = make_agent(base_url)
    return await agent_runs(
        cold,
        held,
        lambda: answer(plain),
        rounds=config["rounds"],
        runs=config["agent_runs"],
        warm=config["agent_warm"],
    )


async def _main(config: dict[str, Any]) -> dict[str, Any]:
    targets = [Target.from_json(t) for t in config["targets"]]
    result = await measure(
        {"bare": bare, "agno": agno},
        targets,
        rounds=config["rounds"],
        calls=config["calls"],
        warm=config["warm"],
    )
    if config.get("openai_url"):
        for target in targets:
            result[target.transport]["agent"] = await agents(config, target)
    return result


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(asyncio.run(_main(config))))


if __name__ == "__main__":
    main()
