"""`ChatModelSuite`: what every `covey.spec.models.ChatModel` adapter must do.

Subclass it in your plugin's tests and supply one fixture, `chat_model`: a model whose backend
(real, recorded or a local fake server) answers any plain text request with non-empty text::

    class TestOpenAIChat(ChatModelSuite):
        @pytest.fixture
        def chat_model(self, fake_openai_server):
            return OpenAIChatModel("gpt-4.1", base_url=fake_openai_server.url, api_key="sk-test")

        @pytest.fixture
        def secret_values(self):
            return ["sk-test"]

`secret_values` (optional) lists strings that must never appear in the model's repr, its
errors or the logs.

`chat_script` returns a `covey.conformance.ChatScript` over the same backend: the tool-call,
error-mapping, structured-output and secret-scrubbing tests queue the backend's next answers
through it (`text`, `tool_calls`, `error`, `context_overflow`), in the provider's own wire format.
It is what makes the suite test exactly where adapters differ::

        @pytest.fixture
        def chat_script(self, fake_openai_server):
            return OpenAIScript(fake_openai_server)  # queues FakeReply objects

Tests are marked `@pytest.mark.asyncio`; in pytest-asyncio's strict mode declare an async
fixture with `@pytest_asyncio.fixture`.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from typing import ClassVar

import pytest

from covey.conformance.chat_script import ChatScript, ScriptedToolCall
from covey.spec.errors import (
    AuthenticationError,
    ContextOverflowError,
    ModelHTTPError,
    ModelServerError,
    RateLimitedError,
)
from covey.spec.messages import (
    ModelRequest,
    ModelResponse,
    SystemPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
    dump_messages,
)
from covey.spec.models import (
    ChatModel,
    FinalResponseEvent,
    ModelProfile,
    ModelRequestParams,
    ModelSettings,
    ModelStreamEvent,
    OutputSchema,
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPartDelta,
    ToolCallPartDelta,
)
from covey.spec.tools import ToolDefinition

__all__ = ["ChatModelSuite"]

_SECRET_PATTERNS = [
    re.compile(r"sk-[A-Za-z0-9_-]{16,}"),
    re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}"),
    re.compile(r"AIza[0-9A-Za-z_-]{20,}"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/-]{16,}"),
    re.compile(r"(?i)(api[_-]?key|secret|token|password)\s*[=:]\s*['\"]?[^'\"\s*]{6,}"),
]


def _plain_request() -> list[ModelRequest | ModelResponse]:
    return [ModelRequest.user("Say hello in one short sentence.")]


async def _stream(
    model: ChatModel,
    messages: list[ModelRequest | ModelResponse],
    params: ModelRequestParams | None = None,
) -> list[ModelStreamEvent]:
    return [e async for e in model.request_stream(messages, None, params or ModelRequestParams())]


_WEATHER_TOOL = ToolDefinition(
    name="get_weather",
    description="The weather in a city.",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)
_TOOLS = ModelRequestParams(function_tools=[_WEATHER_TOOL])
_WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "celsius": {"type": "integer"}},
    "required": ["city", "celsius"],
    "additionalProperties": False,
}
# A key shaped like a real one, and a bearer token, that a careless server echoes back.
_LEAKED_KEY = "sk-proj-LEAKEDkey0123456789abcdefXYZ"
_LEAKED_TOKEN = "eyJhbGciOiJIUzI1NiJ9.leaked-bearer-token.0123456789"


def _weather_call(city: str, call_id: str) -> ScriptedToolCall:
    return ScriptedToolCall("get_weather", {"city": city}, call_id)


class ChatModelSuite:
    """Conformance tests for a `ChatModel` adapter. Supply the `chat_model` fixture."""

    __covey_conformance_suite__: ClassVar[bool] = True

    @pytest.fixture
    def chat_model(self) -> ChatModel:
        """The model under test: override this fixture in your subclass."""
        pytest.fail(
            "ChatModelSuite needs a `chat_model` fixture: define `chat_model` in your subclass, "
            "returning (or yielding) a ChatModel whose backend answers plain text requests.",
            pytrace=False,
        )

    @pytest.fixture
    def secret_values(self) -> list[str]:
        """Strings (API keys...) that must never appear in the model's repr, errors or logs;
        override to add the key your `chat_model` is configured with."""
        return []

    @pytest.fixture
    def chat_script(self) -> ChatScript:
        """Scripts the backend of `chat_model`: override this fixture in your subclass."""
        pytest.fail(
            "ChatModelSuite needs a `chat_script` fixture: return a covey.conformance.ChatScript "
            "that queues your fake server's next answers (text, tool calls, errors, context "
            "overflow) in the provider's wire format.",
            pytrace=False,
        )

    def test_identity(self, chat_model: ChatModel) -> None:
        """`model_name` and `provider` are non-empty strings; `profile` is a `ModelProfile`.

        If this fails: implement `model_name`, override `provider` with your provider's short
        name, and return a `ModelProfile` from `profile`.
        """
        assert isinstance(chat_model.model_name, str)
        assert chat_model.model_name.strip()
        assert isinstance(chat_model.provider, str)
        assert chat_model.provider.strip()
        assert isinstance(chat_model.profile, ModelProfile)

    @pytest.mark.asyncio
    async def test_request_returns_text_and_usage(self, chat_model: ChatModel) -> None:
        """A plain request returns a `ModelResponse` with text and `usage.requests >= 1`.

        If this fails: map the provider's message content to `TextPart`s and its usage to
        `Usage` (with `requests=1` for one call).
        """
        response = await chat_model.request(_plain_request(), None, ModelRequestParams())
        assert isinstance(response, ModelResponse)
        assert response.text().strip()
        assert not response.tool_calls(), "no tools were offered, yet the response calls one"
        assert response.usage.requests >= 1

    @pytest.mark.asyncio
    async def test_request_with_system_prompt_and_history(self, chat_model: ChatModel) -> None:
        """A request with a system prompt and earlier turns is answered.

        If this fails: translate `SystemPart`s (to a system message or a top-level
        `system`/`instructions` field) and replay earlier `ModelResponse`s as assistant turns.
        """
        messages: list[ModelRequest | ModelResponse] = [
            ModelRequest(
                parts=[SystemPart(content="You are terse."), UserPart(content="My name is Ada.")]
            ),
            ModelResponse(parts=[TextPart(content="Hello Ada.")]),
            ModelRequest.user("What is my name?"),
        ]
        response = await chat_model.request(messages, None, ModelRequestParams())
        assert response.text().strip()

    @pytest.mark.asyncio
    async def test_request_accepts_settings(self, chat_model: ChatModel) -> None:
        """Common settings (`max_tokens`, `temperature`) are accepted.

        If this fails: map `ModelSettings` fields to the provider's parameter names, and leave
        out the ones that are `None`.
        """
        settings = ModelSettings(max_tokens=256, temperature=0.0)
        response = await chat_model.request(_plain_request(), settings, ModelRequestParams())
        assert response.text().strip()

    @pytest.mark.asyncio
    async def test_request_does_not_change_the_messages(self, chat_model: ChatModel) -> None:
        """The adapter never changes the history it is given.

        If this fails: build new provider payloads instead of editing parts in place.
        """
        messages = _plain_request()
        before = dump_messages(messages)
        await chat_model.request(messages, None, ModelRequestParams())
        assert dump_messages(messages) == before

    @pytest.mark.asyncio
    async def test_stream_event_order(self, chat_model: ChatModel) -> None:
        """Each part streams as start, deltas, end; one `FinalResponseEvent` closes the stream.

        If this fails: use `covey.spec.streaming.ResponseAssembler`, which numbers the parts
        from 0 and emits the events in this order, and finish with `assembler.finish(...)`.
        """
        events = await _stream(chat_model, _plain_request())
        assert events, "the stream yielded nothing"
        finals = [e for e in events if isinstance(e, FinalResponseEvent)]
        assert len(finals) == 1, "exactly one FinalResponseEvent, please"
        assert isinstance(events[-1], FinalResponseEvent), "FinalResponseEvent must come last"
        final = finals[0].response
        started: set[int] = set()
        ended: set[int] = set()
        for event in events[:-1]:
            assert isinstance(event, PartStartEvent | PartDeltaEvent | PartEndEvent)
            if isinstance(event, PartStartEvent):
                assert event.index not in started, f"part {event.index} started twice"
                started.add(event.index)
            else:
                assert event.index in started, f"part {event.index} not started first"
                assert event.index not in ended, f"part {event.index} has events after its end"
                if isinstance(event, PartEndEvent):
                    ended.add(event.index)
        assert started == ended == set(range(len(final.parts))), "parts must be 0..n-1, all ended"
        for event in events:
            if isinstance(event, PartEndEvent):
                assert event.part == final.parts[event.index]

    @pytest.mark.asyncio
    async def test_stream_deltas_add_up_to_the_final_text(self, chat_model: ChatModel) -> None:
        """The text of start events plus deltas equals the final response's text; usage is set.

        If this fails: put the first chunk in `PartStartEvent.part.content` and each later
        chunk in one `TextPartDelta`, without repeating text; report usage in the final
        response (`requests >= 1`).
        """
        events = await _stream(chat_model, _plain_request())
        streamed: dict[int, str] = {}
        for event in events:
            if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
                streamed[event.index] = event.part.content
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
                streamed[event.index] = streamed.get(event.index, "") + event.delta.content
        final = events[-1]
        assert isinstance(final, FinalResponseEvent)
        assert final.response.text().strip()
        assert "".join(streamed[i] for i in sorted(streamed)) == final.response.text()
        assert final.response.usage.requests >= 1

    def test_repr_has_no_secrets(self, chat_model: ChatModel, secret_values: list[str]) -> None:
        """Neither `repr` nor `str` of the model shows an API key or other secret.

        If this fails: keep keys in `pydantic.SecretStr` and do not include clients or
        headers in `__repr__`.
        """
        for text in (repr(chat_model), str(chat_model)):
            for secret in secret_values:
                assert secret not in text, "a secret value appears in the model's repr"
            for pattern in _SECRET_PATTERNS:
                assert not pattern.search(text), f"something like a secret: {pattern.pattern}"

    @pytest.mark.asyncio
    async def test_aclose_is_idempotent(self, chat_model: ChatModel) -> None:
        """`aclose` can be called twice.

        If this fails: guard the client close so a second call is a no-op.
        """
        await chat_model.aclose()
        await chat_model.aclose()

    # --- tool calls ------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_tool_call(self, chat_model: ChatModel, chat_script: ChatScript) -> None:
        """A response calling a tool becomes one `ToolCallPart` with its name, id and arguments.

        If this fails: declare `params.function_tools` to the provider, and map each tool call
        in its answer to `ToolCallPart(tool_name, args, tool_call_id)`; generate an id when the
        provider sends none.
        """
        chat_script.tool_calls([_weather_call("Paris", "call_paris")])
        response = await chat_model.request(_plain_request(), None, _TOOLS)
        calls = response.tool_calls()
        assert len(calls) == 1, f"one tool call expected, got {calls!r}"
        assert calls[0].tool_name == "get_weather"
        assert calls[0].args_as_dict() == {"city": "Paris"}
        assert calls[0].tool_call_id, "every tool call needs an id, to pair it with its result"

    @pytest.mark.asyncio
    async def test_parallel_tool_calls(
        self, chat_model: ChatModel, chat_script: ChatScript
    ) -> None:
        """Several tool calls in one response all come back, in order, with distinct ids.

        If this fails: map every tool call of the answer, not only the first, and keep their
        order; never reuse one id for two calls.
        """
        chat_script.tool_calls([_weather_call("Paris", "call_a"), _weather_call("Oslo", "call_b")])
        response = await chat_model.request(_plain_request(), None, _TOOLS)
        calls = response.tool_calls()
        assert [c.args_as_dict()["city"] for c in calls] == ["Paris", "Oslo"]
        assert len({c.tool_call_id for c in calls}) == 2, "parallel calls need distinct ids"

    @pytest.mark.asyncio
    async def test_stream_tool_call_deltas(
        self, chat_model: ChatModel, chat_script: ChatScript
    ) -> None:
        """A streamed tool call starts as a `ToolCallPart`; its argument fragments arrive as
        `ToolCallPartDelta`s that add up to the final call's arguments.

        If this fails: start the part with the tool's name and id, send each argument JSON
        fragment once as `ToolCallPartDelta.args_delta` (or the whole arguments in the start
        part when the provider sends them whole), and end the part with the complete call.
        """
        chat_script.tool_calls([_weather_call("Paris", "call_a"), _weather_call("Oslo", "call_b")])
        events = await _stream(chat_model, _plain_request(), _TOOLS)
        final = events[-1]
        assert isinstance(final, FinalResponseEvent), "the stream must end with the response"
        calls = final.response.tool_calls()
        assert [c.args_as_dict()["city"] for c in calls] == ["Paris", "Oslo"]
        streamed: dict[int, str] = {}
        for event in events:
            if isinstance(event, PartStartEvent) and isinstance(event.part, ToolCallPart):
                args = event.part.args
                streamed[event.index] = (
                    args if isinstance(args, str) else (json.dumps(args) if args else "")
                )
            elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, ToolCallPartDelta):
                assert event.index in streamed, "a tool-call delta for a part never started"
                streamed[event.index] += event.delta.args_delta
        assert len(streamed) == 2, "each tool call streams as a part of its own"
        for index, text in streamed.items():
            part = final.response.parts[index]
            assert isinstance(part, ToolCallPart)
            assert json.loads(text or "{}") == part.args_as_dict()

    @pytest.mark.asyncio
    async def test_tool_results_are_sent_back(
        self, chat_model: ChatModel, chat_script: ChatScript
    ) -> None:
        """A history with a tool call and its result is accepted, and the answer is read.

        If this fails: replay `ToolCallPart`s as the provider's assistant tool calls and
        `ToolReturnPart`s as its tool results, paired by `tool_call_id`.
        """
        chat_script.text("It is 21 C in Paris.")
        messages: list[ModelRequest | ModelResponse] = [
            ModelRequest.user("Weather in Paris?"),
            ModelResponse(
                parts=[
                    ToolCallPart(
                        tool_name="get_weather", args={"city": "Paris"}, tool_call_id="call_1"
                    )
                ]
            ),
            ModelRequest(
                parts=[
                    ToolReturnPart(tool_name="get_weather", content="21 C", tool_call_id="call_1")
                ]
            ),
        ]
        response = await chat_model.request(messages, None, _TOOLS)
        assert response.text() == "It is 21 C in Paris."

    # --- structured output -----------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_structured_output_through_an_output_tool(
        self, chat_model: ChatModel, chat_script: ChatScript
    ) -> None:
        """In `tool` output mode the output tool is offered and its call comes back.

        If this fails: declare `params.output_tools` like function tools (they are in
        `params.all_tools`) and honour `tool_choice="required"` when text is not allowed.
        """
        output_tool = ToolDefinition(
            name="final_result", parameters_json_schema=_WEATHER_SCHEMA, kind="output"
        )
        params = ModelRequestParams(
            output_mode="tool",
            output_tools=[output_tool],
            allow_text_output=False,
            tool_choice="required",
        )
        chat_script.tool_calls([ScriptedToolCall("final_result", {"city": "Paris", "celsius": 21})])
        response = await chat_model.request(_plain_request(), None, params)
        calls = response.tool_calls()
        assert [c.tool_name for c in calls] == ["final_result"]
        assert calls[0].args_as_dict() == {"city": "Paris", "celsius": 21}

    @pytest.mark.asyncio
    async def test_structured_output_as_json_text(
        self, chat_model: ChatModel, chat_script: ChatScript
    ) -> None:
        """With an output schema (`native` mode where the profile supports it, else
        `prompted`) the JSON the model answers is the response's text, unchanged.

        If this fails: send the schema in the provider's JSON-schema response format (native)
        or accept it without error (prompted), and return the answer's text as it came.
        """
        mode = "native" if chat_model.profile.supports_json_schema_output else "prompted"
        params = ModelRequestParams(
            output_mode=mode,
            output_schema=OutputSchema(name="weather", json_schema=_WEATHER_SCHEMA),
            allow_text_output=False,
        )
        chat_script.text(json.dumps({"city": "Paris", "celsius": 21}))
        response = await chat_model.request(_plain_request(), None, params)
        assert json.loads(response.text()) == {"city": "Paris", "celsius": 21}

    # --- errors ----------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_rate_limit_error_carries_retry_after(
        self, chat_model: ChatModel, chat_script: ChatScript
    ) -> None:
        """HTTP 429 with `retry-after: 7` raises `RateLimitedError` with `retry_after == 7`.

        If this fails: map 429 to `covey.spec.errors.RateLimitedError` and read the wait with
        `covey.spec.http_headers.retry_after_seconds` (the adapter kit's
        `ProviderErrors.from_status` does both); turn the SDK's own retries off.
        """
        chat_script.error(429, "Rate limit reached for requests", retry_after=7)
        with pytest.raises(RateLimitedError) as caught:
            await chat_model.request(_plain_request(), None, ModelRequestParams())
        assert caught.value.status_code == 429
        assert caught.value.retry_after == pytest.approx(7)

    @pytest.mark.asyncio
    async def test_refused_key_is_an_authentication_error(
        self, chat_model: ChatModel, chat_script: ChatScript
    ) -> None:
        """HTTP 401 raises `AuthenticationError`, whose message names what to check.

        If this fails: map 401/403 to `covey.spec.errors.AuthenticationError` (the adapter kit's
        `ProviderErrors.from_status` does, naming the key's environment variable).
        """
        chat_script.error(401, "Invalid authentication credentials")
        with pytest.raises(AuthenticationError) as caught:
            await chat_model.request(_plain_request(), None, ModelRequestParams())
        assert caught.value.status_code == 401

    @pytest.mark.asyncio
    @pytest.mark.parametrize("status", [500, 503])
    async def test_server_failure_is_a_server_error(
        self, chat_model: ChatModel, chat_script: ChatScript, status: int
    ) -> None:
        """HTTP 5xx raises `ModelServerError` (retryable), also when streaming.

        If this fails: map every status from 500 up to `covey.spec.errors.ModelServerError`,
        and map errors the same way when they happen at the start of a stream.
        """
        chat_script.error(status, "The server had an error while processing your request")
        with pytest.raises(ModelServerError) as caught:
            await chat_model.request(_plain_request(), None, ModelRequestParams())
        assert caught.value.status_code == status
        chat_script.error(status, "The server had an error while processing your request")
        with pytest.raises(ModelServerError):
            await _stream(chat_model, _plain_request())

    @pytest.mark.asyncio
    async def test_context_overflow_error(
        self, chat_model: ChatModel, chat_script: ChatScript
    ) -> None:
        """The provider's "prompt too long" answer raises `ContextOverflowError`.

        If this fails: give the provider's overflow codes and wording to the adapter kit as
        `ContextOverflow(codes=..., patterns=...)`; `ProviderErrors.from_status` checks them.
        """
        chat_script.context_overflow()
        with pytest.raises(ContextOverflowError) as caught:
            await chat_model.request(_plain_request(), None, ModelRequestParams())
        assert isinstance(caught.value, ModelHTTPError)

    @pytest.mark.asyncio
    async def test_errors_never_show_secrets(
        self,
        chat_model: ChatModel,
        chat_script: ChatScript,
        secret_values: list[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A key or bearer token a server echoes in an error body reaches neither the error's
        `str`, `repr` or `body`, nor its traceback (with the SDK error it was raised from), nor
        the logs.

        If this fails: redact messages, bodies and the SDK's exception with the adapter kit
        (`ProviderErrors.from_status` redacts message and body; call
        `redact_exception(sdk_error, secrets)` before raising from it).
        """
        secrets = [*secret_values, _LEAKED_KEY, _LEAKED_TOKEN]
        echoed = " ".join(secret_values)
        message = (
            f"Incorrect API key provided: {echoed} {_LEAKED_KEY}. "
            f"Header was Authorization: Bearer {_LEAKED_TOKEN}"
        )
        chat_script.error(401, message)
        caplog.set_level(logging.DEBUG)
        with pytest.raises(AuthenticationError) as caught:
            await chat_model.request(_plain_request(), None, ModelRequestParams())
        error = caught.value
        logging.getLogger("covey.conformance").error("request failed", exc_info=error)
        shown = {
            "str": str(error),
            "repr": repr(error),
            "body": repr(error.body),
            "traceback": "".join(traceback.format_exception(error)),
            "logs": caplog.text,
        }
        for where, text in shown.items():
            for secret in secrets:
                assert secret not in text, f"a secret appears in the error's {where}"
