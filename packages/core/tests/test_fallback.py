"""FallbackModel moves on to the next model only for the error classes it is told to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from covey.core.fallback import FallbackExhaustedError, FallbackModel
from covey.core.testing import TestModel
from covey.spec.errors import (
    AuthenticationError,
    ConfigurationError,
    ContextOverflowError,
    ModelConnectionError,
    ModelServerError,
    OutputValidationError,
    PluginNotFoundError,
    RateLimitedError,
)
from covey.spec.messages import ModelRequest, ModelResponse, TextPart
from covey.spec.models import (
    ChatModel,
    FinalResponseEvent,
    ModelMessages,
    ModelProfile,
    ModelRequestParams,
    ModelSettings,
    ModelStreamEvent,
    PartStartEvent,
)

MESSAGES = [ModelRequest.user("hello")]
PARAMS = ModelRequestParams()


class Scripted(ChatModel):
    """Answers with its name, or raises `error` (before or after the first stream event)."""

    def __init__(
        self,
        name: str,
        error: BaseException | None = None,
        *,
        fail_after_first_event: bool = False,
        profile: ModelProfile | None = None,
    ) -> None:
        self.name = name
        self.error = error
        self.fail_after_first_event = fail_after_first_event
        self._profile = profile or ModelProfile()
        self.calls = 0
        self.closed = 0

    @property
    def model_name(self) -> str:
        return self.name

    @property
    def profile(self) -> ModelProfile:
        return self._profile

    async def request(
        self, messages: ModelMessages, settings: ModelSettings | None, params: ModelRequestParams
    ) -> ModelResponse:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return ModelResponse(parts=[TextPart(content=self.name)], model_name=self.name)

    async def request_stream(
        self, messages: ModelMessages, settings: ModelSettings | None, params: ModelRequestParams
    ) -> AsyncIterator[ModelStreamEvent]:
        self.calls += 1
        if self.error is not None and not self.fail_after_first_event:
            raise self.error
        yield PartStartEvent(0, TextPart(content=self.name))
        if self.error is not None:
            raise self.error
        yield FinalResponseEvent(ModelResponse(parts=[TextPart(content=self.name)]))

    async def aclose(self) -> None:
        self.closed += 1


async def stream_text(model: ChatModel) -> tuple[list[ModelStreamEvent], str]:
    events = [e async for e in model.request_stream(MESSAGES, None, PARAMS)]
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    return events, final.response.text()


@pytest.mark.parametrize(
    "error",
    [
        RateLimitedError(retry_after=600),
        ModelServerError("overloaded", status_code=529),
        ModelConnectionError("unreachable"),
        ContextOverflowError("too long", status_code=400),
    ],
)
async def test_moves_on_after_default_fallback_errors(error: BaseException) -> None:
    primary, backup = Scripted("a", error), Scripted("b")
    response = await FallbackModel(primary, backup).request(MESSAGES, None, PARAMS)
    assert response.text() == "b"
    assert (primary.calls, backup.calls) == (1, 1)


@pytest.mark.parametrize(
    "error",
    [
        AuthenticationError("bad key", status_code=401),
        OutputValidationError("invalid"),
        ValueError("bug"),
    ],
)
async def test_other_errors_propagate_without_trying_the_next_model(error: BaseException) -> None:
    primary, backup = Scripted("a", error), Scripted("b")
    with pytest.raises(type(error)) as raised:
        await FallbackModel(primary, backup).request(MESSAGES, None, PARAMS)
    assert raised.value is error
    assert backup.calls == 0


async def test_fallback_on_is_chosen_by_the_user() -> None:
    model = FallbackModel(
        Scripted("a", OutputValidationError("invalid")),
        Scripted("b"),
        fallback_on=(OutputValidationError,),
    )
    assert (await model.request(MESSAGES, None, PARAMS)).text() == "b"
    assert model.should_fallback(OutputValidationError("x"))
    assert not model.should_fallback(RateLimitedError())


def test_should_fallback_defaults() -> None:
    model = FallbackModel(Scripted("a"))
    assert model.should_fallback(RateLimitedError())
    assert model.should_fallback(ContextOverflowError("x", status_code=400))
    assert not model.should_fallback(OutputValidationError("x"))
    assert not model.should_fallback(AuthenticationError("x", status_code=401))


async def test_exhaustion_lists_every_error_in_order() -> None:
    first = RateLimitedError(retry_after=3)
    second = ModelServerError("boom", status_code=500)
    third = RuntimeError("https://api.example.com/v1?key=sk-very-secret")
    model = FallbackModel(
        Scripted("a", first),
        Scripted("b", second),
        Scripted("c", third),
        fallback_on=(RateLimitedError, ModelServerError, RuntimeError),
    )
    with pytest.raises(FallbackExhaustedError) as raised:
        await model.request(MESSAGES, None, PARAMS)
    error = raised.value
    assert error.errors == [first, second, third]
    assert error.model_names == ["a", "b", "c"]
    assert error.__cause__ is third
    message = str(error)
    assert "- a: RateLimitedError: Rate limited by the model provider (HTTP 429)" in message
    assert "- b: ModelServerError: boom (HTTP 500)" in message
    assert "- c: RuntimeError" in message
    assert "sk-very-secret" not in message


async def test_tries_models_in_order_and_stops_at_the_first_success() -> None:
    a, b, c = Scripted("a", ModelConnectionError("x")), Scripted("b"), Scripted("c")
    model = FallbackModel(a, b, c)
    assert (await model.request(MESSAGES, None, PARAMS)).text() == "b"
    assert (a.calls, b.calls, c.calls) == (1, 1, 0)


# --- streaming -----------------------------------------------------------------------------------


async def test_stream_falls_back_when_the_failure_comes_before_the_first_event() -> None:
    primary, backup = Scripted("a", ModelServerError("x", status_code=503)), Scripted("b")
    events, text = await stream_text(FallbackModel(primary, backup))
    assert text == "b"
    assert isinstance(events[0], PartStartEvent)
    assert events[0].part == TextPart(content="b")


async def test_stream_does_not_fall_back_after_the_first_event() -> None:
    error = ModelServerError("mid-stream", status_code=500)
    primary = Scripted("a", error, fail_after_first_event=True)
    backup = Scripted("b")
    seen: list[ModelStreamEvent] = []

    async def consume() -> None:
        async for event in FallbackModel(primary, backup).request_stream(MESSAGES, None, PARAMS):
            seen.append(event)

    with pytest.raises(ModelServerError) as raised:
        await consume()
    assert raised.value is error
    assert len(seen) == 1
    assert backup.calls == 0


async def test_stream_propagates_errors_not_in_fallback_on() -> None:
    backup = Scripted("b")
    model = FallbackModel(Scripted("a", AuthenticationError("no", status_code=403)), backup)
    with pytest.raises(AuthenticationError):
        await stream_text(model)
    assert backup.calls == 0


async def test_stream_exhaustion() -> None:
    model = FallbackModel(
        Scripted("a", RateLimitedError()), Scripted("b", ModelConnectionError("x"))
    )
    with pytest.raises(FallbackExhaustedError) as raised:
        await stream_text(model)
    assert [type(e) for e in raised.value.errors] == [RateLimitedError, ModelConnectionError]


# --- model strings, names, profile, closing ------------------------------------------------------


def test_model_strings_are_resolved_on_first_use_only() -> None:
    model = FallbackModel("not-installed:x", TestModel())  # no resolution yet: no error
    assert model.model_name == "fallback:not-installed:x,test"
    with pytest.raises(PluginNotFoundError):
        _ = model.models


def test_models_resolved_through_the_registry() -> None:
    given = TestModel(model_name="given")
    model = FallbackModel("test:first", given)
    models = model.models
    assert [m.model_name for m in models] == ["first", "given"]
    assert isinstance(models[0], TestModel)
    assert models[1] is given
    assert model.models[0] is models[0]  # resolved once
    assert model.model_name == "fallback:test:first,given"


async def test_resolved_string_models_answer_requests() -> None:
    response = await FallbackModel("test:one").request(MESSAGES, None, PARAMS)
    assert response.text() == "success (no tool calls)"
    assert response.model_name == "one"


def test_profile_is_the_primary_models() -> None:
    profile = ModelProfile(supports_images=True, default_output_mode="native")
    model = FallbackModel(Scripted("a", profile=profile), Scripted("b"))
    assert model.profile is profile
    assert model.provider == "fallback"


async def test_aclose_closes_only_the_models_it_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    import covey.spec.plugins

    created: list[Scripted] = []

    def fake_resolve(spec: str | ChatModel) -> ChatModel:
        if isinstance(spec, ChatModel):
            return spec
        created.append(Scripted(spec))
        return created[-1]

    monkeypatch.setattr(covey.spec.plugins, "resolve_model", fake_resolve)
    given = Scripted("given")
    model = FallbackModel("x:resolved", given)
    assert len(model.models) == 2
    await model.aclose()
    assert [m.closed for m in created] == [1]
    assert given.closed == 0


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((42,), {}),
        (("test:a",), {"fallback_on": ()}),
        (("test:a",), {"fallback_on": [RateLimitedError]}),
        (("test:a",), {"fallback_on": ("RateLimitedError",)}),
    ],
)
def test_invalid_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        FallbackModel(*args, **kwargs)
