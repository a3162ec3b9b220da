"""Azure OpenAI: the Chat Completions and Responses models and the embedder, on the `openai`
SDK's `AsyncAzureOpenAI` client.

They are the OpenAI adapters with Azure's connection: a deployment name instead of a model
name, the resource endpoint, an `api-version`, and either the resource key or an Entra ID token
provider (any function returning a token, so no Azure SDK is needed). Azure's content filter
becomes `ContentFilterError`. Model strings: `azure:<deployment>` (Chat Completions),
`azure-responses:<deployment>` (Responses API), embedder `azure:<deployment>[:<dimensions>]`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from pydantic import SecretStr

from covey.models.openai._azure_connection import (
    AZURE_PROVIDER,
    DEFAULT_API_VERSION,
    RESPONSES_API_VERSION,
    AzureConnection,
    TokenProvider,
)
from covey.models.openai._azure_filter import (
    ContentFilterError,
    filter_categories,
    filtered_by_azure,
)
from covey.models.openai._chat_response import parse_completion, stream_completion
from covey.models.openai.chat import OpenAIChatModel
from covey.models.openai.embedder import KNOWN_EMBEDDING_DIMENSIONS, OpenAIEmbedder
from covey.models.openai.profiles import OpenAIModelProfile
from covey.models.openai.responses import OpenAIResponsesModel, ReasoningSummary
from covey.spec.adapter_kit import require_model_name
from covey.spec.errors import ConfigurationError
from covey.spec.messages import ModelResponse
from covey.spec.models import (
    FinalResponseEvent,
    ModelMessages,
    ModelRequestParams,
    ModelSettings,
    ModelStreamEvent,
)

if TYPE_CHECKING:
    import httpx2

__all__ = [
    "AZURE_PROVIDER",
    "DEFAULT_API_VERSION",
    "RESPONSES_API_VERSION",
    "AzureOpenAIChatModel",
    "AzureOpenAIEmbedder",
    "AzureOpenAIResponsesModel",
    "ContentFilterError",
    "TokenProvider",
]


def _connection(
    *,
    endpoint: str | None,
    api_version: str | None,
    default_api_version: str,
    api_key: str | SecretStr | None,
    azure_ad_token_provider: TokenProvider | None,
    default_headers: Mapping[str, str] | None,
    http_client: httpx2.AsyncClient | None,
) -> AzureConnection:
    return AzureConnection(
        endpoint=endpoint,
        api_version=api_version,
        default_api_version=default_api_version,
        api_key=api_key,
        azure_ad_token_provider=azure_ad_token_provider,
        default_headers=default_headers,
        http_client=http_client,
    )


def _first_choice(chunk: object) -> dict[str, Any]:
    if not isinstance(chunk, dict):
        return {}
    choices = cast("dict[str, Any]", chunk).get("choices")
    if not isinstance(choices, list) or not choices:
        return {}
    first = cast("list[object]", choices)[0]
    return cast("dict[str, Any]", first) if isinstance(first, dict) else {}


class _FilterWatch:
    """Passes chat chunks through and remembers the last choice's content filter results."""

    __slots__ = ("categories",)

    def __init__(self) -> None:
        self.categories: dict[str, dict[str, Any]] = {}

    async def chunks(self, chunks: AsyncIterator[object]) -> AsyncIterator[object]:
        async for chunk in chunks:
            found = filter_categories(_first_choice(chunk).get("content_filter_results"))
            if found:
                self.categories.update(found)
            yield chunk


class AzureOpenAIChatModel(OpenAIChatModel):
    """A deployment of an Azure OpenAI resource, through Chat Completions
    (`POST <endpoint>/openai/deployments/<deployment>/chat/completions?api-version=...`).

    Construction does no I/O and reads no variable; the client is built on the first request.

    Args:
        deployment: The deployment name (what Azure calls the model in requests).
        endpoint: `https://<resource>.openai.azure.com`; defaults to `AZURE_OPENAI_ENDPOINT`.
        api_version: Defaults to `OPENAI_API_VERSION`, else `2024-10-21` (GA). `v1` uses the
            version-less `<endpoint>/openai/v1` API with the plain OpenAI client.
        api_key: The resource key; defaults to `AZURE_OPENAI_API_KEY`. Sent as `api-key`.
        azure_ad_token_provider: Instead of a key: a function (sync or async) returning an
            Entra ID token, called before each request and sent as `Authorization: Bearer`.
        profile: What the deployed model can do; by default the profile of the OpenAI model
            the deployment is named after (GPT-4.1 class for other names).
        http_client: An `httpx2.AsyncClient` for the SDK to use (proxies, tests).
        default_headers: Headers sent with every request.

    Raises:
        ConfigurationError: both `api_key` and `azure_ad_token_provider` are given. A missing
            endpoint or credential is reported by the first request, naming what to set.
    """

    def __init__(
        self,
        deployment: str,
        *,
        endpoint: str | None = None,
        api_version: str | None = None,
        api_key: str | SecretStr | None = None,
        azure_ad_token_provider: TokenProvider | None = None,
        profile: OpenAIModelProfile | None = None,
        http_client: httpx2.AsyncClient | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        deployment = require_model_name(
            deployment, adapter=type(self).__name__, example="my-gpt-4o-deployment"
        )
        super().__init__(deployment, provider=AZURE_PROVIDER, profile=profile)
        self._connection = _connection(
            endpoint=endpoint,
            api_version=api_version,
            default_api_version=DEFAULT_API_VERSION,
            api_key=api_key,
            azure_ad_token_provider=azure_ad_token_provider,
            default_headers=default_headers,
            http_client=http_client,
        )

    @property
    def deployment(self) -> str:
        """The deployment name (also `model_name`)."""
        return self._model_name

    async def request(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> ModelResponse:
        """Send one Chat Completions request and return the whole response.

        Raises:
            ContentFilterError: Azure's content filter blocked the prompt or the completion.
            RateLimitedError: HTTP 429, with `retry_after` from `retry-after(-ms)`.
            AuthenticationError, ContextOverflowError, ModelServerError, ModelHTTPError,
                ModelConnectionError, ConfigurationError: as `OpenAIChatModel.request`.
        """
        body, options = self.build_request(messages, settings, params)
        with self._sdk_errors():
            completion = await self._post_json("/chat/completions", body, options)
        response = parse_completion(
            completion, provider_name=self.provider, model_name=self._model_name
        )
        if filtered_by_azure(response):
            categories = filter_categories(_first_choice(completion).get("content_filter_results"))
            raise ContentFilterError(
                stage="output", categories=categories, model_name=self._model_name
            )
        return response

    async def request_stream(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> AsyncIterator[ModelStreamEvent]:
        """Stream one Chat Completions request. A completion the filter cuts short raises
        `ContentFilterError` instead of its final response (the text streamed so far stays
        streamed)."""
        body, options = self.build_request(messages, settings, params, stream=True)
        watch = _FilterWatch()
        with self._sdk_errors():
            chunks = await self._post_stream("/chat/completions", body, options)
            try:
                async for event in stream_completion(
                    watch.chunks(chunks), provider_name=self.provider, model_name=self._model_name
                ):
                    if isinstance(event, FinalResponseEvent) and filtered_by_azure(event.response):
                        raise ContentFilterError(
                            stage="output", categories=watch.categories, model_name=self._model_name
                        )
                    yield event
            finally:
                await chunks.close()


class AzureOpenAIResponsesModel(OpenAIResponsesModel):
    """A deployment of an Azure OpenAI resource, through the Responses API
    (`POST <endpoint>/openai/responses?api-version=...`, the deployment in the body).

    Requests are stateless as with `OpenAIResponsesModel` (`store` off, reasoning items
    replayed encrypted). Arguments as `AzureOpenAIChatModel`, plus `reasoning_summary` and
    `store`; the API version defaults to `OPENAI_API_VERSION`, else `2025-04-01-preview` (the
    Responses API needs a preview version, or `v1`).
    """

    def __init__(
        self,
        deployment: str,
        *,
        endpoint: str | None = None,
        api_version: str | None = None,
        api_key: str | SecretStr | None = None,
        azure_ad_token_provider: TokenProvider | None = None,
        profile: OpenAIModelProfile | None = None,
        http_client: httpx2.AsyncClient | None = None,
        default_headers: Mapping[str, str] | None = None,
        reasoning_summary: ReasoningSummary | None = None,
        store: bool = False,
    ) -> None:
        deployment = require_model_name(
            deployment, adapter=type(self).__name__, example="my-gpt-5-deployment"
        )
        super().__init__(
            deployment,
            provider=AZURE_PROVIDER,
            profile=profile,
            reasoning_summary=reasoning_summary,
            store=store,
        )
        self._connection = _connection(
            endpoint=endpoint,
            api_version=api_version,
            default_api_version=RESPONSES_API_VERSION,
            api_key=api_key,
            azure_ad_token_provider=azure_ad_token_provider,
            default_headers=default_headers,
            http_client=http_client,
        )

    @property
    def deployment(self) -> str:
        """The deployment name (also `model_name`)."""
        return self._model_name

    async def request(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> ModelResponse:
        """As `OpenAIResponsesModel.request`; a filtered prompt or completion raises
        `ContentFilterError`."""
        response = await super().request(messages, settings, params)
        if filtered_by_azure(response):
            raise ContentFilterError(stage="output", model_name=self._model_name)
        return response

    async def request_stream(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> AsyncIterator[ModelStreamEvent]:
        """As `OpenAIResponsesModel.request_stream`; a filtered completion raises
        `ContentFilterError` instead of its final response."""
        stream = super().request_stream(messages, settings, params)
        try:
            async for event in stream:
                if isinstance(event, FinalResponseEvent) and filtered_by_azure(event.response):
                    raise ContentFilterError(stage="output", model_name=self._model_name)
                yield event
        finally:
            await cast("Any", stream).aclose()


class AzureOpenAIEmbedder(OpenAIEmbedder):
    """An embedding deployment of an Azure OpenAI resource
    (`POST <endpoint>/openai/deployments/<deployment>/embeddings?api-version=...`).

    Args:
        deployment: The deployment name.
        model: The model deployed, when the deployment is named otherwise (e.g.
            `text-embedding-3-small`): gives the native vector size.
        dimensions: The vector length. For a `text-embedding-3-*` model a smaller value asks
            for shortened vectors; otherwise it declares the size. Needed when neither the
            deployment nor `model` is a known embedding model.
        endpoint, api_version, api_key, azure_ad_token_provider, http_client,
            default_headers: As `AzureOpenAIChatModel`.
        max_batch_size: Texts per request (default 2048, Azure's limit).

    Raises:
        ConfigurationError: the vector size is unknown, or both credentials are given.
    """

    def __init__(
        self,
        deployment: str,
        *,
        model: str | None = None,
        dimensions: int | None = None,
        endpoint: str | None = None,
        api_version: str | None = None,
        api_key: str | SecretStr | None = None,
        azure_ad_token_provider: TokenProvider | None = None,
        http_client: httpx2.AsyncClient | None = None,
        default_headers: Mapping[str, str] | None = None,
        max_batch_size: int | None = None,
    ) -> None:
        deployment = require_model_name(
            deployment, adapter="AzureOpenAIEmbedder", example="text-embedding-3-small"
        )
        family = (model or deployment).strip()
        native = KNOWN_EMBEDDING_DIMENSIONS.get(family)
        if dimensions is None and native is None:
            raise ConfigurationError(
                f"AzureOpenAIEmbedder({deployment!r}) needs dimensions=... (or model=..., the "
                f"model the deployment serves, e.g. 'text-embedding-3-small'): the vector size "
                f"of this deployment is unknown."
            )
        super().__init__(
            deployment,
            dimensions=dimensions if dimensions is not None else native,
            provider=AZURE_PROVIDER,
            max_batch_size=max_batch_size or 2048,
        )
        # Only text-embedding-3 models shorten vectors on request, whatever the deployment name.
        self._send_dimensions = (
            dimensions is not None
            and native is not None
            and dimensions != native
            and family.startswith("text-embedding-3")
        )
        self._connection = _connection(
            endpoint=endpoint,
            api_version=api_version,
            default_api_version=DEFAULT_API_VERSION,
            api_key=api_key,
            azure_ad_token_provider=azure_ad_token_provider,
            default_headers=default_headers,
            http_client=http_client,
        )

    @property
    def deployment(self) -> str:
        """The deployment name (also `model_name`)."""
        return self._model_name

    def __repr__(self) -> str:
        return f"AzureOpenAIEmbedder(name={self.name!r}, dimensions={self._dimensions})"
