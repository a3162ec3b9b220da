"""A Covey agent calls an agent a Covey runtime serves over A2A (JWT auth on), end to end on
loopback: the client toolset against the runtime's A2A server."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import jwt
import pytest
import uvicorn
from a2a.client.errors import AgentCardResolutionError

from covey.core import Agent
from covey.core.testing import FunctionModel, TestModel
from covey.runtime import Registry, RuntimeSettings, create_app
from covey.spec import ModelRequest, ModelResponse, TextPart
from covey.tools.a2a import A2AToolset

SECRET = "a2a-test-secret-a2a-test-secret-0123456789"


def _shout(messages: list[ModelRequest | ModelResponse], info: Any) -> ModelResponse:
    prompt = next(
        p.content for p in messages[-1].parts if p.kind == "user" and isinstance(p.content, str)
    )
    return ModelResponse(parts=[TextPart(content=prompt.upper())])


def _serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline
        time.sleep(0.01)
    return server, thread, f"http://127.0.0.1:{port}"


async def test_a_covey_agent_asks_a_covey_served_agent() -> None:
    remote = Agent(name="shouter", model=FunctionModel(_shout), description="Shouts back.")
    app = create_app(
        RuntimeSettings(store="memory://", auth="jwt", jwt_secret=SECRET),
        registry=Registry([remote]),
    )
    server, thread, url = _serve(app)
    try:
        now = int(time.time())
        token = jwt.encode(
            {
                "sub": "bob",
                "tenant": "acme",
                "scope": "agents:read agents:run",
                "iat": now,
                "exp": now + 600,
            },
            SECRET,
            algorithm="HS256",
        )
        toolset = A2AToolset(f"{url}/a2a/shouter", token=token)
        local = Agent(model=TestModel(call_tools=["ask_shouter"]), tools=[toolset])
        result = await local.run("relay this")
        [call] = result.tool_calls
        assert call.tool_name == "ask_shouter"
        # TestModel sends a generated message; the remote agent shouted it back.
        sent = call.args["message"]
        assert call.result == sent.upper()
        # Without the token the card is refused: the toolset cannot even start.
        refused = A2AToolset(f"{url}/a2a/shouter")
        with pytest.raises(AgentCardResolutionError, match="401"):
            await refused.__aenter__()
    finally:
        server.should_exit = True
        thread.join(30)
