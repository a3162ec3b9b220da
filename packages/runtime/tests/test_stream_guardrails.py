"""A streamed answer behind a masking output guardrail, over real HTTP: the SSE client, the
AG-UI client and a replay of the stored event log never get the raw values the model wrote,
however its deltas split them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from runtime_helpers import ThreadServer, read_sse

from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel
from covey.runtime import Registry, RuntimeSettings, create_app, open_store
from covey.spec import ModelRequest, ModelResponse

guardrails = pytest.importorskip("covey.guardrails")

EMAIL = "jane.doe@example.com"
IBAN = "GB82 WEST 1234 5698 7654 32"
PHONE = "+44 20 7946 0958"
ANSWER = (
    f"Write to {EMAIL} for billing, or call {PHONE} on weekdays.\n"
    f"Refunds are paid to {IBAN} within a week. Anything else I can do for you today?"
)
MASKED = (
    "Write to [EMAIL] for billing, or call [PHONE] on weekdays.\n"
    "Refunds are paid to [IBAN] within a week. Anything else I can do for you today?"
)
RAW = [EMAIL, IBAN, PHONE, "jane.doe", "WEST 1234", "7946"]


_VOLATILE = re.compile(r'"[0-9a-f]{32}"|"\d{4}-\d\d-\d\dT[\d:.]+Z?"')
"""Run ids and timestamps, which may hold any four digits by chance."""


async def _stream(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> Any:
    for at in range(0, len(ANSWER), 3):
        yield ANSWER[at : at + 3]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    db = tmp_path_factory.mktemp("streamguard") / "covey.db"
    agents = [
        Agent(
            name="masked",
            model=FunctionModel(stream_function=_stream),
            post_hooks=[guardrails.PIIGuardrail()],
        ),
        Agent(
            name="blocked",
            model=FunctionModel(stream_function=_stream),
            post_hooks=[guardrails.PIIGuardrail(action="block")],
        ),
    ]
    app = create_app(
        RuntimeSettings(store="memory://"),
        registry=Registry(agents),
        store=open_store(f"sqlite:///{db}"),
    )
    running = ThreadServer(app).start()
    try:
        yield running
    finally:
        running.stop()


def _post_sse(client: httpx.Client, path: str, body: Any) -> tuple[str, list[Any]]:
    with client.stream("POST", path, json=body, headers={"Accept": "text/event-stream"}) as resp:
        assert resp.status_code == 200, resp.read()
        raw = resp.read().decode()
    return raw, [e.data for e in read_sse(iter(raw.split("\n")))]


def _leaks(raw: str) -> list[str]:
    raw = _VOLATILE.sub('""', raw)
    return [value for value in RAW if value in raw]


def test_sse_clients_and_the_replayed_log_never_see_the_raw_values(server: ThreadServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        raw, events = _post_sse(client, "/v1/agents/masked/runs", {"input": "hi", "stream": True})
        assert _leaks(raw) == []
        deltas = [e["delta"] for e in events if e["type"] == "text.delta"]
        assert len(deltas) > 1 and "".join(deltas) == MASKED
        assert events[-1]["type"] == "run.completed"
        assert events[-1]["result"]["output"] == MASKED
        run_id = events[-1]["run_id"]
        with client.stream("GET", f"/v1/runs/{run_id}/events") as replay:
            assert replay.status_code == 200
            replayed = replay.read().decode()
        assert "text.delta" in replayed and _leaks(replayed) == []


def test_a_blocked_stream_sends_the_trip_and_none_of_the_values(server: ThreadServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        raw, events = _post_sse(client, "/v1/agents/blocked/runs", {"input": "hi", "stream": True})
    assert _leaks(raw) == []
    assert [e["type"] for e in events][-2:] == ["guardrail.tripped", "run.failed"]
    assert events[-1]["result"]["error"]["details"] == {
        "reason": "personal data found: 1 email",
        "guardrail": "pii",
        "stage": "output",
    }


def test_agui_clients_never_see_the_raw_values(server: ThreadServer) -> None:
    body = {
        "threadId": "t-stream",
        "runId": "client-run-1",
        "messages": [{"id": "m1", "role": "user", "content": "hi"}],
        "tools": [],
        "context": [],
        "forwardedProps": {},
    }
    with httpx.Client(base_url=server.url, timeout=30) as client:
        raw, events = _post_sse(client, "/v1/agui/agents/masked", body)
    assert _leaks(raw) == []
    content = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert content == MASKED
    assert events[-1]["type"] == "RUN_FINISHED"
