"""`FallbackModel`: try one model, then the next when it fails in a way another model may not."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Sequence

from covey.spec.errors import (
    ConfigurationError,
    ContextOverflowError,
    CoveyError,
    ModelConnectionError,
    ModelServerError,
    RateLimitedError,
)
from covey.spec.messages import ModelResponse
from covey.spec.models import (
    ChatModel,
    ModelMessages,
    ModelProfile,
    ModelRequestParams,
    ModelSettings,
    ModelStreamEvent,
)

__all__ = ["DEFAULT_FALLBACK_ON", "FallbackChain", "FallbackExhaustedError", "FallbackModel"]

DEFAULT_FALLBACK_ON: tuple[type[BaseException], ...] = (
    RateLimitedError,
    ModelServerError,
    ModelConnectionError,
    ContextOverflowError,
)
"""The errors after which `FallbackModel` moves on unless told otherwise."""

_MAX_DETAIL = 300


class FallbackExhaustedError(CoveyError):
    """Every model of a `FallbackModel` failed; `errors` holds each failure, in order.

    The last failure is also the `__cause__`. The message names each model and its error, but
    shows the text only of Covey errors (which never hold secrets): for any other exception only
    its class is shown, since a raw client error may quote a URL with a key in it.

    Attributes:
        errors: The error of each model tried, in order.
        model_names: The name of each model tried, in the same order.
    """

    def __init__(self, errors: Sequence[BaseException], model_names: Sequence[str]) -> None:
        self.errors: list[BaseException] = list(errors)
        self.model_names: list[str] = list(model_names)
        lines = [
            f"- {name}: {_describe(error)}"
            for name, error in zip(self.model_names, self.errors, strict=True)
        ]
        super().__init__(
            f"All {len(self.errors)} models failed; fix the first error or add a fallback model:\n"
            + "\n".join(lines)
        )


def _describe(error: BaseException) -> str:
    if not isinstance(error, CoveyError):
        return f"{type(error).__name__} (details withheld; see FallbackExhaustedError.errors)"
    text = str(error)
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 3] + "..."
    return f"{type(error).__name__}: {text}"


class FallbackModel(ChatModel):
    """A chat model that tries `primary`, then each fallback in turn, when a request fails.

    It moves on only after an error of a class in `fallback_on`; any other error propagates at
    once. Model strings (`"openai:gpt-4.1"`) are resolved through the plugin registry on first
    use, not at construction.

    Inside an agent run the engine walks the same `FallbackChain` step by step (so every switch
    is an event, and invalid output can fall back too); `request` and `request_stream` walk it
    for direct calls. Both end the same way: `FallbackExhaustedError` with every model's error.

    Args:
        primary: The model tried first.
        *fallbacks: The models tried next, in order.
        fallback_on: The error classes after which the next model is tried. Add
            `OutputValidationError` to fall back when a model's structured output stays invalid.

    Raises:
        ConfigurationError: a model is neither a `ChatModel` nor a string, or `fallback_on` is
            not a non-empty tuple of exception classes.

    Example:
        ```python
        model = FallbackModel("openai:gpt-4.1", "anthropic:claude-sonnet-4-5")
        ```
    """

    __slots__ = ("_fallback_on", "_lock", "_owned", "_resolved", "_specs")

    def __init__(
        self,
        primary: ChatModel | str,
        *fallbacks: ChatModel | str,
        fallback_on: tuple[type[BaseException], ...] = DEFAULT_FALLBACK_ON,
    ) -> None:
        specs = (primary, *fallbacks)
        for spec in specs:
            if not isinstance(spec, (ChatModel, str)):  # pyright: ignore[reportUnnecessaryIsInstance] - untyped callers
                raise ConfigurationError(
                    f"FallbackModel takes ChatModel instances or model strings like "
                    f"'openai:gpt-4.1', got {type(spec).__name__}."
                )
        if (
            not isinstance(fallback_on, tuple)  # pyright: ignore[reportUnnecessaryIsInstance]
            or not fallback_on
            or not all(
                isinstance(c, type) and issubclass(c, BaseException)  # pyright: ignore[reportUnnecessaryIsInstance]
                for c in fallback_on
            )
        ):
            raise ConfigurationError(
                f"FallbackModel(fallback_on=...) must be a non-empty tuple of exception classes, "
                f"e.g. (RateLimitedError, ModelServerError); got {fallback_on!r}."
            )
        self._specs: tuple[ChatModel | str, ...] = specs
        self._fallback_on = fallback_on
        self._resolved: tuple[ChatModel, ...] | None = None
        self._owned: tuple[ChatModel, ...] = ()
        # Resolution is synchronous and happens once; the lock keeps two first uses from
        # building two sets of clients.
        self._lock = threading.Lock()

    @property
    def models(self) -> list[ChatModel]:
        """Every model, primary first; model strings are resolved on first access.

        Raises:
            PluginNotFoundError: a model string names a provider that is not installed.
            ConfigurationError: a model string is malformed.
        """
        resolved = self._resolved
        if resolved is None:
            from covey.spec.plugins import resolve_model

            with self._lock:
                if self._resolved is None:
                    models = tuple(resolve_model(spec) for spec in self._specs)
                    self._owned = tuple(
                        m for m, spec in zip(models, self._specs, strict=True) if spec is not m
                    )
                    self._resolved = models
                resolved = self._resolved
        return list(resolved)

    @property
    def fallback_on(self) -> tuple[type[BaseException], ...]:
        """The error classes after which the next model is tried."""
        return self._fallback_on

    @property
    def model_name(self) -> str:
        """`fallback:` and each model's name or string, e.g. `fallback:openai:gpt-4.1,test`."""
        names = (spec if isinstance(spec, str) else spec.model_name for spec in self._specs)
        return "fallback:" + ",".join(names)

    @property
    def provider(self) -> str:
        """Always `"fallback"`."""
        return "fallback"

    @property
    def profile(self) -> ModelProfile:
        """The primary model's profile (resolving it if it was given as a string)."""
        return self.models[0].profile

    def should_fallback(self, error: BaseException) -> bool:
        """Whether the next model should be tried after `error`."""
        return isinstance(error, self._fallback_on)

    async def request(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> ModelResponse:
        """The first successful response, trying each model in turn.

        Raises:
            FallbackExhaustedError: every model failed with an error in `fallback_on`.
            Exception: the first error not in `fallback_on`, as it was raised.
        """
        chain = FallbackChain(self)
        while True:
            try:
                return await chain.current.request(messages, settings, params)
            except Exception as error:
                if chain.next_after(error) is None:
                    raise

    async def request_stream(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> AsyncIterator[ModelStreamEvent]:
        """Stream from the first model that starts streaming.

        A model is abandoned for the next only if it fails before its first event; once events
        have been yielded, a failure propagates (the consumer has already seen part of the
        answer).

        Raises:
            FallbackExhaustedError: every model failed before its first event with an error in
                `fallback_on`.
            Exception: any other error, as it was raised.
        """
        chain = FallbackChain(self)
        while True:
            model = chain.current
            stream = model.request_stream(messages, settings, params)
            try:
                try:
                    first = await anext(stream)
                except StopAsyncIteration:
                    return
                except Exception as error:
                    if chain.next_after(error) is None:
                        raise
                    continue
                yield first
                async for event in stream:
                    yield event
                return
            finally:
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()

    async def aclose(self) -> None:
        """Close the models this `FallbackModel` resolved from strings.

        Models passed in as instances belong to the caller and are left open.
        """
        for model in self._owned:
            await model.aclose()


class FallbackChain:
    """The walk through a model's fallbacks, shared by `FallbackModel` and the run engine.

    For a plain model the chain has one model and never moves on.

    Attributes:
        errors: The error of each model given up on, in order.
        model_names: The name of each of those models.
    """

    __slots__ = ("_fallback", "_index", "_models", "errors", "model_names")

    def __init__(self, model: ChatModel) -> None:
        self._fallback = model if isinstance(model, FallbackModel) else None
        self._models = model.models if isinstance(model, FallbackModel) else [model]
        self._index = 0
        self.errors: list[BaseException] = []
        self.model_names: list[str] = []

    @property
    def current(self) -> ChatModel:
        """The model to ask now."""
        return self._models[self._index]

    def next_after(self, error: BaseException) -> ChatModel | None:
        """Give up on the current model after `error` and return the next one.

        Returns:
            The next model, or `None` when `error` is not one to fall back on (re-raise it).

        Raises:
            FallbackExhaustedError: `error` is one to fall back on, and no model is left.
        """
        if self._fallback is None or not self._fallback.should_fallback(error):
            return None
        self.errors.append(error)
        self.model_names.append(self.current.model_name)
        if self._index + 1 >= len(self._models):
            raise FallbackExhaustedError(self.errors, self.model_names) from error
        self._index += 1
        return self.current
