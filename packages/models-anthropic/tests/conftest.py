"""Fixtures: the real `anthropic` SDK over an `httpx2.MockTransport` that records every request."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

from covey.models.anthropic import AnthropicModel

BASE_URL = "https://api.anthropic.test"
API_KEY = "sk-ant-test-0123456789-SECRET"
MODEL = "claude-sonnet-4-6"

Reply = httpx2.Response | Callable[[httpx2.Request], httpx2.Response]


@dataclass
class MockAPI:
    """Scripted replies for the SDK's HTTP client, and the requests it sent."""

    BASE_URL = BASE_URL
    API_KEY = API_KEY
    MODEL = MODEL

    replies: list[Reply] = field(default_factory=list)
    requests: list[httpx2.Request] = field(default_factory=list)
    models: list[AnthropicModel] = field(default_factory=list)

    def reply_json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None):
        self.replies.append(httpx2.Response(status, json=body, headers=headers))

    def reply_sse(self, body: bytes | str, headers: dict[str, str] | None = None):
        raw = body.encode() if isinstance(body, str) else body
        self.replies.append(
            httpx2.Response(
                200, content=raw, headers={"content-type": "text/event-stream", **(headers or {})}
            )
        )

    def reply_error(
        self, status: int, error_type: str, message: str, headers: dict[str, str] | None = None
    ):
        body = {"type": "error", "error": {"type": error_type, "message": message}}
        self.replies.append(httpx2.Response(status, json=body, headers=headers))

    @staticmethod
    def sse(*events: tuple[str, dict[str, Any]]) -> bytes:
        """An event-stream body: one `event:` line and one `data:` line per event."""
        return b"".join(
            f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events
        )

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if not self.replies:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        reply = self.replies.pop(0)
        return reply(request) if callable(reply) else reply

    def model(self, name: str = MODEL, **kwargs: Any) -> AnthropicModel:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("base_url", BASE_URL)
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(self.handler))
        model = AnthropicModel(name, http_client=client, **kwargs)
        self.models.append(model)
        return model

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    @property
    def body(self) -> dict[str, Any]:
        """The JSON body of the only request sent."""
        assert len(self.requests) == 1, f"expected one request, got {len(self.requests)}"
        return self.bodies[0]


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_CUSTOM_HEADERS",
        "ANTHROPIC_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def api() -> Iterator[MockAPI]:
    mock = MockAPI()
    yield mock
    assert not mock.replies, f"{len(mock.replies)} scripted replies were never requested"
