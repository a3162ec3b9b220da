"""`ChatModelSuite` from covey-conformance, against the loopback `FakeAnthropicServer`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from covey.conformance import ChatModelSuite
from covey.models.anthropic import AnthropicModel
from covey.models.anthropic.testing import FakeAnthropicServer

KEY = "sk-ant-conformance-0123456789abcdef"


@pytest.fixture
def fake_anthropic_server() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer(api_key=KEY) as server:
        yield server


class TestAnthropicChat(ChatModelSuite):
    @pytest.fixture
    def chat_model(self, fake_anthropic_server: FakeAnthropicServer) -> AnthropicModel:
        return AnthropicModel("claude-sonnet-4-6", api_key=KEY, base_url=fake_anthropic_server.url)

    @pytest.fixture
    def secret_values(self) -> list[str]:
        return [KEY]
