"""`OpenAIChatModel`: OpenAI's Chat Completions API, and every server that speaks it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from covey.models.openai._base import OpenAIModelBase
from covey.models.openai._chat_messages import chat_messages
from covey.models.openai._chat_response import parse_completion, stream_completion
from covey.models.openai._settings import chat_settings, sdk_options
from covey.models.openai._tools import (
    chat_response_format,
    chat_tool_choice,
    chat_tools,
    resolve_tool_choice,
)
from covey.models.openai.profiles import OpenAIModelProfile
from covey.models.openai.providers import OpenAICompatibleProvider
from covey.spec.messages import ModelResponse
from covey.spec.models import (
    ModelMessages,
    ModelRequestParams,
    ModelSettings,
    ModelStreamEvent,
)

if TYPE_CHECKING:
    import httpx2

__all__ = ["OpenAIChatModel"]


class OpenAIChatModel(OpenAIModelBase):
    """A chat model behind the Chat Completions API (`POST /chat/completions`).

    Works with OpenAI and with any OpenAI-compatible server: pick one from `PROVIDERS` by name
    (`provider="ollama"`) or pass an `OpenAICompatibleProvider`. Construction does no I/O; the
    SDK client is built on the first request.

    Args:
        model_name: The server's model name, e.g. `gpt-4.1` or `llama3.2`.
        api_key: The API key; defaults to the provider's variable (`OPENAI_API_KEY`, ...).
            Local servers need none.
        base_url: The API base URL; defaults to the provider's variable (`OPENAI_BASE_URL`,
            `OLLAMA_BASE_URL`, ...), else its public URL.
        provider: A name from `PROVIDERS` or an `OpenAICompatibleProvider`.
        profile: Override the capability profile picked from the model's family.
        http_client: An `httpx2.AsyncClient` for the SDK to use (proxies, tests).
        organization: The OpenAI organization id.
        default_headers: Headers sent with every request.

    Example:
        ```python
        model = OpenAIChatModel("llama3.2", provider="ollama")
        response = await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
        ```
    """

    def __init__(
        self,
        model_name: str,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        provider: str | OpenAICompatibleProvider = "openai",
        profile: OpenAIModelProfile | None = None,
        http_client: httpx2.AsyncClient | None = None,
        organization: str | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            model_name,
            api_key=api_key,
            base_url=base_url,
            provider=provider,
            profile=profile,
            http_client=http_client,
            organization=organization,
            default_headers=default_headers,
        )

    def build_request(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
        *,
        stream: bool = False,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The JSON body and the SDK request options (headers, extra body, timeout) for a call.

        Useful to inspect what would be sent; `request` and `request_stream` use it.
        """
        settings = settings or ModelSettings()
        record = self._connection.provider
        profile = self._profile
        tools = params.all_tools
        body: dict[str, Any] = {
            "model": self._model_name,
            "messages": chat_messages(
                messages, profile, reasoning_field=record.reasoning_replay_field
            ),
        }
        if tools:
            body["tools"] = chat_tools(tools)
        choice = resolve_tool_choice(params, profile)
        if choice is not None:
            body["tool_choice"] = chat_tool_choice(
                choice, required_value=record.tool_choice_required
            )
        response_format = chat_response_format(params, profile)
        if response_format is not None:
            body["response_format"] = response_format
        body.update(
            chat_settings(
                settings, profile, record, model_name=self._model_name, has_tools=bool(tools)
            )
        )
        if stream:
            body["stream"] = True
            if record.stream_usage_option:
                body["stream_options"] = {"include_usage": True}
        return body, sdk_options(settings)

    async def request(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> ModelResponse:
        """Send one Chat Completions request and return the whole response.

        Raises:
            RateLimitedError: HTTP 429, with `retry_after` from the response headers.
            AuthenticationError: HTTP 401/403.
            ContextOverflowError: the prompt is longer than the context window.
            ModelServerError: HTTP 5xx.
            ModelHTTPError: any other error status.
            ModelConnectionError: the server could not be reached or timed out.
            ConfigurationError: no API key is set, or the history holds media the API refuses.
        """
        body, options = self.build_request(messages, settings, params)
        with self._sdk_errors():
            completion = await self._post_json("/chat/completions", body, options)
        return parse_completion(
            completion, provider_name=self.provider, model_name=self._model_name
        )

    async def request_stream(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> AsyncIterator[ModelStreamEvent]:
        """Stream one Chat Completions request: part events, then the final response.

        Usage comes from the last chunk (`stream_options.include_usage`). Raises the same
        errors as `request`, also when the server reports an error mid-stream.
        """
        body, options = self.build_request(messages, settings, params, stream=True)
        with self._sdk_errors():
            chunks = await self._post_stream("/chat/completions", body, options)
            try:
                async for event in stream_completion(
                    chunks, provider_name=self.provider, model_name=self._model_name
                ):
                    yield event
            finally:
                await chunks.close()
