"""What bench_mcp measures, shared by Covey's side (bench_mcp.py) and Agno's
(peer_agno/mcp.py), so that both processes time their clients with the same code. Standard
library at import; the `mcp` SDK is imported by the bare client only when it is opened.

A client is an *opener*: `opener(target)` is an async context manager that connects to the
server (spawning it, for stdio), lists its tools as a framework does before it can call one,
and yields `call(i)`, one call of `add(a=i, b=1)` that returns the text of the result. Every
call's result is checked, so a client that answers wrongly fails the bench instead of timing
nothing.

- time to first tool call: from entering the opener (for stdio: before the server process is
  spawned) to the first call's result; the connection is then closed, outside the timing.
  `rounds` rounds, the clients in turn, the order rotated each round.
- per call: every client connected at once (over stdio each to a server process of its own,
  the same script), `calls` calls interleaved, one of each client in turn after `warm`
  unmeasured ones: wall ms and this process's CPU ms of each call. The overhead of a client
  over the bare one is the median of its paired differences (call i of the client − call i
  of the bare client), so drift and the machine's load cancel.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SERVER = HERE / "runtime" / "mcp_server.py"

Call = Callable[[int], Awaitable[str]]
Opener = Callable[["Target"], AbstractAsyncContextManager[Call]]


@dataclass(frozen=True)
class Target:
    """One server: over stdio a command line that starts it, over HTTP its URL."""

    transport: str  # "stdio" or "http"
    command: tuple[str, ...] = ()
    url: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"transport": self.transport, "command": list(self.command), "url": self.url}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Target:
        return cls(data["transport"], tuple(data["command"]), data["url"])


def stdio_target(python: str, core: int | None) -> Target:
    """The bench server over stdio, started by `python`, pinned to `core` when given (taskset
    execs the interpreter: one process, as without it)."""
    command = (python, str(SERVER), "stdio")
    if core is not None:
        command = ("taskset", "-c", str(core), *command)
    return Target("stdio", command=command)


def check(i: int, text: str) -> str:
    """The text of `add(a=i, b=1)` must hold i + 1."""
    if str(i + 1) not in text:
        raise RuntimeError(f"add({i}, 1) answered {text!r}")
    return text


@asynccontextmanager
async def bare(target: Target) -> AsyncIterator[Call]:
    """The floor: the `mcp` SDK's `ClientSession` over `stdio_client` or
    `streamable_http_client`, initialised, tools listed; a call is `session.call_tool`."""
    from mcp import ClientSession, StdioServerParameters, stdio_client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.types import TextContent

    async with AsyncExitStack() as stack:
        if target.transport == "stdio":
            params = StdioServerParameters(command=target.command[0], args=[*target.command[1:]])
            read, write = await stack.enter_async_context(stdio_client(params))
        else:
            read, write = await stack.enter_async_context(streamable_http_client(target.url))
        session = await stack.enter_async_context(ClientSession(read, write))
        await session.initialize()
        await session.list_tools()

        async def call(i: int) -> str:
            result = await session.call_tool("add", {"a": i, "b": 1})
            return check(i, "".join(c.text for c in result.content if isinstance(c, TextContent)))

        yield call


@asynccontextmanager
async def modern(target: Target) -> AsyncIterator[Call]:
    """A second floor: the SDK's high-level `mcp.Client` with `mode="auto"`, which negotiates
    the newest protocol era both sides speak (2026-07-28, sessionless, against this server)
    where `ClientSession.initialize` does the legacy handshake; `Client.call_tool`."""
    from mcp import Client, StdioServerParameters
    from mcp.types import TextContent

    server: Any = target.url
    if target.transport == "stdio":
        server = StdioServerParameters(command=target.command[0], args=[*target.command[1:]])
    async with Client(server, mode="auto", cache=None) as client:
        await client.list_tools()

        async def call(i: int) -> str:
            result = await client.call_tool("add", {"a": i, "b": 1})
            return check(i, "".join(c.text for c in result.content if isinstance(c, TextContent)))

        yield call


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


async def first_call(
    openers: Mapping[str, Opener], target: Target, rounds: int
) -> dict[str, list[float]]:
    """Wall ms from opening each client to its first call's result, `rounds` times each, after
    one unmeasured round (the first opening imports the client's modules)."""
    names = list(openers)
    out: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds + 1):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            started = time.perf_counter()
            async with openers[name](target) as call:
                await call(r)
                if r:
                    out[name].append(_ms(started))
    return out


async def per_call(
    openers: Mapping[str, Opener], target: Target, calls: int, warm: int
) -> dict[str, dict[str, list[float]]]:
    """Wall and CPU ms of each of `calls` calls per client, all connected, interleaved."""
    out: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in openers}
    async with AsyncExitStack() as stack:
        connected = {
            name: await stack.enter_async_context(o(target)) for name, o in openers.items()
        }
        for i in range(warm + calls):
            for name, call in connected.items():
                started, cpu = time.perf_counter(), time.process_time()
                await call(i)
                if i >= warm:
                    out[name]["cpu"].append((time.process_time() - cpu) * 1000)
                    out[name]["wall"].append(_ms(started))
    return out


async def measure(
    openers: Mapping[str, Opener],
    targets: list[Target],
    *,
    rounds: int,
    calls: int,
    warm: int,
) -> dict[str, Any]:
    """Both measurements for every target: `{transport: {"first": ..., "calls": ...}}`."""
    out: dict[str, Any] = {}
    for target in targets:
        out[target.transport] = {
            "first": await first_call(openers, target, rounds),
            "calls": await per_call(openers, target, calls, warm),
        }
    return out


Run = Callable[[], Awaitable[None]]


async def agent_runs(
    cold: Run,
    held: Callable[[], AbstractAsyncContextManager[Run]],
    plain: Run,
    *,
    rounds: int,
    runs: int,
    warm: int,
) -> dict[str, list[float]]:
    """Wall ms of whole agent runs (one tool call, two requests to the fake OpenAI server):

    - `cold`: a new agent whose MCP toolkit is not connected; the run connects it (spawns the
      server, over stdio), calls the tool, answers, and closes it: `rounds` samples after one
      unmeasured;
    - `held`: the toolkit held open by the caller around the runs (what a served agent has);
    - `plain`: the same agent with the same tool as a plain function, no MCP, interleaved
      with `held` run by run.
    """
    out: dict[str, list[float]] = {"cold": [], "held": [], "plain": []}
    for r in range(rounds + 1):
        started = time.perf_counter()
        await cold()
        if r:
            out["cold"].append(_ms(started))
    async with held() as run:
        for i in range(warm + runs):
            for key, fn in (("held", run), ("plain", plain)):
                started = time.perf_counter()
                await fn()
                if i >= warm:
                    out[key].append(_ms(started))
    return out
