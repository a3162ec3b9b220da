"""`AnthropicModel`: Claude over the Messages API, through the official `anthropic` SDK."""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any, NoReturn

from pydantic import SecretStr

from covey.models.anthropic._errors import map_error
from covey.models.anthropic._messages import PROVIDER_NAME
from covey.models.anthropic._profile import anthropic_profile
from covey.models.anthropic._request import MessagesRequest, build_request
from covey.models.anthropic._response import map_response
from covey.models.anthropic._stream import assemble_stream
from covey.spec.adapter_kit import Credentials, LazyClient, require_model_name
from covey.spec.errors import UnexpectedModelBehavior
from covey.spec.messages import ModelResponse
from covey.spec.models import (
    ChatModel,
    FinalResponseEvent,
    ModelMessages,
    ModelProfile,
    ModelRequestParams,
    ModelSettings,
    ModelStreamEvent,
)

if TYPE_CHECKING:
    import httpx2
    from anthropic import AsyncAnthropic

__all__ = ["API_KEY_ENV", "BASE_URL_ENV", "AnthropicModel"]

API_KEY_ENV = "ANTHROPIC_API_KEY"
"""The environment variable the API key is read from when none is passed."""
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
"""The environment variable the base URL is read from when none is passed."""

# Above this `max_tokens` the SDK expects a request to take over 10 minutes (it budgets one hour
# per 128k tokens) and will not send it without streaming.
_NON_STREAMED_MAX_TOKENS = 21_333


class AnthropicModel(ChatModel):
    """A Claude model behind Anthropic's Messages API.

    Constructing one does no I/O and imports no SDK: the `anthropic` client is built on the
    first request. The SDK's own retries are off (`max_retries=0`); Covey's run loop retries,
    so every attempt is an event.

    Settings map as follows: `max_tokens` (default 4096, plus the thinking budget when
    thinking is on), `temperature`, `top_p`, `stop` → `stop_sequences`, `parallel_tool_calls`
    False → `disable_parallel_tool_use`, `timeout`, `thinking_budget` → extended thinking,
    `reasoning_effort` → `output_config.effort` (`none` and `minimal` → `low`),
    `prompt_cache` (on unless False: the system prompt and the tool list are marked
    cacheable), `extra_headers`, `extra_body`. `seed` and the penalties have no Anthropic
    equivalent and are not sent.

    `request` streams under the hood when `max_tokens` is above 21,333 and no timeout is set,
    since the SDK will not send such a long request without streaming.

    Example:
        ```python
        from covey.models.anthropic import AnthropicModel

        model = AnthropicModel("claude-sonnet-4-5")  # key from ANTHROPIC_API_KEY
        ```

    Args:
        model_name: The API's model name, e.g. `claude-sonnet-4-5`.
        api_key: The API key; defaults to the `ANTHROPIC_API_KEY` environment variable, read at
            the first request. Stored as a `SecretStr`.
        base_url: The API's base URL; defaults to `ANTHROPIC_BASE_URL`, then the SDK's default.
        profile: Overrides the capability profile derived from the model name.
        http_client: An `httpx2.AsyncClient` for the SDK to use (proxies, custom transports,
            tests). It stays the caller's: `aclose` does not close it.
        default_headers: Headers sent with every request.
    """

    def __init__(
        self,
        model_name: str,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        profile: ModelProfile | None = None,
        http_client: httpx2.AsyncClient | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        model_name = require_model_name(
            model_name, adapter="AnthropicModel", example="claude-sonnet-4-5"
        )
        self._model_name = model_name
        self._credentials = Credentials(api_key, env_vars=API_KEY_ENV, provider="Anthropic")
        self._base_url = base_url
        self._profile = profile if profile is not None else anthropic_profile(model_name)
        self._http_client = http_client
        self._default_headers = dict(default_headers) if default_headers else None
        self._clients: LazyClient[AsyncAnthropic] = LazyClient(
            self._build_client, self._close_client
        )

    @property
    def model_name(self) -> str:
        """The API's model name."""
        return self._model_name

    @property
    def provider(self) -> str:
        """Always `anthropic`."""
        return PROVIDER_NAME

    @property
    def profile(self) -> ModelProfile:
        """What the model can do."""
        return self._profile

    def _build_client(self) -> AsyncAnthropic:
        key = self._credentials.api_key()
        from anthropic import AsyncAnthropic, DefaultAsyncHttpxClient

        http_client = self._http_client
        if http_client is None:
            # The SDK's own default client, on the process's one TLS context: building a context
            # loads the CA bundle (~60-90 ms), once per client otherwise, so once per `run_sync`.
            http_client = DefaultAsyncHttpxClient(verify=_shared_ssl_context())
        return AsyncAnthropic(
            api_key=key.get_secret_value(),
            base_url=self._base_url or os.environ.get(BASE_URL_ENV) or None,
            max_retries=0,
            http_client=http_client,
            default_headers=self._default_headers,
        )

    async def _close_client(self, client: AsyncAnthropic) -> None:
        if self._http_client is None:  # an HTTP client passed in stays the caller's
            await client.close()

    def _raise(self, exc: Exception) -> NoReturn:
        mapped = map_error(exc, model_name=self._model_name, secrets=self._credentials.secrets())
        if mapped is exc:
            raise exc
        raise mapped from exc

    def _create_kwargs(self, request: MessagesRequest) -> dict[str, Any]:
        from anthropic import NOT_GIVEN, omit

        def given(value: Any) -> Any:
            return omit if value is None else value

        return {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": request.messages,
            "system": given(request.system),
            "tools": given(request.tools),
            "tool_choice": given(request.tool_choice),
            "thinking": given(request.thinking),
            "output_config": given(request.output_config),
            "stop_sequences": given(request.stop_sequences),
            "extra_headers": request.extra_headers,
            "extra_body": request.extra_body or None,
            # `None` would mean "no timeout" to the SDK; leave its default instead.
            "timeout": NOT_GIVEN if request.timeout is None else request.timeout,
        }

    async def request(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> ModelResponse:
        """Send one Messages API request and return the whole response.

        Raises:
            ConfigurationError: no API key, or the history holds media the API does not take.
            RateLimitedError: HTTP 429; `retry_after` holds the wait the API asked for.
            AuthenticationError: HTTP 401/403.
            ContextOverflowError: the prompt is longer than the model's context window.
            ModelServerError: HTTP 5xx or 529 (overloaded).
            ModelHTTPError: any other error status.
            ModelConnectionError: the API could not be reached or timed out.
        """
        request = build_request(self._model_name, messages, settings or ModelSettings(), params)
        if request.timeout is None and request.max_tokens > _NON_STREAMED_MAX_TOKENS:
            # The SDK refuses a non-streamed request it expects to outlast its 10-minute
            # default timeout; Anthropic's advice is to stream it, so stream and collect.
            final: ModelResponse | None = None
            async for event in self._stream(request):
                if isinstance(event, FinalResponseEvent):
                    final = event.response
            if final is None:  # `_stream` ends with the final response or raises
                raise UnexpectedModelBehavior("The Anthropic stream ended without a response.")
            return final
        kwargs = self._create_kwargs(request)
        try:
            client = await self._clients.get()
            message = await client.messages.create(**kwargs, stream=False)
        except Exception as exc:
            self._raise(exc)
        return map_response(message)

    async def request_stream(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> AsyncIterator[ModelStreamEvent]:
        """Stream one Messages API request: part events as they arrive, then the response.

        An `error` event inside the stream (e.g. `overloaded_error`) raises the same errors as
        `request` does for the matching HTTP status.

        Raises:
            ConfigurationError: as for `request`.
            ModelHTTPError: and its subclasses, as for `request`.
            ModelConnectionError: the API could not be reached, timed out or dropped the stream.
            UnexpectedModelBehavior: the stream ended before `message_stop`.
        """
        request = build_request(self._model_name, messages, settings or ModelSettings(), params)
        async for event in self._stream(request):
            yield event

    async def _stream(self, request: MessagesRequest) -> AsyncIterator[ModelStreamEvent]:
        kwargs = self._create_kwargs(request)
        try:
            client = await self._clients.get()
            stream = await client.messages.create(**kwargs, stream=True)
        except Exception as exc:
            self._raise(exc)
        events = assemble_stream(stream, model_name=self._model_name)
        try:
            async for event in events:
                yield event
        except Exception as exc:
            self._raise(exc)
        finally:
            await events.aclose()
            await stream.close()

    async def aclose(self) -> None:
        """Close the SDK client, unless its HTTP client was passed in. Safe to call twice."""
        await self._clients.aclose()

    def __repr__(self) -> str:
        return f"AnthropicModel(model_name={self._model_name!r})"


@cache
def _shared_ssl_context() -> ssl.SSLContext:
    """The TLS context every SDK client of this process verifies servers with (built once; an
    `SSLContext` is safe to share between threads and event loops)."""
    import httpx2

    return httpx2.create_ssl_context()
