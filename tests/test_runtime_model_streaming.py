"""The runtime asks the provider for a streamed response only when someone reads the deltas.

A run answered as JSON sends a plain Chat Completions request (no `stream`); an SSE run, a
WebSocket run and a background run (whose followers may attach) send `"stream": true`. The
runtime is served over real HTTP; the real openai SDK talks to the loopback fake server.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.sync.client import connect

from covey.core import Agent
from covey.models.openai import OpenAIChatModel
from covey.models.openai.testing import FakeOpenAIServer
from covey.runtime import Registry, RuntimeSettings, create_app
from covey.testing import InMemoryStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served() -> Iterator[tuple[FakeOpenAIServer, httpx.Client]]:
    """A runtime serving agent `echo` (an OpenAI chat model on the fake server)."""
    with FakeOpenAIServer() as fake:
        model = OpenAIChatModel("gpt-4.1", api_key="sk-test", base_url=fake.url)
        app = create_app(
            RuntimeSettings(store="memory://", shutdown_grace=1.0),
            registry=Registry([Agent(name="echo", model=model)]),
            store=InMemoryStore(),
        )
        config = uvicorn.Config(
            app, host="127.0.0.1", port=_free_port(), log_level="warning", lifespan="on"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        client = httpx.Client(base_url=f"http://127.0.0.1:{config.port}", timeout=30)
        try:
            yield fake, client
        finally:
            client.close()
            server.should_exit = True
            thread.join(30)


def _sent(fake: FakeOpenAIServer) -> list[dict[str, Any]]:
    return [r.json for r in fake.requests if r.path.endswith("/chat/completions")]


def _sse_types(response: httpx.Response) -> list[str]:
    return [
        line[len("event: ") :] for line in response.text.splitlines() if line.startswith("event: ")
    ]


def test_a_json_run_sends_a_plain_request_and_has_no_deltas(
    served: tuple[FakeOpenAIServer, httpx.Client],
) -> None:
    fake, client = served
    answer = client.post("/v1/agents/echo/runs", json={"input": "hello"})
    assert answer.status_code == 200, answer.text
    run = answer.json()
    assert run["status"] == "completed"
    assert run["output"] == "Echo: hello"
    [body] = _sent(fake)
    assert "stream" not in body and "stream_options" not in body
    events = client.get(f"/v1/runs/{run['run_id']}/events")
    types = _sse_types(events)
    assert types[0] == "run.started" and types[-1] == "run.completed"
    assert "model_request.completed" in types
    assert "text.delta" not in types


@pytest.mark.parametrize("how", ["body", "accept"])
def test_an_sse_run_streams_the_model_request(
    served: tuple[FakeOpenAIServer, httpx.Client], how: str
) -> None:
    fake, client = served
    if how == "body":
        answer = client.post("/v1/agents/echo/runs", json={"input": "hello", "stream": True})
    else:
        answer = client.post(
            "/v1/agents/echo/runs",
            json={"input": "hello"},
            headers={"accept": "text/event-stream"},
        )
    assert answer.status_code == 200, answer.text
    types = _sse_types(answer)
    assert "text.delta" in types and types[-1] == "run.completed"
    [body] = _sent(fake)
    assert body["stream"] is True


def test_a_background_run_streams_for_its_followers(
    served: tuple[FakeOpenAIServer, httpx.Client],
) -> None:
    fake, client = served
    answer = client.post("/v1/agents/echo/runs", json={"input": "hello", "background": True})
    assert answer.status_code == 202, answer.text
    events = client.get(answer.json()["events_url"])
    assert "text.delta" in _sse_types(events)
    [body] = _sent(fake)
    assert body["stream"] is True


def test_a_websocket_run_streams_the_model_request(
    served: tuple[FakeOpenAIServer, httpx.Client],
) -> None:
    fake, client = served
    url = str(client.base_url).replace("http://", "ws://") + "/v1/agents/echo/ws"
    with connect(url) as ws:
        ws.send(json.dumps({"type": "run", "input": "hello"}))
        types: list[str] = []
        while not types or types[-1] != "run.completed":
            types.append(json.loads(ws.recv(timeout=20))["type"])
    assert "text.delta" in types
    [body] = _sent(fake)
    assert body["stream"] is True
