"""Azure OpenAI under the conformance suites and inside an agent: `Agent(model="azure:...")`
runs a tool conversation end to end, streamed and not, with exact usage; throttling is retried
after Azure's `retry-after-ms`; a content filter ends the run `failed` with a guardrail event."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence

import pytest

from covey.conformance import ChatModelSuite, EmbedderSuite, ScriptedToolCall
from covey.core import Agent, RetryPolicy
from covey.models.openai import AzureOpenAIChatModel, AzureOpenAIEmbedder, AzureOpenAIResponsesModel
from covey.models.openai.azure_testing import (
    FakeAzureOpenAIServer,
    filtered_completion_reply,
    throttled_reply,
)
from covey.models.openai.testing import (
    FakeReply,
    FakeToolCall,
    RecordedRequest,
    error_reply,
    reply,
)
from covey.spec import RunStatus, events

KEY = "azure-conformance-key-0123456789abcdef"
TOKEN = "entra-conformance-token-0123456789"

pytestmark = pytest.mark.filterwarnings("ignore:ModelSettings.temperature is left out")


@pytest.fixture
def fake_azure() -> Iterator[FakeAzureOpenAIServer]:
    with FakeAzureOpenAIServer(api_key=KEY, tokens={TOKEN}) as server:
        yield server


class AzureScript:
    """`ChatScript` over `FakeAzureOpenAIServer`: each answer follows the request's API and
    stream flag."""

    def __init__(self, server: FakeAzureOpenAIServer) -> None:
        self.server = server

    def _answer(self, text: str | None, calls: Sequence[FakeToolCall] = ()) -> None:
        def respond(request: RecordedRequest) -> FakeReply:
            body = request.json or {}
            api = "responses" if "/responses" in request.path else "chat"
            return reply(text=text, tool_calls=calls, api=api, stream=bool(body.get("stream")))

        self.server.add(respond)

    def text(self, text: str) -> None:
        self._answer(text)

    def tool_calls(self, calls: Sequence[ScriptedToolCall]) -> None:
        self._answer(None, [FakeToolCall(c.name, dict(c.arguments), c.call_id) for c in calls])

    def error(self, status: int, message: str, *, retry_after: float | None = None) -> None:
        if status == 429 and retry_after is not None:
            self.server.add(throttled_reply(retry_after=retry_after))
            return
        kind = "server_error" if status >= 500 else "invalid_request_error"
        self.server.add(error_reply(status, message, type=kind))

    def context_overflow(self) -> None:
        self.server.add(
            error_reply(
                400,
                "This model's maximum context length is 128000 tokens. However, your messages "
                "resulted in 210000 tokens. Please reduce the length of the messages.",
                code="context_length_exceeded",
            )
        )


class TestAzureChatModel(ChatModelSuite):
    @pytest.fixture
    async def chat_model(
        self, fake_azure: FakeAzureOpenAIServer
    ) -> AsyncIterator[AzureOpenAIChatModel]:
        model = AzureOpenAIChatModel("gpt-4.1", endpoint=fake_azure.url, api_key=KEY)
        yield model
        await model.aclose()

    @pytest.fixture
    def secret_values(self) -> list[str]:
        return [KEY]

    @pytest.fixture
    def chat_script(self, fake_azure: FakeAzureOpenAIServer) -> AzureScript:
        return AzureScript(fake_azure)


class TestAzureResponsesModelWithEntraId(ChatModelSuite):
    @pytest.fixture
    async def chat_model(
        self, fake_azure: FakeAzureOpenAIServer
    ) -> AsyncIterator[AzureOpenAIResponsesModel]:
        async def token() -> str:
            return TOKEN

        model = AzureOpenAIResponsesModel(
            "gpt-5", endpoint=fake_azure.url, azure_ad_token_provider=token
        )
        yield model
        await model.aclose()

    @pytest.fixture
    def secret_values(self) -> list[str]:
        return [TOKEN]

    @pytest.fixture
    def chat_script(self, fake_azure: FakeAzureOpenAIServer) -> AzureScript:
        return AzureScript(fake_azure)


class TestAzureEmbedder(EmbedderSuite):
    @pytest.fixture
    async def embedder(
        self, fake_azure: FakeAzureOpenAIServer
    ) -> AsyncIterator[AzureOpenAIEmbedder]:
        embedder = AzureOpenAIEmbedder(
            "docs-embeddings", dimensions=64, endpoint=fake_azure.url, api_key=KEY
        )
        yield embedder
        await embedder.aclose()


# --- an agent -----------------------------------------------------------------------------------


def get_weather(city: str) -> str:
    """Current weather.

    Args:
        city: The city.
    """
    return f"21 °C in {city}"


def _usage(prompt: int, completion: int) -> dict[str, object]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
    }


@pytest.fixture
def azure_env(fake_azure: FakeAzureOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake_azure.url)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)


@pytest.mark.parametrize("stream", [False, True])
async def test_agent_runs_a_tool_conversation_with_exact_usage(
    fake_azure: FakeAzureOpenAIServer, azure_env: None, stream: bool
) -> None:
    call = FakeToolCall("get_weather", {"city": "Oslo"}, call_id="call_1")
    fake_azure.add(
        reply(tool_calls=[call], stream=stream, usage=_usage(50, 7)),
        reply(text="It is 21 °C in Oslo.", stream=stream, usage=_usage(80, 9)),
    )
    agent = Agent(model="azure:prod-gpt-4o", tools=[get_weather])
    if stream:
        deltas: list[str] = []
        async for event in agent.run_stream("Weather in Oslo?"):
            if isinstance(event, events.TextDelta):
                deltas.append(event.delta)
            elif isinstance(event, events.RunCompleted):
                result = event.result
        assert "".join(deltas) == "It is 21 °C in Oslo."
    else:
        result = await agent.run("Weather in Oslo?")

    assert result.output == "It is 21 °C in Oslo."
    assert [c.result for c in result.tool_calls] == ["21 °C in Oslo"]
    assert (result.usage.requests, result.usage.input_tokens, result.usage.output_tokens) == (
        2,
        130,
        16,
    )
    assert [r.path.split("?")[0] for r in fake_azure.requests] == [
        "/openai/deployments/prod-gpt-4o/chat/completions"
    ] * 2
    assert [bool(r.json.get("stream")) for r in fake_azure.requests] == [stream, stream]
    assert fake_azure.requests[1].json["messages"][-1]["content"] == "21 °C in Oslo"


async def test_agent_on_the_responses_api_with_entra_id(fake_azure: FakeAzureOpenAIServer) -> None:
    call = FakeToolCall("get_weather", {"city": "Lima"}, call_id="call_2")
    fake_azure.add(
        reply(tool_calls=[call], api="responses", stream=True),
        reply(text="Warm in Lima.", api="responses", stream=True),
    )
    model = AzureOpenAIResponsesModel(
        "prod-gpt-5", endpoint=fake_azure.url, azure_ad_token_provider=lambda: TOKEN
    )
    agent = Agent(model=model, tools=[get_weather])
    async for event in agent.run_stream("Weather in Lima?"):
        if isinstance(event, events.RunCompleted):
            result = event.result
    await model.aclose()

    assert result.output == "Warm in Lima."
    assert (result.usage.input_tokens, result.usage.output_tokens) == (20, 10)
    assert {r.headers["authorization"] for r in fake_azure.requests} == {f"Bearer {TOKEN}"}


async def test_agent_retries_after_azure_throttling_for_as_long_as_asked(
    fake_azure: FakeAzureOpenAIServer, azure_env: None
) -> None:
    fake_azure.add(throttled_reply(retry_after=30, retry_after_ms=20), reply(text="Done."))
    agent = Agent(model="azure:prod-gpt-4o", retry=RetryPolicy(max_attempts=2, jitter=0))
    retries: list[events.ModelRequestRetry] = []
    async for event in agent.run_stream("Go", stream_model=False):
        if isinstance(event, events.ModelRequestRetry):
            retries.append(event)
        elif isinstance(event, events.RunCompleted):
            result = event.result

    assert result.output == "Done."
    [retry] = retries
    assert retry.delay == 0.02  # retry-after-ms wins over retry-after, as Azure means it
    assert retry.error.type == "RateLimitedError"
    assert retry.error.details["retry_after"] == 0.02
    assert len(fake_azure.requests) == 2


@pytest.mark.parametrize("stream", [False, True])
async def test_a_filtered_completion_fails_the_run_with_a_guardrail_event(
    fake_azure: FakeAzureOpenAIServer, azure_env: None, stream: bool
) -> None:
    fake_azure.add(
        filtered_completion_reply(
            {"violence": {"filtered": True, "severity": "high"}}, text="Here is", stream=stream
        )
    )
    agent = Agent(model="azure:prod-gpt-4o")
    tripped: list[events.GuardrailTripped] = []
    async for event in agent.run_stream("Tell me a story", stream_model=stream):
        if isinstance(event, events.GuardrailTripped):
            tripped.append(event)
        elif isinstance(event, events.RunFailed):
            result = event.result

    assert result.status is RunStatus.FAILED
    assert result.error is not None
    assert result.error.type == "ContentFilterError"
    assert result.error.details["guardrail"] == "azure_content_filter"
    assert result.error.details["stage"] == "output"
    assert "violence: high" in result.error.details["reason"]
    [event] = tripped
    assert (event.guardrail, event.stage) == ("azure_content_filter", "output")
    assert len(fake_azure.requests) == 1  # never retried: it would be filtered again
