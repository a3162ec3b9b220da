"""Shared helpers: an `httpx2.MockTransport` that scripts wire responses and records requests.

Tests drive the real `openai` SDK through it: the SDK builds and sends the HTTP request, the mock
answers with JSON or SSE written from OpenAI's API reference.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import httpx2
import pytest

Handler = Callable[[httpx2.Request], httpx2.Response]


def _sse(*events: dict[str, Any] | str) -> httpx2.Response:
    """A Chat Completions stream: `data: <json>` per event (a string is sent as is)."""
    lines = [f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events]
    return httpx2.Response(
        200, content="".join(lines).encode(), headers={"content-type": "text/event-stream"}
    )


def _typed_sse(*events: dict[str, Any]) -> httpx2.Response:
    """A Responses stream: `event: <type>` and `data: <json>` per event."""
    lines = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events]
    return httpx2.Response(
        200, content="".join(lines).encode(), headers={"content-type": "text/event-stream"}
    )


class MockOpenAI:
    """Answers each request with the next scripted response; records every request."""

    def __init__(self, responses: Iterable[httpx2.Response | Handler]) -> None:
        self._responses = list(responses)
        self.requests: list[httpx2.Request] = []
        self.client = httpx2.AsyncClient(transport=httpx2.MockTransport(self._handle))

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if not self._responses:
            raise AssertionError(f"unexpected extra request {request.method} {request.url}")
        answer = self._responses.pop(0)
        return answer(request) if callable(answer) else answer

    def body(self, index: int = -1) -> Any:
        """The JSON body of request `index`."""
        return json.loads(self.requests[index].content)

    @property
    def path(self) -> str:
        """The URL path of the last request."""
        return self.requests[-1].url.path


@pytest.fixture
async def mock_openai() -> AsyncIterator[Callable[..., MockOpenAI]]:
    """`mock_openai(response, ...)` -> a `MockOpenAI`; its client is closed after the test."""
    made: list[MockOpenAI] = []

    def make(*responses: httpx2.Response | Handler) -> MockOpenAI:
        mock = MockOpenAI(responses)
        made.append(mock)
        return mock

    yield make
    for mock in made:
        await mock.client.aclose()


@pytest.fixture(autouse=True)
def _clean_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's keys or base URLs."""
    import os

    for name in list(os.environ):
        if name.endswith(("_API_KEY", "_BASE_URL")) or name.startswith(("OPENAI_", "AZURE_")):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sse() -> Callable[..., httpx2.Response]:
    """`sse(chunk, ..., "[DONE]")` -> a Chat Completions SSE response."""
    return _sse


@pytest.fixture
def typed_sse() -> Callable[..., httpx2.Response]:
    """`typed_sse(event, ...)` -> a Responses SSE response (`event:` + `data:` lines)."""
    return _typed_sse
