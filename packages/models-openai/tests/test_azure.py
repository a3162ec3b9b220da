"""Azure OpenAI through the real `openai` SDK (`AsyncAzureOpenAI`) against FakeAzureOpenAIServer
on loopback: URLs, both kinds of credentials, both APIs, usage, the content filter, throttling,
and secrets kept out of errors, reprs and logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from covey.models.openai import (
    AzureOpenAIChatModel,
    AzureOpenAIEmbedder,
    AzureOpenAIResponsesModel,
    ContentFilterError,
)
from covey.models.openai.azure_testing import (
    FakeAzureOpenAIServer,
    filtered_completion_reply,
    filtered_prompt_reply,
    throttled_reply,
)
from covey.models.openai.testing import FakeReply, FakeToolCall, reply
from covey.spec import (
    FinalResponseEvent,
    ModelRequest,
    ModelRequestParams,
    ModelResponse,
    ToolDefinition,
    ToolReturnPart,
)
from covey.spec.errors import (
    AuthenticationError,
    ConfigurationError,
    GuardrailTripped,
    ModelHTTPError,
    RateLimitedError,
)
from covey.spec.plugins import resolve_embedder, resolve_model
from covey.spec.runs import ErrorInfo

KEY = "azure-key-5f1e2d3c4b5a69788796a5b4c3d2e1f0"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.entra-token-payload.signature"
USAGE = {
    "prompt_tokens": 123,
    "completion_tokens": 45,
    "total_tokens": 168,
    "prompt_tokens_details": {"cached_tokens": 64},
    "completion_tokens_details": {"reasoning_tokens": 0},
}
PARAMS = ModelRequestParams()
WEATHER = ModelRequestParams(function_tools=[ToolDefinition(name="get_weather")])


def user(text: str = "Hi") -> list[ModelRequest | ModelResponse]:
    return [ModelRequest.user(text)]


@pytest.fixture
def server() -> Iterator[FakeAzureOpenAIServer]:
    with FakeAzureOpenAIServer(api_key=KEY, tokens={TOKEN}) as fake:
        yield fake


@pytest.fixture
async def model(server: FakeAzureOpenAIServer) -> AsyncIterator[AzureOpenAIChatModel]:
    model = AzureOpenAIChatModel("prod-gpt-4o", endpoint=server.url, api_key=KEY)
    yield model
    await model.aclose()


async def collect(
    model: AzureOpenAIChatModel | AzureOpenAIResponsesModel,
    history: list[ModelRequest | ModelResponse],
    params: ModelRequestParams = PARAMS,
) -> ModelResponse:
    events = [event async for event in model.request_stream(history, None, params)]
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    return final.response


# --- where requests go and how they authenticate ------------------------------------------------


async def test_chat_goes_to_the_deployment_url_with_the_api_key_header(
    server: FakeAzureOpenAIServer, model: AzureOpenAIChatModel
) -> None:
    response = await model.request(user("ping"), None, PARAMS)

    assert response.text() == "Echo: ping"
    sent = server.requests[0]
    assert sent.path == "/openai/deployments/prod-gpt-4o/chat/completions?api-version=2024-10-21"
    assert sent.headers["api-key"] == KEY
    assert "authorization" not in sent.headers
    assert response.provider_name == "azure"


async def test_an_entra_token_provider_sends_a_bearer_token_per_request(
    server: FakeAzureOpenAIServer,
) -> None:
    calls: list[int] = []

    def token_provider() -> str:  # sync, as azure.identity's get_bearer_token_provider
        calls.append(1)
        return TOKEN

    model = AzureOpenAIChatModel(
        "prod-gpt-4o", endpoint=server.url, azure_ad_token_provider=token_provider
    )
    await model.request(user(), None, PARAMS)
    await collect(model, user())
    await model.aclose()

    assert [r.headers["authorization"] for r in server.requests] == [f"Bearer {TOKEN}"] * 2
    assert all("api-key" not in r.headers for r in server.requests)
    assert len(calls) == 2  # asked before every request: a refreshed token is picked up


async def test_an_async_token_provider_works_and_a_refused_token_is_an_auth_error(
    server: FakeAzureOpenAIServer,
) -> None:
    tokens = iter([TOKEN, "expired-entra-token-0000"])

    async def token_provider() -> str:
        return next(tokens)

    model = AzureOpenAIResponsesModel(
        "prod-gpt-5", endpoint=server.url, azure_ad_token_provider=token_provider
    )
    assert (await model.request(user("a"), None, PARAMS)).text() == "Echo: a"
    with pytest.raises(AuthenticationError) as refused:
        await model.request(user("b"), None, PARAMS)
    await model.aclose()

    assert server.requests[0].path == "/openai/responses?api-version=2025-04-01-preview"
    assert server.requests[0].json["model"] == "prod-gpt-5"
    assert "azure_ad_token_provider" in str(refused.value)
    assert "AZURE_OPENAI_API_KEY" not in str(refused.value)
    assert "expired-entra-token-0000" not in str(refused.value)
    assert "expired-entra-token-0000" not in repr(refused.value.body)


async def test_endpoint_version_and_key_come_from_the_environment(
    server: FakeAzureOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", server.url + "/")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_VERSION", "2025-01-01-preview")
    model = resolve_model("azure:prod-gpt-4o")
    assert isinstance(model, AzureOpenAIChatModel)
    await model.request(user(), None, PARAMS)
    await model.aclose()

    sent = server.requests[0]
    assert sent.path.endswith(
        "/deployments/prod-gpt-4o/chat/completions?api-version=2025-01-01-preview"
    )
    assert sent.headers["api-key"] == KEY


async def test_the_v1_api_uses_the_plain_client_without_api_version(
    server: FakeAzureOpenAIServer,
) -> None:
    model = AzureOpenAIChatModel("prod-gpt-4o", endpoint=server.url, api_key=KEY, api_version="v1")
    assert (await model.request(user("v1"), None, PARAMS)).text() == "Echo: v1"
    await model.aclose()
    sent = server.requests[0]
    assert sent.path == "/openai/v1/chat/completions"
    assert sent.json["model"] == "prod-gpt-4o"
    assert sent.headers["authorization"] == f"Bearer {KEY}"


async def test_the_v1_api_with_entra_id_asks_for_a_token_per_request(
    server: FakeAzureOpenAIServer,
) -> None:
    issued: list[str] = []

    def token_provider() -> str:
        issued.append(f"{TOKEN}-{len(issued)}")
        return issued[-1]

    server.tokens |= {f"{TOKEN}-0", f"{TOKEN}-1"}
    model = AzureOpenAIResponsesModel(
        "prod-gpt-5", endpoint=server.url, api_version="v1", azure_ad_token_provider=token_provider
    )
    await model.request(user(), None, PARAMS)
    await model.request(user(), None, PARAMS)
    await model.aclose()

    assert [r.path for r in server.requests] == ["/openai/v1/responses"] * 2
    assert [r.headers["authorization"] for r in server.requests] == [f"Bearer {t}" for t in issued]


# --- configuration errors -----------------------------------------------------------------------


async def test_missing_endpoint_and_missing_credentials_name_what_to_set() -> None:
    no_endpoint = AzureOpenAIChatModel("dep", api_key=KEY)
    with pytest.raises(ConfigurationError, match="AZURE_OPENAI_ENDPOINT"):
        await no_endpoint.request(user(), None, PARAMS)

    no_key = AzureOpenAIChatModel("dep", endpoint="https://res.openai.azure.com")
    with pytest.raises(ConfigurationError) as missing:
        await no_key.request(user(), None, PARAMS)
    assert "AZURE_OPENAI_API_KEY" in str(missing.value)
    assert "azure_ad_token_provider" in str(missing.value)


def test_a_key_and_a_token_provider_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="not both") as both:
        AzureOpenAIChatModel("dep", api_key=KEY, azure_ad_token_provider=lambda: TOKEN)
    assert KEY not in str(both.value)
    with pytest.raises(ConfigurationError, match="function"):
        AzureOpenAIChatModel("dep", azure_ad_token_provider=TOKEN)  # pyright: ignore[reportArgumentType]


@pytest.mark.parametrize(
    "endpoint",
    ["res.openai.azure.com", f"https://user:{KEY}@res.openai.azure.com", "https://res/?x=1"],
)
async def test_a_malformed_endpoint_is_refused_without_echoing_a_key(endpoint: str) -> None:
    model = AzureOpenAIChatModel("dep", endpoint=endpoint, api_key=KEY)
    with pytest.raises(ConfigurationError, match="endpoint") as bad:
        await model.request(user(), None, PARAMS)
    assert KEY not in str(bad.value)


async def test_a_failing_token_provider_is_a_configuration_error_without_the_secret(
    server: FakeAzureOpenAIServer,
) -> None:
    def broken() -> str:
        raise RuntimeError(f"credential chain failed for client secret {KEY}")

    def empty() -> str:
        return ""

    for provider, words in ((broken, "RuntimeError"), (empty, "non-empty")):
        model = AzureOpenAIChatModel("dep", endpoint=server.url, azure_ad_token_provider=provider)
        with pytest.raises(ConfigurationError, match=words) as failed:
            await model.request(user(), None, PARAMS)
        await model.aclose()
        assert KEY not in str(failed.value)
    assert server.requests == []  # nothing was sent without a token


# --- the APIs -----------------------------------------------------------------------------------


async def test_chat_tool_conversation_whole_and_streamed_with_exact_usage(
    server: FakeAzureOpenAIServer, model: AzureOpenAIChatModel
) -> None:
    call = FakeToolCall("get_weather", {"city": "Paris"}, call_id="call_1")
    server.add(
        reply(tool_calls=[call], stream=True, usage=USAGE),
        reply(text="Sunny in Paris.", usage=USAGE),
    )
    history = user("Weather in Paris?")
    first = await collect(model, history, WEATHER)
    [called] = first.tool_calls()
    assert (called.tool_name, called.args_as_dict(), called.tool_call_id) == (
        "get_weather",
        {"city": "Paris"},
        "call_1",
    )
    history += [
        first,
        ModelRequest(
            parts=[ToolReturnPart(tool_name="get_weather", content="sunny", tool_call_id="call_1")]
        ),
    ]
    second = await model.request(history, None, WEATHER)

    assert second.text() == "Sunny in Paris."
    for response in (first, second):
        usage = response.usage
        assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (123, 45, 64)
    streamed, whole = server.requests
    assert streamed.json["stream"] is True
    assert streamed.json["stream_options"] == {"include_usage": True}
    assert whole.json["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "sunny",
    }
    # Azure's stream opens with a chunk that has no choices, only prompt filter results.
    assert first.finish_reason == "tool_calls"


async def test_responses_tool_conversation_streamed_with_exact_usage(
    server: FakeAzureOpenAIServer,
) -> None:
    usage = {
        "input_tokens": 321,
        "output_tokens": 54,
        "output_tokens_details": {"reasoning_tokens": 20},
    }
    call = FakeToolCall("get_weather", {"city": "Oslo"}, call_id="call_9")
    server.add(
        reply(tool_calls=[call], api="responses", stream=True, usage=usage),
        reply(text="Cold in Oslo.", api="responses", stream=True, usage=usage),
    )
    model = AzureOpenAIResponsesModel("prod-gpt-5", endpoint=server.url, api_key=KEY)
    history = user("Weather in Oslo?")
    first = await collect(model, history, WEATHER)
    history += [
        first,
        ModelRequest(
            parts=[ToolReturnPart(tool_name="get_weather", content="-3", tool_call_id="call_9")]
        ),
    ]
    second = await collect(model, history, WEATHER)
    await model.aclose()

    assert first.tool_calls()[0].args_as_dict() == {"city": "Oslo"}
    assert second.text() == "Cold in Oslo."
    assert (second.usage.input_tokens, second.usage.output_tokens) == (321, 54)
    assert second.usage.reasoning_tokens == 20
    returned = server.requests[1].json["input"][-1]
    assert returned == {"type": "function_call_output", "call_id": "call_9", "output": "-3"}
    assert all(r.path.startswith("/openai/responses?api-version=") for r in server.requests)


async def test_an_unknown_deployment_is_a_404_http_error() -> None:
    with FakeAzureOpenAIServer(api_key=KEY, deployments={"exists"}) as server:
        model = AzureOpenAIChatModel("missing", endpoint=server.url, api_key=KEY)
        with pytest.raises(ModelHTTPError, match="DeploymentNotFound") as missing:
            await model.request(user(), None, PARAMS)
        await model.aclose()
    assert missing.value.status_code == 404


# --- the content filter -------------------------------------------------------------------------

PROMPT = "a prompt the filter objects to, with its words"


async def test_a_filtered_prompt_is_a_content_filter_error_with_categories_not_the_prompt(
    server: FakeAzureOpenAIServer, model: AzureOpenAIChatModel
) -> None:
    server.add(
        filtered_prompt_reply(
            {
                "violence": {"filtered": True, "severity": "high"},
                "jailbreak": {"filtered": True, "detected": True},
            }
        )
    )
    with pytest.raises(ContentFilterError) as filtered:
        await model.request(user(PROMPT), None, PARAMS)

    error = filtered.value
    assert isinstance(error, GuardrailTripped)
    assert error.stage == "input"
    assert error.status_code == 400
    assert error.categories == {
        "violence": {"filtered": True, "severity": "high"},
        "jailbreak": {"filtered": True, "detected": True},
    }
    info = ErrorInfo.from_exception(error)
    assert info.type == "ContentFilterError"
    assert info.details["guardrail"] == "azure_content_filter"
    assert "violence: high" in info.details["reason"]
    assert "jailbreak" in info.details["reason"]
    assert PROMPT not in info.model_dump_json()


@pytest.mark.parametrize("stream", [False, True])
async def test_a_filtered_completion_is_a_content_filter_error(
    server: FakeAzureOpenAIServer, model: AzureOpenAIChatModel, stream: bool
) -> None:
    server.add(
        filtered_completion_reply(
            {"sexual": {"filtered": True, "severity": "medium"}}, text="Once upon", stream=stream
        )
    )
    ask = collect(model, user(PROMPT)) if stream else model.request(user(PROMPT), None, PARAMS)
    with pytest.raises(ContentFilterError) as filtered:
        await ask

    assert filtered.value.stage == "output"
    assert filtered.value.status_code is None
    assert filtered.value.categories == {"sexual": {"filtered": True, "severity": "medium"}}
    assert "completion" in str(filtered.value)
    assert PROMPT not in str(filtered.value)


async def test_a_filtered_responses_completion_is_a_content_filter_error(
    server: FakeAzureOpenAIServer,
) -> None:
    body = reply(text="Once", api="responses").json
    body.update(status="incomplete", incomplete_details={"reason": "content_filter"})
    server.add(FakeReply(json=body))
    model = AzureOpenAIResponsesModel("prod-gpt-5", endpoint=server.url, api_key=KEY)
    with pytest.raises(ContentFilterError) as filtered:
        await model.request(user(), None, PARAMS)
    await model.aclose()
    assert filtered.value.stage == "output"


async def test_a_model_refusal_stays_an_answer(
    server: FakeAzureOpenAIServer, model: AzureOpenAIChatModel
) -> None:
    """OpenAI's own refusal (structured outputs) is text the run can show, not the filter."""
    answer = reply(text=None)
    answer.json["choices"][0]["message"]["refusal"] = "I can't help with that."
    server.add(answer)
    response = await model.request(user(), None, PARAMS)
    assert response.text() == "I can't help with that."
    assert response.finish_reason == "content_filter"


# --- throttling ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"retry_after": 7}, 7.0), ({"retry_after": 7, "retry_after_ms": 250}, 0.25)],
)
async def test_429_carries_retry_after_from_azure_headers(
    server: FakeAzureOpenAIServer,
    model: AzureOpenAIChatModel,
    headers: dict[str, int],
    expected: float,
) -> None:
    server.add(throttled_reply(**headers))  # pyright: ignore[reportArgumentType]
    with pytest.raises(RateLimitedError) as limited:
        await model.request(user(), None, PARAMS)
    assert limited.value.retry_after == expected


# --- embeddings ---------------------------------------------------------------------------------


async def test_embeddings_go_to_the_deployment_and_shorten_for_text_embedding_3(
    server: FakeAzureOpenAIServer,
) -> None:
    embedder = AzureOpenAIEmbedder(
        "search-embeddings",
        model="text-embedding-3-large",
        dimensions=256,
        endpoint=server.url,
        api_key=KEY,
    )
    vectors = await embedder.embed(["alpha", "beta"])
    await embedder.aclose()

    assert [len(v) for v in vectors] == [256, 256]
    sent = server.requests[0]
    assert sent.path == "/openai/deployments/search-embeddings/embeddings?api-version=2024-10-21"
    assert sent.json["dimensions"] == 256
    assert embedder.name == "azure:search-embeddings@256"


def test_embedder_strings_and_unknown_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    known = resolve_embedder("azure:text-embedding-3-small")
    declared = resolve_embedder("azure:my-embeddings:1024")
    assert isinstance(known, AzureOpenAIEmbedder) and known.dimensions == 1536
    assert isinstance(declared, AzureOpenAIEmbedder) and declared.dimensions == 1024
    assert declared.deployment == "my-embeddings"
    with pytest.raises(ConfigurationError, match="dimensions"):
        AzureOpenAIEmbedder("my-embeddings")


# --- secrets ------------------------------------------------------------------------------------


async def test_secrets_never_reach_errors_reprs_or_logs(
    server: FakeAzureOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # A server that echoes the credential it got back in its error message and body.
    server.add(
        FakeReply(status=401, json={"error": {"code": "401", "message": f"bad key {KEY}"}}),
        FakeReply(status=500, json={"error": {"code": "500", "message": f"token {TOKEN} failed"}}),
    )
    keyed = AzureOpenAIChatModel("dep", endpoint=server.url, api_key=KEY)
    entra = AzureOpenAIChatModel("dep", endpoint=server.url, azure_ad_token_provider=lambda: TOKEN)
    errors: list[BaseException] = []
    for model in (keyed, entra):
        with pytest.raises(ModelHTTPError) as failed:
            await model.request(user(), None, PARAMS)
        errors.append(failed.value)
        await model.aclose()
    embedder = AzureOpenAIEmbedder("text-embedding-3-small", endpoint=server.url, api_key=KEY)

    shown = [str(e) for e in errors]
    shown += [repr(e.body) for e in errors if isinstance(e, ModelHTTPError)]
    shown += [repr(e.__cause__) for e in errors]
    shown += [repr(keyed), repr(entra), repr(embedder), repr(keyed._connection.credentials)]  # pyright: ignore[reportPrivateUsage]
    shown += [record.getMessage() for record in caplog.records]
    for secret in (KEY, TOKEN):
        assert not any(secret in text for text in shown), secret
    assert len(caplog.records) > 0  # the SDK did log, at debug level


# --- attacks and leaks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "endpoint", ["http://my-resource.openai.azure.com", "http://10.0.0.8", "ftp://127.0.0.1"]
)
async def test_credentials_are_never_sent_in_clear_text_off_this_machine(endpoint: str) -> None:
    for model in (
        AzureOpenAIChatModel("dep", endpoint=endpoint, api_key=KEY),
        AzureOpenAIChatModel("dep", endpoint=endpoint, azure_ad_token_provider=lambda: TOKEN),
    ):
        with pytest.raises(ConfigurationError, match="https://") as refused:
            await model.request(user(), None, PARAMS)
        assert KEY not in str(refused.value)


async def test_an_endpoint_pasted_with_the_api_path_still_reaches_the_deployment(
    server: FakeAzureOpenAIServer,
) -> None:
    for suffix in ("/openai/", "/openai/v1"):
        model = AzureOpenAIChatModel("dep", endpoint=server.url + suffix, api_key=KEY)
        await model.request(user(), None, PARAMS)
        await model.aclose()
    assert {r.path.split("?")[0] for r in server.requests} == {
        "/openai/deployments/dep/chat/completions"
    }


async def test_openai_settings_in_the_environment_never_reach_azure(
    server: FakeAzureOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPENAI_* variables are meant for api.openai.com: none of them may reach the resource
    (and a stray AZURE_OPENAI_AD_TOKEN must not replace the configured key)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-key-that-must-not-leak")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-must-not-leak")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-must-not-leak")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "X-Internal-Secret: must-not-leak")
    monkeypatch.setenv("AZURE_OPENAI_AD_TOKEN", "stray-entra-token")
    model = AzureOpenAIChatModel("dep", endpoint=server.url, api_key=KEY)
    await model.request(user(), None, PARAMS)
    await model.aclose()

    headers = server.requests[0].headers
    assert headers["api-key"] == KEY
    for name in ("authorization", "openai-organization", "openai-project", "x-internal-secret"):
        assert name not in headers, name
    assert not any("must-not-leak" in value for value in headers.values())


async def test_a_filter_error_event_inside_a_stream_is_a_completion_filter(
    server: FakeAzureOpenAIServer, model: AzureOpenAIChatModel
) -> None:
    error = {
        "error": {
            "code": "content_filter",
            "message": "The response was filtered",
            "innererror": {
                "content_filter_result": {"hate": {"filtered": True, "severity": "high"}}
            },
        }
    }
    chunks = reply(text="Some", stream=True).sse
    assert chunks is not None
    server.add(FakeReply(sse=[*chunks[:2], error]))
    with pytest.raises(ContentFilterError) as filtered:
        await collect(model, user())
    assert filtered.value.stage == "output"
    assert filtered.value.categories == {"hate": {"filtered": True, "severity": "high"}}


async def test_a_slow_sync_token_provider_does_not_block_the_event_loop(
    server: FakeAzureOpenAIServer,
) -> None:
    """azure-identity's provider blocks on the network when its cache is cold: the loop must
    keep serving other tasks meanwhile."""
    import threading

    import anyio

    started, release = threading.Event(), threading.Event()
    loop_ran = anyio.Event()

    def slow_provider() -> str:
        started.set()
        assert release.wait(timeout=10), "the event loop never ran while the token was fetched"
        return TOKEN

    async def other_task() -> None:
        # Resumes on the loop only once the provider is running: if the provider held the
        # loop, this could not run until its wait timed out.
        await anyio.to_thread.run_sync(started.wait)
        loop_ran.set()
        release.set()

    model = AzureOpenAIChatModel("dep", endpoint=server.url, azure_ad_token_provider=slow_provider)
    async with anyio.create_task_group() as group:
        group.start_soon(model.request, user(), None, PARAMS)
        group.start_soon(other_task)
    await model.aclose()
    assert loop_ran.is_set()
    assert server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
