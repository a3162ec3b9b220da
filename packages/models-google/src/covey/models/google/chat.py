"""`GoogleModel`: Gemini chat models over the official `google-genai` SDK.

`GeminiChatModel` is what the Gemini API (`GoogleModel`) and Vertex AI (`VertexModel`) share.
Importing this module does not import the SDK; the client is built on the first request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING

from pydantic import SecretStr

from covey.models.google._config import client_builder, close_client, credentials
from covey.models.google._profile import google_model_profile
from covey.models.google._signatures import PROVIDER
from covey.spec.adapter_kit import LazyClient, require_model_name
from covey.spec.errors import CoveyError
from covey.spec.messages import ModelResponse
from covey.spec.models import (
    ChatModel,
    ModelMessages,
    ModelProfile,
    ModelRequestParams,
    ModelSettings,
    ModelStreamEvent,
)

if TYPE_CHECKING:
    from google import genai
    from google.genai import types

__all__ = ["GeminiChatModel", "GoogleModel"]


class GeminiChatModel(ChatModel):
    """What every Gemini backend shares: messages, config, response, stream and error mapping.

    The Gemini API and Vertex AI speak the same `generateContent` protocol through the same SDK;
    only the client (its URL and authentication) and the secrets to redact differ. A subclass
    sets `_model_name`, `_profile` and `_clients` in its constructor and implements `_secrets`
    (and `_map_error` for errors of its own, such as Vertex's credential failures).
    """

    _model_name: str
    _profile: ModelProfile | None
    _clients: LazyClient[genai.Client]

    @property
    def model_name(self) -> str:
        """The model name, e.g. `gemini-2.5-flash`."""
        return self._model_name

    @property
    def profile(self) -> ModelProfile:
        """The profile given to the constructor, or the one of this model's family."""
        if self._profile is None:
            self._profile = google_model_profile(self._model_name)
        return self._profile

    def _secrets(self) -> Sequence[str]:
        """Every value an error, a log line or a repr must never show."""
        raise NotImplementedError

    async def _client(self) -> genai.Client:
        """The running loop's SDK client (built on first use)."""
        return await self._clients.get()

    def _map_error(self, exc: BaseException) -> CoveyError | None:
        """The Covey error for an SDK or transport exception; `None` when it is neither."""
        from covey.models.google._errors import map_error

        return map_error(exc, model_name=self._model_name, secrets=self._secrets())

    def _prepare(
        self, messages: ModelMessages, settings: ModelSettings | None, params: ModelRequestParams
    ) -> tuple[list[types.Content], types.GenerateContentConfig]:
        from covey.models.google._messages import map_messages
        from covey.models.google._request import build_config

        contents, system = map_messages(list(messages))
        config = build_config(
            model_name=self._model_name,
            settings=settings or ModelSettings(),
            params=params,
            profile=self.profile,
            system_instruction=system,
        )
        return contents, config

    async def request(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> ModelResponse:
        """Send one `generateContent` request and return the whole response.

        Raises:
            ConfigurationError: No credentials, or `tool_choice` names an undeclared tool.
            RateLimitedError: HTTP 429 / `RESOURCE_EXHAUSTED`, with `retry_after` when known.
            AuthenticationError: The credentials were refused.
            ContextOverflowError: The prompt is longer than the model's context window.
            ModelServerError: The service failed or is overloaded (5xx).
            ModelHTTPError: Any other error status.
            ModelConnectionError: The service could not be reached or timed out.
        """
        from covey.models.google._response import map_response

        try:
            client = await self._client()
        except Exception as exc:
            error = self._map_error(exc)
            if error is None:
                raise
            raise error from None
        contents, config = self._prepare(messages, settings, params)
        try:
            # The SDK's `contents` union names PIL.Image, unknown without Pillow: hence the ignore.
            response = await client.aio.models.generate_content(  # pyright: ignore[reportUnknownMemberType]
                model=self._model_name, contents=contents, config=config
            )
        except Exception as exc:
            error = self._map_error(exc)
            if error is None:
                raise
            raise error from exc
        return map_response(response, model_name=self._model_name)

    async def request_stream(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> AsyncIterator[ModelStreamEvent]:
        """Send one `streamGenerateContent` (SSE) request and yield part events as chunks
        arrive, then the final response with usage.

        Raises:
            The same errors as `request`, when the stream starts or breaks off.
        """
        from covey.models.google._stream import GeminiStream

        try:
            client = await self._client()
        except Exception as exc:
            error = self._map_error(exc)
            if error is None:
                raise
            raise error from None
        contents, config = self._prepare(messages, settings, params)
        state = GeminiStream(self._model_name)
        stream: AsyncIterator[types.GenerateContentResponse] | None = None
        try:
            stream = await client.aio.models.generate_content_stream(  # pyright: ignore[reportUnknownMemberType] - PIL.Image in the SDK's union
                model=self._model_name, contents=contents, config=config
            )
            async for chunk in stream:
                for event in state.feed(chunk):
                    yield event
        except Exception as exc:
            error = self._map_error(exc)
            if error is None:
                raise
            raise error from exc
        finally:
            # Release the HTTP response at once when the caller stops early.
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()
        for event in state.finish():
            yield event

    async def aclose(self) -> None:
        """Close the SDK's HTTP client (not an `http_client` you passed). Safe to repeat."""
        await self._clients.aclose()


class GoogleModel(GeminiChatModel):
    """A Gemini model behind the Gemini API (`generateContent` / `streamGenerateContent`).

    Example:
        ```python
        model = GoogleModel("gemini-2.5-flash")  # key from GEMINI_API_KEY or GOOGLE_API_KEY
        response = await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
        ```

    Thought signatures Gemini attaches to parts are kept in each part's `provider_details`
    (`thought_signature`, base64) and sent back on the same part when the history is replayed.
    The SDK's own retries are off: Covey's run loop retries, so each retry is an event.

    Args:
        model_name: The Gemini model, e.g. `gemini-2.5-flash` or `gemini-3-pro-preview`.
        api_key: The Gemini API key; defaults to `GEMINI_API_KEY`, then `GOOGLE_API_KEY`.
            Kept as a `SecretStr`; it never appears in a repr or an error.
        base_url: Another endpoint for the Gemini API (a proxy, a fake server); defaults to
            `GOOGLE_GEMINI_BASE_URL`, then Google's. The API version (`v1beta`) is appended.
        profile: What the model can do; by default derived from `model_name`.
        http_client: An `httpx2.AsyncClient` (or `httpx.AsyncClient`) for the SDK to send
            requests with, e.g. one with a mock transport in tests. You close it.
    """

    def __init__(
        self,
        model_name: str,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        profile: ModelProfile | None = None,
        http_client: object | None = None,
    ) -> None:
        self._model_name = require_model_name(
            model_name, adapter="GoogleModel", example="gemini-2.5-flash"
        )
        self._credentials = credentials(api_key)
        self._base_url = base_url
        self._profile = profile
        self._http_client = http_client
        self._clients = LazyClient(
            client_builder(self._credentials, base_url, http_client), close_client
        )

    @property
    def provider(self) -> str:
        """Always `google`."""
        return PROVIDER

    def _secrets(self) -> Sequence[str]:
        return self._credentials.secrets()

    def __repr__(self) -> str:
        return f"GoogleModel(model_name={self._model_name!r})"
