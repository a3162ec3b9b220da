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

`secret_values` (optional) lists strings that must never appear in the model's repr.
Tests are marked `@pytest.mark.asyncio`; in pytest-asyncio's strict mode declare an async
fixture with `@pytest_asyncio.fixture`.
"""

from __future__ import annotations

import re
from typing import ClassVar

import pytest

from covey.spec.messages import (
    ModelRequest,
    ModelResponse,
    SystemPart,
    TextPart,
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
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPartDelta,
)

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
    model: ChatModel, messages: list[ModelRequest | ModelResponse]
) -> list[ModelStreamEvent]:
    return [e async for e in model.request_stream(messages, None, ModelRequestParams())]


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
        """Strings (API keys...) that must never appear in the model's repr; override to add."""
        return []

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
