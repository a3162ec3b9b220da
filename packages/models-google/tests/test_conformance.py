"""covey-conformance suites, run against FakeGeminiServer through the real SDK over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

import pytest

from covey.conformance import ChatModelSuite, EmbedderSuite, ScriptedToolCall
from covey.models.google import GoogleEmbedder, GoogleModel
from covey.models.google.testing import (
    FakeGeminiServer,
    answer,
    error_answer,
    function_call_part,
    text_answer,
)

API_KEY = "AIzaSyFAKE-conformance-key-000000000"


@pytest.fixture
def fake_gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer() as server:  # echoes text, embeds deterministically
        yield server


class GeminiScript:
    """`ChatScript` over `FakeGeminiServer` (a whole answer is streamed when the request asks).

    Tool calls are sent without ids, as Gemini often does: the adapter must make them."""

    def __init__(self, server: FakeGeminiServer) -> None:
        self.server = server

    def text(self, text: str) -> None:
        self.server.add(text_answer(text))

    def tool_calls(self, calls: Sequence[ScriptedToolCall]) -> None:
        self.server.add(answer([function_call_part(c.name, dict(c.arguments)) for c in calls]))

    def error(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        self.server.add(error_answer(status, message, headers=headers))

    def context_overflow(self) -> None:
        self.server.add(
            error_answer(
                400,
                "The input token count (1200000) exceeds the maximum number of tokens allowed "
                "(1048576).",
            )
        )


class TestGoogleChatModel(ChatModelSuite):
    @pytest.fixture
    async def chat_model(self, fake_gemini: FakeGeminiServer) -> AsyncIterator[GoogleModel]:
        model = GoogleModel("gemini-2.5-flash", api_key=API_KEY, base_url=fake_gemini.url)
        yield model
        await model.aclose()

    @pytest.fixture
    def secret_values(self) -> list[str]:
        return [API_KEY]

    @pytest.fixture
    def chat_script(self, fake_gemini: FakeGeminiServer) -> GeminiScript:
        return GeminiScript(fake_gemini)


class TestGoogleEmbedder(EmbedderSuite):
    @pytest.fixture
    async def embedder(self, fake_gemini: FakeGeminiServer) -> AsyncIterator[GoogleEmbedder]:
        embedder = GoogleEmbedder(
            "gemini-embedding-001", dimensions=256, api_key=API_KEY, base_url=fake_gemini.url
        )
        yield embedder
        await embedder.aclose()
