"""MCP: Covey's `MCPToolset` next to Agno's `MCPTools` and the bare `mcp` client, on one server.

The server (`runtime/mcp_server.py`, the `mcp` SDK's `MCPServer` with a trivial `add` tool) is
the same script for every client, run by one interpreter: over stdio each client spawns it
(pinned to the server core with `taskset`), over streamable HTTP one process serves every
client on 127.0.0.1 (on the server core). The clients, measured with the same code
(`mcp_common.py`):

- the floor: the `mcp` SDK's `ClientSession` over `stdio_client` / `streamable_http_client`,
  initialised (the legacy handshake era, as Agno's default `protocol_mode="legacy"`), tools
  listed, `call_tool`; and, in Covey's process, the SDK's high-level `mcp.Client` with
  `mode="auto"` (the newest era both sides speak, 2026-07-28 with this server), which is what
  `MCPToolset` connects with, so its row separates the protocol era's cost from Covey's;
- Covey: `covey.tools.mcp.MCPToolset.stdio(command, args)` / `.http(url)`, entered
  (`async with`), `list_tools(ctx)`, `call_tool("add", args, ctx)`;
- Agno: `MCPTools` (fastmcp client) in Agno's own venv (`peer_agno/mcp_tools.py`), entered,
  the `add` function's entrypoint awaited — what Agno's agent does with the tool.

Each side measures the bare client in its own process next to its framework's client, so every
overhead is against a floor timed in the same process, interleaved with it (Covey's in this
process, on the load core; Agno's in its venv, on the same core, after Covey's).

- time to first tool call: from opening the client (for stdio: before the server is spawned;
  for HTTP: before the connection) to the first call's result; p50 / p95 of `ROUNDS` rounds;
- per call: p50 / p95 wall ms of `CALLS` calls on an open connection, the client process's CPU
  ms per call (median), and the overhead over the bare client: the median of the paired
  differences (framework call i − bare call i), wall and CPU;
- agent runs on the loopback fake OpenAI server, which asks for `get_weather` (here the MCP
  server's tool) and then answers: with the toolkit connected by the run itself (a new agent:
  both frameworks connect an unconnected MCP toolkit when a run starts and close it when it
  ends, so over stdio such a run spawns the server), with the toolkit held open by the caller
  (what a served agent has: Covey's runtime holds served toolsets open for the process), and
  with `get_weather` as a plain function tool; "held − plain" is what MCP adds to a run.

`COVEY_BENCH_MCP_ROUNDS`, `COVEY_BENCH_MCP_CALLS` and `COVEY_BENCH_MCP_AGENT_RUNS` change the
counts; `--full` (or `COVEY_BENCH_FULL=1`) raises them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from mcp_common import (
    SERVER,
    Call,
    Opener,
    Run,
    Target,
    agent_runs,
    bare,
    check,
    measure,
    modern,
    stdio_target,
)
from peers import MCP, agno_python, peer_env
from procs import HERE, cores, fake_openai, pinned, url_server

TITLE = "MCP: time to first tool call and per-call overhead, Covey next to Agno's MCPTools"
HEADER = ("measurement", "bare mcp client", "Covey MCPToolset", "Agno MCPTools", "Covey ÷ Agno")
FULL = os.environ.get("COVEY_BENCH_FULL") == "1"
ROUNDS = int(os.environ.get("COVEY_BENCH_MCP_ROUNDS", "30" if FULL else "10"))
CALLS = int(os.environ.get("COVEY_BENCH_MCP_CALLS", "2000" if FULL else "300"))
WARM = 20
AGENT_RUNS = int(os.environ.get("COVEY_BENCH_MCP_AGENT_RUNS", "100" if FULL else "30"))
AGENT_WARM = 5
PROMPT = "Weather in Paris?"
FINAL = "It is sunny in Paris, 21 °C."
NOTE = (
    "ms; first call = open (spawn the server for stdio, connect for HTTP) + initialise + list "
    "tools + one call, p50 / p95 of {rounds} rounds; per call = {calls} calls of add(a, b) on an "
    "open connection, interleaved with the bare client's; overhead = median of paired "
    "differences to the bare client measured in the same process (bare column: Covey's "
    "process; Agno's own floor in brackets); CPU = the client process only"
)


def _say(message: str) -> None:
    print(f"bench: mcp: {message}", file=sys.stderr, flush=True)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing (no covey.tools at all)
        return False


def _text(content: Any) -> str:
    """The text of a Covey `ToolResult.content`: a string, or parts that carry text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_text(getattr(p, "content", getattr(p, "text", p))) for p in content)
    return json.dumps(content, default=str)


@asynccontextmanager
async def covey(target: Target) -> AsyncIterator[Call]:
    """`MCPToolset` entered, its tools listed (what a run does first); a call is `call_tool`."""
    from covey.spec import RunContext

    toolset = _toolset(target)
    ctx = RunContext(run_id="bench")
    async with toolset:
        await toolset.list_tools(ctx)

        async def call(i: int) -> str:
            result = await toolset.call_tool("add", {"a": i, "b": 1}, ctx)
            if result.is_error:
                raise RuntimeError(f"Covey's add({i}, 1) failed: {result.content!r}")
            return check(i, _text(result.content))

        yield call


def _toolset(target: Target) -> Any:
    from covey.tools.mcp import MCPToolset

    if target.transport == "stdio":
        return MCPToolset.stdio(target.command[0], list(target.command[1:]))
    return MCPToolset.http(target.url)


async def _covey_agents(base_url: str, target: Target) -> dict[str, list[float]]:
    """Agent runs on the fake OpenAI server, whose `get_weather` is the MCP server's: the run
    enters the toolset (connects; over stdio spawns the server) and leaves it (`cold`), or the
    caller holds it entered around the runs (`held`, as the runtime does for a served agent);
    `plain` is the same agent with `get_weather` as a function tool."""
    from bench_models import get_weather

    from covey.core import Agent
    from covey.models.openai import OpenAIChatModel

    def agent(tools: Any) -> Agent[Any, Any]:
        model = OpenAIChatModel("gpt-4.1", api_key="bench", base_url=base_url)
        return Agent(model=model, tools=[tools], instructions="Answer with the weather.")

    async def answer(agent: Agent[Any, Any]) -> None:
        result = await agent.run(PROMPT)
        assert result.output == FINAL, (result.status, result.error)

    async def cold() -> None:
        await answer(agent(_toolset(target)))

    @asynccontextmanager
    async def held() -> AsyncIterator[Run]:
        toolset = _toolset(target)
        async with toolset:
            entered = agent(toolset)
            yield lambda: answer(entered)

    plain = agent(get_weather)
    return await agent_runs(
        cold, held, lambda: answer(plain), rounds=ROUNDS, runs=AGENT_RUNS, warm=AGENT_WARM
    )


async def _covey_side(
    openers: dict[str, Opener], targets: list[Target], base_url: str | None
) -> dict[str, Any]:
    out = await measure(openers, targets, rounds=ROUNDS, calls=CALLS, warm=WARM)
    if base_url is not None and "covey" in openers:
        for target in targets:
            out[target.transport]["agent"] = await _covey_agents(base_url, target)
    return out


@contextmanager
def _http_server(python: str, core: int | None) -> Iterator[str]:
    """The bench server over streamable HTTP in its own process; yields its URL."""
    with url_server([python, str(SERVER), "http"], core, "MCP server") as url:
        yield url


def _agno(
    python: Any, targets: list[Target], base_url: str | None, core: int | None
) -> dict[str, Any]:
    config = {
        "targets": [t.to_json() for t in targets],
        "rounds": ROUNDS,
        "calls": CALLS,
        "warm": WARM,
        "openai_url": base_url,
        "prompt": PROMPT,
        "final": FINAL,
        "agent_runs": AGENT_RUNS,
        "agent_warm": AGENT_WARM,
    }
    with tempfile.TemporaryDirectory(prefix="covey-bench-mcp-") as tmp:
        path = Path(tmp) / "agno.json"
        path.write_text(json.dumps(config))
        command = [str(python), str(HERE / "peer_agno" / "mcp_tools.py"), str(path)]
        if core is not None:
            command = ["taskset", "-c", str(core), *command]
        done = subprocess.run(
            command, env=peer_env(), capture_output=True, text=True, check=False, timeout=1800
        )
    if done.returncode != 0:
        raise RuntimeError(f"Agno MCP bench failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _p50_p95(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, round(0.95 * len(ordered)) - 1)]


def _paired(a: list[float], b: list[float]) -> float:
    """Median of a[i] − b[i]: what `a` costs over `b`, sample by sample."""
    return statistics.median(x - y for x, y in zip(a, b, strict=True))


def _fmt(pair: tuple[float, float] | None, digits: int = 2) -> str:
    return "-" if pair is None else f"{pair[0]:.{digits}f} / {pair[1]:.{digits}f}"


def _ratio(covey: float | None, agno: float | None) -> str:
    return f"{covey / agno:.2f}" if covey is not None and agno else "-"


def _side(result: dict[str, Any] | None, transport: str, name: str) -> dict[str, Any] | None:
    """One client's figures of one transport: first-call and per-call pairs, overheads."""
    if result is None or name not in result[transport]["first"]:
        return None
    first = result[transport]["first"]
    calls = result[transport]["calls"]
    out: dict[str, Any] = {
        "first": _p50_p95(first[name]),
        "wall": _p50_p95(calls[name]["wall"]),
        "cpu": statistics.median(calls[name]["cpu"]),
    }
    if name != "bare":
        out["first_over"] = _paired(first[name], first["bare"])
        out["wall_over"] = _paired(calls[name]["wall"], calls["bare"]["wall"])
        out["cpu_over"] = _paired(calls[name]["cpu"], calls["bare"]["cpu"])
    return out


def _rows(
    covey_side: dict[str, Any] | None, agno_side: dict[str, Any] | None, transports: list[str]
) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for transport in transports:
        b = _side(covey_side, transport, "bare")
        ab = _side(agno_side, transport, "bare")
        c = _side(covey_side, transport, "covey")
        a = _side(agno_side, transport, "agno")

        def floor(key: str, digits: int = 2, b: Any = b, ab: Any = ab) -> str:
            mine = _fmt(b[key], digits) if b else "-"
            return f"{mine} ({_fmt(ab[key], digits)})" if ab else mine

        opened = "spawn" if transport == "stdio" else "connect"
        rows.append(
            (
                f"{transport}: time to first tool call ({opened} → result), p50 / p95",
                floor("first", 1),
                _fmt(c["first"], 1) if c else "-",
                _fmt(a["first"], 1) if a else "-",
                _ratio(c and c["first"][0], a and a["first"][0]),
            )
        )
        rows.append(
            (
                f"{transport}:   over the bare client (median of paired rounds)",
                "-",
                f"{c['first_over']:+.1f}" if c else "-",
                f"{a['first_over']:+.1f}" if a else "-",
                "-",
            )
        )
        rows.append(
            (
                f"{transport}: per call, wall p50 / p95",
                floor("wall"),
                _fmt(c["wall"]) if c else "-",
                _fmt(a["wall"]) if a else "-",
                _ratio(c and c["wall"][0], a and a["wall"][0]),
            )
        )
        rows.append(
            (
                f"{transport}:   over the bare client, wall / client CPU (median of paired calls)",
                "-",
                f"{c['wall_over']:+.3f} / {c['cpu_over']:+.3f}" if c else "-",
                f"{a['wall_over']:+.3f} / {a['cpu_over']:+.3f}" if a else "-",
                # a ratio of overheads means something only when both are above the floor
                _ratio((c and max(c["cpu_over"], 0.0)) or None, a and max(a["cpu_over"], 0.0)),
            )
        )
        m = _side(covey_side, transport, "modern")
        if m:
            rows.append(
                (
                    f"{transport}:   SDK Client on the 2026-07-28 era (mode=auto): first call p50 "
                    "/ per call p50 (over the bare client)",
                    f"{m['first'][0]:.1f} / {m['wall'][0]:.2f} ({m['wall_over']:+.2f})",
                    "-",
                    "-",
                    "-",
                )
            )
        bare_cpu = f"{b['cpu']:.3f}" if b else "-"
        rows.append(
            (
                f"{transport}: per call, client CPU (median)",
                f"{bare_cpu} ({ab['cpu']:.3f})" if ab else bare_cpu,
                f"{c['cpu']:.3f}" if c else "-",
                f"{a['cpu']:.3f}" if a else "-",
                _ratio(c and c["cpu"], a and a["cpu"]),
            )
        )
        rows.extend(_agent_rows(covey_side, agno_side, transport))
    return rows


def _agent_rows(
    covey_side: dict[str, Any] | None, agno_side: dict[str, Any] | None, transport: str
) -> list[tuple[str, ...]]:
    c = (covey_side or {}).get(transport, {}).get("agent")
    a = (agno_side or {}).get(transport, {}).get("agent")
    if c is None and a is None:
        return []

    def cell(side: dict[str, list[float]] | None, key: str) -> tuple[float, float] | None:
        return _p50_p95(side[key]) if side else None

    rows: list[tuple[str, ...]] = []
    for key, label in (
        ("cold", "agent run, toolkit connected by the run (first run of a new agent)"),
        ("held", "agent run, toolkit held open by the caller"),
        ("plain", "agent run, the same tool as a plain function (no MCP)"),
    ):
        cp, ap = cell(c, key), cell(a, key)
        rows.append(
            (
                f"{transport}: {label}, p50 / p95",
                "-",
                _fmt(cp, 1),
                _fmt(ap, 1),
                _ratio(cp and cp[0], ap and ap[0]),
            )
        )
    over = [_paired(side["held"], side["plain"]) if side else None for side in (c, a)]
    rows.append(
        (
            f"{transport}:   MCP in an agent run: held − plain (median of paired runs)",
            "-",
            "-" if over[0] is None else f"{over[0]:+.2f}",
            "-" if over[1] is None else f"{over[1]:+.2f}",
            "-",
        )
    )
    return rows


def run() -> list[tuple[str, ...]]:
    global NOTE
    NOTE = NOTE.format(rounds=ROUNDS, calls=CALLS)
    has_mcp = _installed("mcp")
    has_covey = has_mcp and _installed("covey.tools.mcp")
    agno = agno_python(MCP, "agno-mcp")
    if not has_mcp and isinstance(agno, str):
        return [(f"the mcp SDK is not installed and Agno is not available: {agno}", *"----")]
    # One interpreter runs the server for every client: Covey's when it has the SDK.
    server_python = sys.executable if has_mcp else str(agno)
    load_core, server_core = cores()
    notes: list[str] = []
    covey_side: dict[str, Any] | None = None
    agno_side: dict[str, Any] | None = None
    transports = ["stdio", "http"]
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(_http_server(server_python, server_core))
        targets = [stdio_target(server_python, server_core), Target("http", url=url)]
        base_url: str | None = None
        if _installed("covey.models.openai"):
            base_url = stack.enter_context(fake_openai(server_core))
        else:
            notes.append("covey-models-openai is not installed: no agent rows")
        if has_mcp:
            openers: dict[str, Opener] = {"bare": bare, "modern": modern}
            if has_covey:
                openers["covey"] = covey
            else:
                notes.append("covey-tools-mcp is not installed: no Covey column")
            _say(f"Covey's process: {', '.join(openers)} ({ROUNDS} rounds, {CALLS} calls)")
            with pinned(load_core):
                try:
                    covey_side = asyncio.run(_covey_side(openers, targets, base_url))
                except Exception as error:  # a failing client is a row, not the end of make bench
                    notes.append(f"Covey's process failed: {error!r}"[:300])
        else:
            notes.append("the mcp SDK is not in Covey's environment: bare column from Agno's venv")
        if isinstance(agno, str):
            notes.append(f"Agno: {agno}")
        else:
            _say("Agno's process: bare, MCPTools")
            try:
                agno_side = _agno(agno, targets, base_url, load_core)
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                notes.append(str(error)[-300:])
    rows = _rows(covey_side, agno_side, transports)
    rows.extend((note, "-", "-", "-", "-") for note in notes)
    return rows
