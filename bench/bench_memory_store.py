"""`memory://`: covey-db-memory's `MemoryStore` against the test double it replaced.

`covey.testing.InMemoryStore` copies every record through JSON on every call, in and out;
`MemoryStore` validates a record once when it is written and hands out copies that share what
is immutable. Each row is the CPU time of one call (median of several batches), for:

- save/get run: a finished run with 4 messages (a tool call and its result), as the run loop
  writes it and the runtime reads it back.
- append/list events: a batch of 8 events (7 text deltas and a tool call) appended, then the
  run's newest 64 events listed, as a client re-attaching with `Last-Event-ID` reads them.
- save/get session: a session with a small state dict.
- load a 20-run session's context: `list_runs(session_id=...)`, as a run does before calling
  the model.

Run alone with `uv run python bench/bench_memory_store.py`.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

TITLE = "memory:// store: MemoryStore (covey-db-memory) vs InMemoryStore (test double)"
HEADER = ("operation", "InMemoryStore µs", "MemoryStore µs", "speed-up")

NUMBER = 300
REPEAT = 5


def _messages(run_id: str) -> list[Any]:
    from covey.spec.messages import (
        ModelRequest,
        ModelResponse,
        TextPart,
        ToolCallPart,
        ToolReturnPart,
        UserPart,
    )
    from covey.spec.usage import Usage

    return [
        ModelRequest(parts=[UserPart(content="Question: " + "words " * 40)], run_id=run_id),
        ModelResponse(
            parts=[ToolCallPart(tool_name="search", args={"q": "covey"}, tool_call_id="c1")],
            usage=Usage(input_tokens=300, output_tokens=20, requests=1),
            run_id=run_id,
        ),
        ModelRequest(
            parts=[ToolReturnPart(tool_name="search", content="result " * 60, tool_call_id="c1")],
            run_id=run_id,
        ),
        ModelResponse(parts=[TextPart(content="Answer " * 50)], run_id=run_id),
    ]


async def _cpu_us(call: Callable[[int], Awaitable[object]]) -> float:
    samples: list[float] = []
    for batch in range(REPEAT):
        started = time.process_time()
        for i in range(NUMBER):
            await call(batch * NUMBER + i)
        samples.append((time.process_time() - started) / NUMBER * 1e6)
    return statistics.median(samples)


async def _measure(store: Any) -> dict[str, float]:
    from covey.spec.events import TextDelta, ToolCallStarted
    from covey.spec.runs import RunStatus
    from covey.spec.store import Run, Scope, Session

    scope = Scope("bench", "user")
    out: dict[str, float] = {}
    run = Run(id="r", session_id="s", status=RunStatus.COMPLETED, messages=_messages("r"))

    async def save_get_run(i: int) -> None:
        await store.save_run(scope, run)
        await store.get_run(scope, "r")

    out["save + get a run (4 messages)"] = await _cpu_us(save_get_run)

    await store.save_run(scope, Run(id="log"))

    async def append_list(i: int) -> None:
        base = i * 8
        batch: list[Any] = [
            ToolCallStarted(
                run_id="log", seq=base + 1, tool_call_id=f"c{i}", tool_name="search", args={"q": i}
            ),
            *(TextDelta(run_id="log", seq=base + k, delta="token ") for k in range(2, 9)),
        ]
        await store.append_events(scope, "log", batch)
        await store.list_events(scope, "log", after_seq=max(0, base + 8 - 64))

    out["append 8 events + list the newest 64"] = await _cpu_us(append_list)

    session = Session(id="s", state={"cart": [{"sku": "A1", "qty": 2}], "plan": "pro"})

    async def save_get_session(i: int) -> None:
        await store.save_session(scope, session, expected_version=None)
        await store.get_session(scope, "s")

    out["save + get a session"] = await _cpu_us(save_get_session)

    for k in range(20):
        run_id = f"ctx-{k}"
        await store.save_run(
            scope,
            Run(
                id=run_id, session_id="ctx", status=RunStatus.COMPLETED, messages=_messages(run_id)
            ),
        )

    async def context(i: int) -> None:
        page = await store.list_runs(scope, session_id="ctx")
        assert len(page.items) == 20

    out["list a 20-run session (context load)"] = await _cpu_us(context)
    return out


def run() -> list[tuple[str, ...]]:
    from covey.db.memory import MemoryStore
    from covey.testing import InMemoryStore

    before = asyncio.run(_measure(InMemoryStore()))
    after = asyncio.run(_measure(MemoryStore()))
    return [
        (name, f"{before[name]:,.0f}", f"{after[name]:,.0f}", f"{before[name] / after[name]:.1f}x")
        for name in before
    ]


if __name__ == "__main__":
    rows = run()
    widths = [max(len(str(r[i])) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    print(f"## {TITLE}")
    for row in [HEADER, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
