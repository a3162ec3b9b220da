"""`SqlStore` on SQLite and PostgreSQL: the event-log write rate and the session-context read.

- events/s: one run appends its events in batches of 8, each batch followed by a heartbeat,
  as the run loop does at every step boundary.
- context load: what a run does before calling the model in a session of 100 earlier runs —
  `get_session`, then `list_runs` page by page, decoding every stored message.

SQLite uses a file in a temporary folder; PostgreSQL a throwaway cluster on loopback with its
default (durable) settings. Each measurement stops after a fixed time; the whole section takes
well under a minute.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from typing import Any

TITLE = "Store (covey-db-sql): event log writes and session context reads"
HEADER = ("database", "measure", "value")

BATCH = 8
WRITE_SECONDS = 3.0
RUNS_IN_SESSION = 100
READ_REPEATS = 15


def _messages(run_id: str, i: int) -> list[Any]:
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
        ModelRequest(parts=[UserPart(content=f"Question {i}: " + "words " * 40)], run_id=run_id),
        ModelResponse(
            parts=[ToolCallPart(tool_name="search", args={"q": f"q{i}"}, tool_call_id="c1")],
            usage=Usage(input_tokens=300, output_tokens=20, requests=1),
            run_id=run_id,
        ),
        ModelRequest(
            parts=[ToolReturnPart(tool_name="search", content="result " * 60, tool_call_id="c1")],
            run_id=run_id,
        ),
        ModelResponse(parts=[TextPart(content="Answer " * 50)], run_id=run_id),
    ]


async def _measure(url: str) -> list[tuple[str, str]]:
    from covey.db.sql import SqlStore
    from covey.spec.events import TextDelta, ToolCallStarted
    from covey.spec.runs import RunStatus
    from covey.spec.store import Run, Scope, Session

    scope = Scope("bench", "user")
    rows: list[tuple[str, str]] = []
    async with SqlStore(url) as store:
        await store.migrate()

        # Event log: batches as the run loop sends them, a heartbeat after each.
        await store.save_run(scope, Run(id="writer"))
        seq = 0
        events = 0
        started = time.perf_counter()
        while time.perf_counter() - started < WRITE_SECONDS:
            batch: list[Any] = []
            for _ in range(BATCH):
                seq += 1
                if seq % BATCH == 1:
                    batch.append(
                        ToolCallStarted(
                            run_id="writer", seq=seq, tool_call_id=f"c{seq}", tool_name="search"
                        )
                    )
                else:
                    batch.append(TextDelta(run_id="writer", seq=seq, delta="token "))
            await store.append_events(scope, "writer", batch)
            await store.heartbeat(scope, "writer")
            events += len(batch)
        elapsed = time.perf_counter() - started
        rows.append(("events appended/s (batches of 8 + heartbeat)", f"{events / elapsed:,.0f}"))

        # Session context: 100 earlier runs with 4 messages each.
        await store.save_session(scope, Session(id="ctx", state={"k": 1}), expected_version=0)
        for i in range(RUNS_IN_SESSION):
            run_id = f"ctx-{i:03d}"
            await store.save_run(
                scope,
                Run(
                    id=run_id,
                    session_id="ctx",
                    status=RunStatus.COMPLETED,
                    messages=_messages(run_id, i),
                ),
            )
        samples: list[float] = []
        for _ in range(READ_REPEATS):
            t = time.perf_counter()
            await store.get_session(scope, "ctx")
            messages = 0
            cursor: str | None = None
            while True:
                page = await store.list_runs(scope, session_id="ctx", cursor=cursor)
                messages += sum(len(r.messages) for r in page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
            samples.append((time.perf_counter() - t) * 1000)
            assert messages == 4 * RUNS_IN_SESSION
        rows.append(
            (
                f"load a {RUNS_IN_SESSION}-run session's context, ms (median)",
                f"{statistics.median(samples):.1f}",
            )
        )
    return rows


def run() -> list[tuple[str, ...]]:
    try:
        from covey.db.sql.testing import PostgresCluster, PostgresUnavailableError
    except ImportError:
        return [("-", "covey-db-sql", "not installed")]
    table: list[tuple[str, ...]] = []
    with tempfile.TemporaryDirectory() as folder:
        for measure, value in asyncio.run(_measure(f"sqlite:///{folder}/bench.db")):
            table.append(("sqlite (file, WAL)", measure, value))
    try:
        with PostgresCluster() as cluster:
            url = cluster.create_database("bench")
            for measure, value in asyncio.run(_measure(url)):
                table.append(("postgresql (loopback)", measure, value))
    except PostgresUnavailableError as e:
        table.append(("postgresql", "not available", str(e).splitlines()[0]))
    return table
