"""`OpenAIResponsesModel`: OpenAI's Responses API (`POST /responses`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from covey.models.openai._base import OpenAIModelBase
from covey.models.openai._errors import error_from_body
from covey.models.openai._responses_input import responses_input
from covey.models.openai._responses_output import parse_response, stream_response
from covey.models.openai._settings import reasoning_effort, responses_settings, sdk_options
from covey.models.openai._tools import (
    resolve_tool_choice,
    responses_text_format,
    responses_tool_choice,
    responses_tools,
)
from covey.models.openai.profiles import OpenAIModelProfile
from covey.models.openai.providers import OpenAICompatibleProvider
from covey.spec.errors import ModelHTTPError
from covey.spec.messages import ModelResponse
from covey.spec.models import (
    ModelMessages,
    ModelRequestParams,
    ModelSettings,
    ModelStreamEvent,
)

if TYPE_CHECKING:
    import httpx2

__all__ = ["OpenAIResponsesModel"]

ReasoningSummary = Literal["auto", "concise", "detailed"]


class OpenAIResponsesModel(OpenAIModelBase):
    """A chat model behind OpenAI's Responses API.

    Covey keeps the history, so requests are stateless: `store` is off by default, and for
    reasoning models the encrypted reasoning items are requested
    (`include=["reasoning.encrypted_content"]`), kept in `ThinkingPart.provider_details` and
    sent back on the next request, so the model keeps its chain of thought across tool calls.

    Args:
        model_name: The model name, e.g. `gpt-5` or `o4-mini`.
        api_key: The API key; defaults to the provider's variable (`OPENAI_API_KEY`).
        base_url: The API base URL; defaults to `OPENAI_BASE_URL`, else OpenAI's.
        provider: A name from `PROVIDERS` or an `OpenAICompatibleProvider`, for servers that
            implement `/responses` too.
        profile: Override the capability profile picked from the model's family.
        http_client: An `httpx2.AsyncClient` for the SDK to use (proxies, tests).
        organization: The OpenAI organization id.
        default_headers: Headers sent with every request.
        reasoning_summary: Ask reasoning models for a summary of their reasoning (`auto`,
            `concise`, `detailed`); it becomes the `ThinkingPart` text. Off by default: some
            organizations must be verified to get summaries.
        store: Let OpenAI store responses (for its dashboard and evals). Off by default.
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
        reasoning_summary: ReasoningSummary | None = None,
        store: bool = False,
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
        self._reasoning_summary: ReasoningSummary | None = reasoning_summary
        self._store = store

    def build_request(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
        *,
        stream: bool = False,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The JSON body and the SDK request options (headers, extra body, timeout) for a call."""
        settings = settings or ModelSettings()
        profile = self._profile
        tools = params.all_tools
        body: dict[str, Any] = {
            "model": self._model_name,
            "input": responses_input(messages, profile),
            "store": self._store,
        }
        if tools:
            body["tools"] = responses_tools(tools)
        choice = resolve_tool_choice(params, profile)
        if choice is not None:
            body["tool_choice"] = responses_tool_choice(choice)
        text_format = responses_text_format(params, profile)
        if text_format is not None:
            body["text"] = {"format": text_format}
        body.update(
            responses_settings(
                settings, profile, model_name=self._model_name, has_tools=bool(tools)
            )
        )
        reasoning: dict[str, Any] = {}
        effort = reasoning_effort(settings, profile)
        if effort is not None:
            reasoning["effort"] = effort
        if profile.supports_thinking:
            if self._reasoning_summary is not None:
                reasoning["summary"] = self._reasoning_summary
            body["include"] = ["reasoning.encrypted_content"]
        if reasoning:
            body["reasoning"] = reasoning
        if stream:
            body["stream"] = True
        return body, sdk_options(settings)

    def _error_from_body(self, body: object) -> ModelHTTPError:
        return error_from_body(
            body,
            errors=self._connection.errors,
            model_name=self._model_name,
            secrets=self._connection.secrets(),
        )

    async def request(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> ModelResponse:
        """Send one Responses request and return the whole response.

        Raises:
            RateLimitedError: HTTP 429, with `retry_after` from the response headers.
            AuthenticationError: HTTP 401/403.
            ContextOverflowError: the input is longer than the context window.
            ModelServerError: HTTP 5xx, or a response that failed on the server.
            ModelHTTPError: any other error status.
            ModelConnectionError: the server could not be reached or timed out.
            ConfigurationError: no API key is set, or the history holds media the API refuses.
        """
        body, options = self.build_request(messages, settings, params)
        with self._sdk_errors():
            response = await self._post_json("/responses", body, options)
        return parse_response(
            response,
            provider_name=self.provider,
            model_name=self._model_name,
            error=self._error_from_body,
        )

    async def request_stream(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> AsyncIterator[ModelStreamEvent]:
        """Stream one Responses request: part events, then the final response with usage.

        Raises the same errors as `request`, also for `error` and `response.failed` events.
        """
        body, options = self.build_request(messages, settings, params, stream=True)
        with self._sdk_errors():
            events = await self._post_stream("/responses", body, options)
            try:
                async for event in stream_response(
                    events,
                    provider_name=self.provider,
                    model_name=self._model_name,
                    error=self._error_from_body,
                ):
                    yield event
            finally:
                await events.close()
