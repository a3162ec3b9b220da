"""The covey-conformance suites, against FakeOpenAIServer over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

import pytest

from covey.conformance import ChatModelSuite, EmbedderSuite, ScriptedToolCall
from covey.models.openai import OpenAIChatModel, OpenAIEmbedder, OpenAIResponsesModel
from covey.models.openai.testing import (
    FakeOpenAIServer,
    FakeReply,
    FakeToolCall,
    RecordedRequest,
    error_reply,
    reply,
)
from covey.spec.plugins import resolve_model

KEY = "sk-conformance-0123456789abcdef"

# The suite sends temperature=0 to every model; gpt-5 rejects sampling, which the adapter says.
pytestmark = pytest.mark.filterwarnings("ignore:ModelSettings.temperature is left out")


@pytest.fixture
def fake_openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


class OpenAIScript:
    """`ChatScript` over `FakeOpenAIServer`: each answer follows the request's API and stream
    flag, so one script serves Chat Completions and Responses, whole and streamed."""

    def __init__(self, server: FakeOpenAIServer) -> None:
        self.server = server

    def _answer(self, text: str | None, calls: Sequence[FakeToolCall] = ()) -> None:
        def respond(request: RecordedRequest) -> FakeReply:
            body = request.json or {}
            api = "responses" if request.path.rstrip("/").endswith("/responses") else "chat"
            return reply(text=text, tool_calls=calls, api=api, stream=bool(body.get("stream")))

        self.server.add(respond)

    def text(self, text: str) -> None:
        self._answer(text)

    def tool_calls(self, calls: Sequence[ScriptedToolCall]) -> None:
        self._answer(None, [FakeToolCall(c.name, dict(c.arguments), c.call_id) for c in calls])

    def error(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        kind = "server_error" if status >= 500 else "invalid_request_error"
        self.server.add(error_reply(status, message, type=kind, headers=headers))

    def context_overflow(self) -> None:
        self.server.add(
            error_reply(
                400,
                "This model's maximum context length is 128000 tokens. However, your messages "
                "resulted in 210000 tokens. Please reduce the length of the messages.",
                code="context_length_exceeded",
            )
        )


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

    @pytest.fixture
    def chat_script(self, fake_openai_server: FakeOpenAIServer) -> OpenAIScript:
        return OpenAIScript(fake_openai_server)


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

    @pytest.fixture
    def chat_script(self, fake_openai_server: FakeOpenAIServer) -> OpenAIScript:
        return OpenAIScript(fake_openai_server)


class TestOllamaModelString(ChatModelSuite):
    @pytest.fixture
    async def chat_model(
        self, fake_openai_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
    ) -> AsyncIterator[object]:
        monkeypatch.setenv("OLLAMA_BASE_URL", fake_openai_server.url)
        model = resolve_model("ollama:llama3.2")
        yield model
        await model.aclose()

    @pytest.fixture
    def chat_script(self, fake_openai_server: FakeOpenAIServer) -> OpenAIScript:
        return OpenAIScript(fake_openai_server)


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
