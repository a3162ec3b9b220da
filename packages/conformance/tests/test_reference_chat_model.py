"""The reference `EchoChatModel` passes `ChatModelSuite`.

It has no backend to script, so the tests that need `chat_script` (tool calls, error mapping,
structured output, secret scrubbing: where HTTP adapters differ) are expected to fail here, with
that reason; the provider packages run them against their fake servers.
"""

from __future__ import annotations

import pytest

from covey.conformance import ChatModelSuite, ChatScript
from covey.spec.models import ChatModel
from covey.testing import EchoChatModel

_NO_BACKEND = "EchoChatModel answers in-process: there is no backend for chat_script to script"


class TestEchoChatModel(ChatModelSuite):
    @pytest.fixture
    def chat_model(self) -> ChatModel:
        return EchoChatModel()

    @pytest.fixture
    def chat_script(self) -> ChatScript:
        pytest.xfail(_NO_BACKEND)


class TestEchoChatModelCallingTools(ChatModelSuite):
    """Offering no tools, a tool-calling echo model still answers in text."""

    @pytest.fixture
    def chat_model(self) -> ChatModel:
        return EchoChatModel(call_tools=True, model_name="echo-tools")

    @pytest.fixture
    def chat_script(self) -> ChatScript:
        pytest.xfail(_NO_BACKEND)
