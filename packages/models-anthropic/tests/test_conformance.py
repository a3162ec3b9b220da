"""`ChatModelSuite` from covey-conformance, against the loopback `FakeAnthropicServer`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from covey.conformance import ChatModelSuite, ScriptedToolCall
from covey.models.anthropic import AnthropicModel
from covey.models.anthropic.testing import FakeAnthropicServer, FakeResponse, message, text_message

KEY = "sk-ant-conformance-0123456789abcdef"


@pytest.fixture
def fake_anthropic_server() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer(api_key=KEY) as server:
        yield server


_ERROR_TYPES = {401: "authentication_error", 403: "permission_error", 429: "rate_limit_error"}


class AnthropicScript:
    """`ChatScript` over `FakeAnthropicServer` (a `Message` is streamed when the request asks)."""

    def __init__(self, server: FakeAnthropicServer) -> None:
        self.server = server

    def text(self, text: str) -> None:
        self.server.add(text_message(text))

    def tool_calls(self, calls: Sequence[ScriptedToolCall]) -> None:
        blocks = [
            {"type": "tool_use", "id": c.call_id, "name": c.name, "input": dict(c.arguments)}
            for c in calls
        ]
        self.server.add(message(blocks, stop_reason="tool_use"))

    def error(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        self.server.add(FakeResponse.error(status, kind, message, headers=headers))

    def context_overflow(self) -> None:
        self.server.add(
            FakeResponse.error(
                400, "invalid_request_error", "prompt is too long: 215000 tokens > 200000 maximum"
            )
        )


class TestAnthropicChat(ChatModelSuite):
    @pytest.fixture
    def chat_model(self, fake_anthropic_server: FakeAnthropicServer) -> AnthropicModel:
        return AnthropicModel("claude-sonnet-4-6", api_key=KEY, base_url=fake_anthropic_server.url)

    @pytest.fixture
    def secret_values(self) -> list[str]:
        return [KEY]

    @pytest.fixture
    def chat_script(self, fake_anthropic_server: FakeAnthropicServer) -> AnthropicScript:
        return AnthropicScript(fake_anthropic_server)
