"""What the Chat Completions and Responses models share: connection, profile, error mapping."""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, cast

from pydantic import SecretStr

from covey.models.openai._client import Connection
from covey.models.openai.profiles import OpenAIModelProfile
from covey.models.openai.providers import OpenAICompatibleProvider, get_provider
from covey.spec.adapter_kit import require_model_name
from covey.spec.errors import UnexpectedModelBehavior
from covey.spec.models import ChatModel

if TYPE_CHECKING:
    import httpx2
    from openai import AsyncOpenAI, AsyncStream

__all__ = ["OpenAIModelBase"]


class OpenAIModelBase(ChatModel):
    """Shared constructor and plumbing of `OpenAIChatModel` and `OpenAIResponsesModel`."""

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
        model_name = require_model_name(model_name, adapter=type(self).__name__, example="gpt-4.1")
        record = get_provider(provider)
        self._model_name = model_name
        self._given_profile = profile
        self._connection = Connection(
            record,
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            default_headers=default_headers,
            http_client=http_client,
        )

    @property
    def model_name(self) -> str:
        """The provider's name for the model, e.g. `gpt-4.1`."""
        return self._model_name

    @property
    def provider(self) -> str:
        """The provider's short name, e.g. `openai` or `ollama`."""
        return self._connection.provider.name

    @property
    def profile(self) -> OpenAIModelProfile:
        """What the model can do, and how its requests are shaped (looked up on first use)."""
        return self._profile

    @property
    def _profile(self) -> OpenAIModelProfile:
        found = self._given_profile
        if found is None:
            found = self._given_profile = self._connection.provider.profile_for(self._model_name)
        return found

    @property
    def base_url(self) -> str:
        """The base URL requests go to (reads the provider's variable when none was given)."""
        return self._connection.base_url

    async def _client(self) -> AsyncOpenAI:
        return await self._connection.client()

    def _sdk_errors(self) -> AbstractContextManager[None]:
        return self._connection.sdk_errors(self._model_name)

    async def _post_json(
        self, path: str, body: dict[str, Any], options: dict[str, Any]
    ) -> dict[str, Any]:
        """POST `body` (already the wire JSON) through the SDK's low-level path and decode the
        JSON answer.

        The SDK still does transport, auth headers, retries (off) and maps error statuses to
        its exceptions, but skips its request transform and typed response models: the body
        is built here and the answer read by the caller, which is most of the SDK's CPU time.
        Call inside `_sdk_errors()`.

        Raises:
            UnexpectedModelBehavior: the answer is not a JSON object.
        """
        import httpx2

        client = await self._client()
        response = await client.post(
            path, body=body, cast_to=httpx2.Response, options=_request_options(options)
        )
        try:
            decoded: object = json.loads(response.content)
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict):
            raise UnexpectedModelBehavior(
                f"{self.provider} sent a response that is not a JSON object (HTTP "
                f"{response.status_code}); the server may not be OpenAI-compatible for {path}."
            )
        return cast("dict[str, Any]", decoded)

    async def _post_stream(
        self, path: str, body: dict[str, Any], options: dict[str, Any]
    ) -> AsyncStream[object]:
        """POST `body` for a Server-Sent Events answer; iterating yields each event's decoded
        JSON (a dict), untyped.

        The SDK's stream still decodes the SSE, stops at `[DONE]`, raises an error event as
        `openai.APIError` and maps transport failures; only its per-chunk typed models are
        skipped. Call inside `_sdk_errors()`, and close the stream.
        """
        import openai

        client = await self._client()
        return await client.post(
            path,
            body=body,
            cast_to=object,
            options=_request_options(options),
            stream=True,
            stream_cls=openai.AsyncStream[object],
        )

    async def aclose(self) -> None:
        """Close the HTTP client this model built (a client passed in stays open)."""
        await self._connection.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_name={self._model_name!r}, provider={self.provider!r})"


def _request_options(options: dict[str, Any]) -> Any:
    """The SDK's low-level request options (`RequestOptions`) from `sdk_options`' keywords."""
    request: dict[str, Any] = {"security": {"bearer_auth": True}}
    if "extra_headers" in options:
        request["headers"] = options["extra_headers"]
    if "extra_body" in options:
        request["extra_json"] = options["extra_body"]
    if "timeout" in options:
        request["timeout"] = options["timeout"]
    return request
