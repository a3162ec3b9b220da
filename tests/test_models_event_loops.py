"""One agent with a provider model, run again and again from sync and async code in new event
loops: `run_sync` three times, `asyncio.run(agent.run(...))` twice, `run_sync` again. Every run
answers, whatever loop the one before it used (scripts, notebooks and loops do exactly this).

Each run goes through the real provider SDK to that provider's loopback fake server; the
adapter builds one SDK client per event loop and closes it when that loop shuts down.
"""

from __future__ import annotations

import asyncio
import gc
import os
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import pytest

from covey.core import Agent, RunStatus
from covey.spec.models import ChatModel

KEY = "sk-loops-0123456789abcdef"
ServerT = TypeVar("ServerT")


def _keep_alive(server: type[ServerT]) -> type[ServerT]:
    """The fake server speaking HTTP/1.1 with keep-alive, as every provider's API does: the
    SDK then reuses connections, which is what ties a client to its event loop."""
    return type(f"KeepAlive{server.__name__}", (server,), {"protocol_version": "HTTP/1.1"})


@contextmanager
def openai_chat() -> Iterator[ChatModel]:
    from covey.models.openai import OpenAIChatModel
    from covey.models.openai.testing import FakeOpenAIServer

    with _keep_alive(FakeOpenAIServer)() as server:
        yield OpenAIChatModel("gpt-4.1", api_key=KEY, base_url=server.url)


@contextmanager
def openai_responses() -> Iterator[ChatModel]:
    from covey.models.openai import OpenAIResponsesModel
    from covey.models.openai.testing import FakeOpenAIServer

    with _keep_alive(FakeOpenAIServer)() as server:
        yield OpenAIResponsesModel("gpt-4.1", api_key=KEY, base_url=server.url)


@contextmanager
def anthropic() -> Iterator[ChatModel]:
    from covey.models.anthropic import AnthropicModel
    from covey.models.anthropic.testing import FakeAnthropicServer, text_message

    with _keep_alive(FakeAnthropicServer)(lambda request: text_message("Echo: hello")) as server:
        yield AnthropicModel("claude-sonnet-4-6", api_key=KEY, base_url=server.url)


@contextmanager
def google() -> Iterator[ChatModel]:
    from covey.models.google import GoogleModel
    from covey.models.google.testing import FakeGeminiServer

    with FakeGeminiServer() as server:
        yield GoogleModel("gemini-2.5-flash", api_key=KEY, base_url=server.url)


PROVIDERS: dict[str, Callable[[], AbstractContextManager[ChatModel]]] = {
    "openai-chat": openai_chat,
    "openai-responses": openai_responses,
    "anthropic": anthropic,
    "google": google,
}


def _open_sockets() -> int:
    return sum(
        1 for fd in os.listdir("/proc/self/fd") if "socket" in _readlink(f"/proc/self/fd/{fd}")
    )


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


@pytest.mark.parametrize("provider", list(PROVIDERS))
def test_sync_and_async_runs_in_any_loop_and_order(provider: str) -> None:
    # Garbage other tests left (collected here, it would warn inside this test's strict block)
    # is theirs: only what these runs leave behind counts.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    with PROVIDERS[provider]() as model, warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        agent = Agent(model=model, instructions="Be brief.")
        before = _open_sockets()
        results: list[Any] = []
        for _ in range(3):
            results.append(agent.run_sync("hello"))
        for _ in range(2):
            results.append(asyncio.run(agent.run("hello")))
        results.append(agent.run_sync("hello"))
        for number, result in enumerate(results, 1):
            assert result.status is RunStatus.COMPLETED, f"run {number}: {result.error}"
            assert "hello" in str(result.output).lower(), f"run {number}: {result.output!r}"
        gc.collect()
        # Each loop's client was closed with its loop: no socket is left behind.
        assert _open_sockets() <= before
