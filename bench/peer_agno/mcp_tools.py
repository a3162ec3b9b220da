"""Agno's `MCPTools`, the counterpart of bench_mcp.py: the same server, the same measurements
(`mcp_common.py`), next to the bare `mcp` client in this same process. Runs in Agno's own venv
(`bench/.peers/agno-mcp`: Agno with its `mcp` extra, i.e. the `mcp` SDK and fastmcp, which
`MCPTools` builds its connections with); prints one JSON object.

A call is what Agno's agent does with a tool of the toolkit: the `Function` that
`MCPTools.build_tools` registered in `tools.functions`, its `entrypoint` awaited with the
model's arguments (it pings the server, calls the tool and maps the result to a `ToolResult`).

Run: `python mcp_tools.py CONFIG.json` (not `mcp.py`: that name would shadow the SDK) (bench_mcp.py writes the config: targets, rounds, calls).
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from agno.tools.mcp import MCPTools
from mcp import StdioServerParameters

sys.path.insert(0, str(Path(__file__).parent.parent))  # bench/: mcp_common.py
from mcp_common import Call, Target, bare, check, measure


@asynccontextmanager
async def agno(target: Target) -> AsyncIterator[Call]:
    """`MCPTools` connected (`async with`: fastmcp client, handshake, tools listed and built
    into Agno `Function`s); a call awaits the `add` function's entrypoint."""
    if target.transport == "stdio":
        params = StdioServerParameters(command=target.command[0], args=[*target.command[1:]])
        tools = MCPTools(server_params=params, transport="stdio")
    else:
        tools = MCPTools(url=target.url, transport="streamable-http")
    async with tools:
        entrypoint = tools.functions["add"].entrypoint
        assert entrypoint is not None

        async def call(i: int) -> str:
            result = await entrypoint(a=i, b=1)
            return check(i, str(result.content))

        yield call


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    targets = [Target.from_json(t) for t in config["targets"]]
    result = asyncio.run(
        measure(
            {"bare": bare, "agno": agno},
            targets,
            rounds=config["rounds"],
            calls=config["calls"],
            warm=config["warm"],
        )
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
