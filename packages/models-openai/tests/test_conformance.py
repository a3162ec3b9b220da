"""The covey-conformance suites, against FakeOpenAIServer over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from covey.conformance import ChatModelSuite, EmbedderSuite
from covey.models.openai import OpenAIChatModel, OpenAIEmbedder, OpenAIResponsesModel
from covey.models.openai.testing import FakeOpenAIServer
from covey.spec.plugins import resolve_model

KEY = "sk-conformance-0123456789abcdef"

# The suite sends temperature=0 to every model; gpt-5 rejects sampling, which the adapter says.
pytestmark = pytest.mark.filterwarnings("ignore:ModelSettings.temperature is left out")


@pytest.fixture
def fake_openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


class TestOpenAIChatModel(ChatModelSuite):
    @pytest.fixture
    async def chat_model(
        self, fake_openai_server: FakeOpenAIServer
    ) -> AsyncIterator[OpenAIChatModel]:
        model = OpenAIChatModel("gpt-4.1", api_key=KEY, base_url=fake_openai_server.url)
        yield model
        await model.aclose()

    @pytest.fixture
    def secret_values(self) -> list[str]:
        return [KEY]


class TestOpenAIResponsesModel(ChatModelSuite):
    @pytest.fixture
    async def chat_model(
        self, fake_openai_server: FakeOpenAIServer
    ) -> AsyncIterator[OpenAIResponsesModel]:
        model = OpenAIResponsesModel("gpt-5", api_key=KEY, base_url=fake_openai_server.url)
        yield model
        await model.aclose()

    @pytest.fixture
    def secret_values(self) -> list[str]:
        return [KEY]


class TestOllamaModelString(ChatModelSuite):
    @pytest.fixture
    async def chat_model(
        self, fake_openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
    ) -> AsyncIterator[object]:
        monkeypatch.setenv("OLLAMA_BASE_URL", fake_openai_server.url)
        model = resolve_model("ollama:llama3.2")
        yield model
        await model.aclose()


class TestOpenAIEmbedder(EmbedderSuite):
    @pytest.fixture
    async def embedder(self, fake_openai_server: FakeOpenAIServer) -> AsyncIterator[OpenAIEmbedder]:
        embedder = OpenAIEmbedder(
            "text-embedding-3-small", dimensions=64, api_key=KEY, base_url=fake_openai_server.url
        )
        yield embedder
        await embedder.aclose()


class TestOllamaEmbedder(EmbedderSuite):
    @pytest.fixture
    async def embedder(self) -> AsyncIterator[OpenAIEmbedder]:
        with FakeOpenAIServer(embedding_dimensions=768) as server:
            embedder = OpenAIEmbedder("nomic-embed-text", provider="ollama", base_url=server.url)
            yield embedder
            await embedder.aclose()
