"""covey-conformance suites, run against FakeGeminiServer through the real SDK over loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from covey.conformance import ChatModelSuite, EmbedderSuite
from covey.models.google import GoogleEmbedder, GoogleModel
from covey.models.google.testing import FakeGeminiServer

API_KEY = "AIzaSyFAKE-conformance-key-000000000"


@pytest.fixture(scope="module")
def fake_gemini() -> Iterator[FakeGeminiServer]:
    with FakeGeminiServer() as server:  # echoes text, embeds deterministically
        yield server


class TestGoogleChatModel(ChatModelSuite):
    @pytest.fixture
    async def chat_model(self, fake_gemini: FakeGeminiServer) -> AsyncIterator[GoogleModel]:
        model = GoogleModel("gemini-2.5-flash", api_key=API_KEY, base_url=fake_gemini.url)
        yield model
        await model.aclose()

    @pytest.fixture
    def secret_values(self) -> list[str]:
        return [API_KEY]


class TestGoogleEmbedder(EmbedderSuite):
    @pytest.fixture
    async def embedder(self, fake_gemini: FakeGeminiServer) -> AsyncIterator[GoogleEmbedder]:
        embedder = GoogleEmbedder(
            "gemini-embedding-001", dimensions=256, api_key=API_KEY, base_url=fake_gemini.url
        )
        yield embedder
        await embedder.aclose()
