"""Served agents that learn, over real HTTP: an agent with `MemoryManager` (and no store of its
own: it uses the runtime's) served with JWT auth. The answer and its SSE stream do not wait for
the memory model; the memory lands with the run id that caused it, in the run's event log after
`run.completed`, visible to its user only, and in the system prompt of the user's next run. At
shutdown the runtime waits for background learning (`learning_grace`), and learning cut off
there leaves `learning.failed` in the run's log."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from runtime_helpers import read_sse
from test_auth import ALL, SECRET, bearer, token

from covey.core import Agent, Workflow, wait_for_learning
from covey.core.testing import AgentInfo, FunctionModel
from covey.learn import MemoryManager
from covey.runtime import Registry, open_store
from covey.spec import ModelRequest, ModelResponse, SystemPart, TextPart, ToolCallPart, UserPart
from covey.spec.store import Scope, Store

JWT: dict[str, Any] = {
    "auth": "jwt",
    "jwt_secret": SECRET,
    "jwt_audience": "covey-api",
    "jwt_issuer": "https://issuer",
}
ACME_ALICE = Scope("acme", "alice")


def who(sub: str, tenant: str = "acme") -> dict[str, str]:
    return bearer(token(sub, tenant=tenant, scope=ALL, aud="covey-api", iss="https://issuer"))


ALICE, BOB, ALICE_GLOBEX = who("alice"), who("bob"), who("alice", "globex")

Messages = list[ModelRequest | ModelResponse]


def _text(messages: Messages, kind: type[Any]) -> str:
    return "\n".join(
        str(part.content)
        for message in messages
        for part in message.parts
        if isinstance(part, kind)
    )


class Served:
    """The served assistant, its memory model (held by `gate` when one is given) and the
    server loop it runs in (to await that loop's background learning from the test)."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.loop: asyncio.AbstractEventLoop | None = None
        self.memory_calls = 0

    async def chat(self, messages: Messages, info: AgentInfo) -> ModelResponse:
        self.loop = asyncio.get_running_loop()
        known = _text(messages, SystemPart)
        return ModelResponse(parts=[TextPart(content=f"Answered. Known: {known or 'nothing'}")])

    async def memory(self, messages: Messages, info: AgentInfo) -> ModelResponse:
        self.memory_calls += 1
        if self.gate is not None:
            await anyio.to_thread.run_sync(self.gate.wait, abandon_on_cancel=True)
        said = _text(messages, UserPart)
        ops: list[dict[str, Any]] = [{"op": "none"}]
        if "I live in Lyon" in said:
            ops = [{"op": "create", "memory": "The user lives in Lyon.", "topics": ["home"]}]
        call = ToolCallPart(
            tool_name=info.output_tools[0].name, args={"operations": ops}, tool_call_id="m"
        )
        return ModelResponse(parts=[call])

    def registry(self) -> Registry:
        # No store=: a served agent runs on the runtime's store, and so does its learner.
        manager = MemoryManager(FunctionModel(self.memory))
        assistant = Agent(name="assistant", model=FunctionModel(self.chat), learning=manager)
        return Registry([assistant, Workflow(name="ask", steps=[assistant], learning=manager)])

    def settle(self) -> int:
        """Wait for the background learning of the server's loop (the memory model's work)."""
        assert self.loop is not None, "no run reached the chat model yet"
        future = asyncio.run_coroutine_threadsafe(wait_for_learning(within=10), self.loop)
        return future.result(timeout=15)


def _read(url: str, fn: Any) -> Any:
    async def main() -> Any:
        async with open_store(url) as store:
            return await fn(store)

    return anyio.run(main)


async def _memories(store: Store) -> list[Any]:
    return list((await store.list_memories(ACME_ALICE)).items)


def _run(api: httpx.Client, text: str, headers: dict[str, str]) -> dict[str, Any]:
    response = api.post("/v1/agents/assistant/runs", json={"input": text}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed", body
    return body


def _event_types(api: httpx.Client, run_id: str, headers: dict[str, str]) -> list[str]:
    """The run's stored log, over SSE. The servers here poll the store every 10 s: a follower
    that waited for another final event after the learning ones would time out."""
    with api.stream("GET", f"/v1/runs/{run_id}/events", headers=headers, timeout=5) as response:
        assert response.status_code == 200, response.read()
        events = list(read_sse(response.iter_lines()))
    # A workflow's stream carries its steps' runs too: keep the run's own events.
    return [e.event or "" for e in events if e.data["run_id"] == run_id]


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the SQLite store")
    return f"sqlite:///{tmp_path / 'covey.db'}"


def test_a_served_agent_learns_about_its_user_after_answering(serve: Any, sqlite_url: str) -> None:
    gate = threading.Event()
    served = Served(gate)
    _, api = serve(
        store=open_store(sqlite_url), registry=served.registry(), poll_interval=10, **JWT
    )
    # The SSE client gets its whole stream while the memory model is still held.
    with api.stream(
        "POST",
        "/v1/agents/assistant/runs",
        json={"input": "I live in Lyon", "stream": True},
        headers=ALICE,
    ) as response:
        assert response.status_code == 200, response.read()
        streamed = list(read_sse(response.iter_lines()))
    assert streamed[-1].event == "run.completed", streamed[-1].data["result"]["error"]
    assert not any((e.event or "").startswith("learning.") for e in streamed)
    run_id = streamed[-1].data["run_id"]
    assert api.get("/v1/memories", headers=ALICE).json()["items"] == []

    gate.set()
    assert served.settle() == 0
    assert _event_types(api, run_id, ALICE)[-3:] == [
        "run.completed",
        "learning.changed",
        "learning.completed",
    ]
    [memory] = api.get("/v1/memories", headers=ALICE).json()["items"]
    assert (memory["memory"], memory["topics"]) == ("The user lives in Lyon.", ["home"])
    assert memory["metadata"]["run_id"] == run_id
    assert memory["user_id"] == "alice"
    # Nobody else sees it: not another user of the tenant, not the same name in another tenant.
    assert api.get("/v1/memories", headers=BOB).json()["items"] == []
    assert api.get("/v1/memories", headers=ALICE_GLOBEX).json()["items"] == []
    assert api.get(f"/v1/runs/{run_id}/events", headers=BOB).status_code == 404

    # The user's next run (a new session) starts knowing it; another user's does not.
    again = _run(api, "Where should I eat tonight?", ALICE)
    assert "The user lives in Lyon." in again["output"]
    for other in (BOB, ALICE_GLOBEX):
        assert "Lyon" not in _run(api, "Where should I eat tonight?", other)["output"]
    assert served.settle() == 0
    assert served.memory_calls == 4


@pytest.fixture
def shutdown_started() -> Iterator[threading.Event]:
    """Set when the runtime starts waiting for background learning at shutdown."""
    started = threading.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "for background learning" in record.getMessage():
                started.set()

    logger = logging.getLogger("covey.runtime")
    handler, level = Watch(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield started
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_shutdown_waits_for_background_learning(
    serve: Any, sqlite_url: str, shutdown_started: threading.Event
) -> None:
    # The memory model answers only once the server is stopping: the memory is there after the
    # stop only because the runtime waited for it.
    served = Served(shutdown_started)
    server, api = serve(
        store=open_store(sqlite_url), registry=served.registry(), learning_grace=20, **JWT
    )
    run_id = _run(api, "I live in Lyon", ALICE)["run_id"]
    api.close()
    server.stop()
    assert shutdown_started.is_set()
    [memory] = _read(sqlite_url, _memories)
    assert memory.metadata["run_id"] == run_id

    async def log(store: Store) -> list[str]:
        return [e.type for e in await store.list_events(ACME_ALICE, run_id)]

    assert _read(sqlite_url, log)[-3:] == [
        "run.completed",
        "learning.changed",
        "learning.completed",
    ]


def test_learning_cut_off_at_shutdown_leaves_a_trace(serve: Any, sqlite_url: str) -> None:
    never = threading.Event()
    served = Served(never)
    server, api = serve(
        store=open_store(sqlite_url), registry=served.registry(), learning_grace=0.1, **JWT
    )
    run_id = _run(api, "I live in Lyon", ALICE)["run_id"]
    api.close()
    try:
        server.stop()
    finally:
        never.set()  # frees the abandoned memory-model thread
    assert served.memory_calls == 1

    async def log(store: Store) -> list[Any]:
        return list(await store.list_events(ACME_ALICE, run_id))

    last = _read(sqlite_url, log)[-1]
    assert (last.type, last.learner, last.error) == ("learning.failed", "memory", "Cancelled")
    assert _read(sqlite_url, _memories) == []


def test_a_served_workflow_learns_and_its_log_ends(serve: Any, sqlite_url: str) -> None:
    served = Served()
    _, api = serve(
        store=open_store(sqlite_url), registry=served.registry(), poll_interval=10, **JWT
    )
    response = api.post("/v1/workflows/ask/runs", json={"input": "I live in Lyon"}, headers=ALICE)
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "completed"
    assert served.settle() == 0
    # The step's agent and the workflow each learned from their own run (2 memory calls).
    assert served.memory_calls == 2
    log = _event_types(api, run["run_id"], ALICE)
    assert log[-3:] == ["run.completed", "learning.changed", "learning.completed"]
    runs = {m["metadata"]["run_id"] for m in api.get("/v1/memories", headers=ALICE).json()["items"]}
    assert run["run_id"] in runs
    assert api.get("/v1/memories", headers=BOB).json()["items"] == []
