"""The reference `EchoChatModel` passes `ChatModelSuite`."""

from __future__ import annotations

import pytest

from covey.conformance import ChatModelSuite
from covey.spec.models import ChatModel
from covey.spec.testing import EchoChatModel


class TestEchoChatModel(ChatModelSuite):
    @pytest.fixture
    def chat_model(self) -> ChatModel:
        return EchoChatModel()


class TestEchoChatModelCallingTools(ChatModelSuite):
    """Offering no tools, a tool-calling echo model still answers in text."""

    @pytest.fixture
    def chat_model(self) -> ChatModel:
        return EchoChatModel(call_tools=True, model_name="echo-tools")
