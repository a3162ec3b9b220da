"""covey-conformance suites for Vertex AI: VertexModel and VertexEmbedder authenticated with a
real service-account key (a signed JWT traded for a token at a loopback OAuth endpoint), through
the real SDK, against FakeVertexServer."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from covey.conformance import ChatModelSuite, EmbedderSuite
from covey.models.google import VertexEmbedder, VertexModel
from covey.models.google.testing_vertex import FakeGoogleOAuthServer, FakeVertexServer

from .test_conformance import GeminiScript

pytestmark = pytest.mark.usefixtures("clean_google_env")


@pytest.fixture
def fake_vertex(oauth: FakeGoogleOAuthServer) -> Iterator[FakeVertexServer]:
    with FakeVertexServer(oauth=oauth) as server:  # echoes text, embeds deterministically
        yield server


class TestVertexChatModel(ChatModelSuite):
    @pytest.fixture
    async def chat_model(
        self, fake_vertex: FakeVertexServer, service_account: Path
    ) -> AsyncIterator[VertexModel]:
        model = VertexModel(
            "gemini-2.5-flash",
            credentials_file=service_account,
            location="us-central1",
            base_url=fake_vertex.url,
        )
        yield model
        await model.aclose()

    @pytest.fixture
    def secret_values(self, service_account: Path) -> list[str]:
        info = json.loads(service_account.read_text())
        return [info["private_key"], info["private_key_id"]]

    @pytest.fixture
    def chat_script(self, fake_vertex: FakeVertexServer) -> GeminiScript:
        return GeminiScript(fake_vertex)


class TestVertexEmbedder(EmbedderSuite):
    @pytest.fixture
    async def embedder(
        self, fake_vertex: FakeVertexServer, service_account: Path
    ) -> AsyncIterator[VertexEmbedder]:
        embedder = VertexEmbedder(
            "text-embedding-005",
            dimensions=256,
            credentials_file=service_account,
            base_url=fake_vertex.url,
        )
        yield embedder
        await embedder.aclose()


class TestVertexGeminiEmbedder(EmbedderSuite):
    @pytest.fixture
    async def embedder(
        self, fake_vertex: FakeVertexServer, service_account: Path
    ) -> AsyncIterator[VertexEmbedder]:
        embedder = VertexEmbedder(
            "gemini-embedding-001",
            dimensions=128,
            credentials_file=service_account,
            base_url=fake_vertex.url,
        )
        yield embedder
        await embedder.aclose()
