"""`ChatModelSuite` and `EmbedderSuite` from covey-conformance, through real boto3 against the
loopback `FakeBedrockServer` (Converse JSON, ConverseStream as the binary event stream)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from covey.conformance import ChatModelSuite, EmbedderSuite, ScriptedToolCall
from covey.models.bedrock import BedrockEmbedder, BedrockModel
from covey.models.bedrock.testing import (
    FakeBedrockServer,
    FakeResponse,
    converse_response,
    text_response,
)

# As in conftest.py (its autouse fixture puts these in the environment).
ACCESS_KEY = "AKIAFAKEBEDROCK0001"
SECRET_KEY = "fake-secret-key-DO-NOT-SHOW-0123456789abcdef"
SESSION_TOKEN = "fake-session-token-DO-NOT-SHOW-9876543210"
REGION = "us-east-1"
MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"

_ERROR_TYPES = {
    401: "UnrecognizedClientException",
    403: "AccessDeniedException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


class BedrockScript:
    """`ChatScript` over `FakeBedrockServer`: Converse bodies, streamed when the request asks."""

    def __init__(self, server: FakeBedrockServer) -> None:
        self.server = server

    def text(self, text: str) -> None:
        self.server.add(text_response(text))

    def tool_calls(self, calls: Sequence[ScriptedToolCall]) -> None:
        blocks = [
            {"toolUse": {"toolUseId": c.call_id, "name": c.name, "input": dict(c.arguments)}}
            for c in calls
        ]
        self.server.add(converse_response(blocks, stop_reason="tool_use"))

    def error(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        kind = _ERROR_TYPES.get(status, "ValidationException")
        self.server.add(FakeResponse.error(status, kind, message, headers=headers))

    def context_overflow(self) -> None:
        self.server.add(
            FakeResponse.error(400, "ValidationException", "Input is too long for requested model.")
        )


@pytest.fixture
def fake_bedrock() -> Iterator[FakeBedrockServer]:
    with FakeBedrockServer(access_key_id=ACCESS_KEY) as server:
        yield server


class TestBedrockChat(ChatModelSuite):
    @pytest.fixture
    def chat_model(self, fake_bedrock: FakeBedrockServer) -> BedrockModel:
        return BedrockModel(MODEL, region_name=REGION, endpoint_url=fake_bedrock.url)

    @pytest.fixture
    def secret_values(self) -> list[str]:
        return [SECRET_KEY, SESSION_TOKEN]

    @pytest.fixture
    def chat_script(self, fake_bedrock: FakeBedrockServer) -> BedrockScript:
        return BedrockScript(fake_bedrock)


class TestTitanEmbedder(EmbedderSuite):
    @pytest.fixture
    def embedder(self, fake_bedrock: FakeBedrockServer) -> BedrockEmbedder:
        return BedrockEmbedder(
            "amazon.titan-embed-text-v2:0", region_name=REGION, endpoint_url=fake_bedrock.url
        )


class TestCohereEmbedder(EmbedderSuite):
    @pytest.fixture
    def embedder(self, fake_bedrock: FakeBedrockServer) -> BedrockEmbedder:
        return BedrockEmbedder(
            "cohere.embed-multilingual-v3", region_name=REGION, endpoint_url=fake_bedrock.url
        )
