"""`GoogleEmbedder`: Gemini embedding models (`batchEmbedContents`) over `google-genai`.

Importing this module does not import the SDK; the client is built on the first call.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import SecretStr

from covey.models.google._config import client_builder, close_client, credentials
from covey.models.google._signatures import PROVIDER
from covey.spec.adapter_kit import LazyClient, require_model_name
from covey.spec.embeddings import Embedder, InputType
from covey.spec.errors import ConfigurationError, CoveyError, UnexpectedModelBehavior

if TYPE_CHECKING:
    from google import genai

__all__ = ["GeminiEmbedder", "GoogleEmbedder", "native_dimensions"]

_TASK_TYPES: dict[InputType, str] = {
    "document": "RETRIEVAL_DOCUMENT",
    "query": "RETRIEVAL_QUERY",
}
_MAX_BATCH = 100
"""The most texts Gemini takes in one `batchEmbedContents` call."""


def native_dimensions(model_name: str) -> int:
    """The full vector length of a Gemini embedding model: 3072 for the `gemini-embedding-*`
    family, 768 for the older `text-embedding-004` and `embedding-001`."""
    name = model_name.lower().removeprefix("models/")
    return 3072 if name.startswith("gemini-embedding") else 768


class GeminiEmbedder(Embedder):
    """What the Gemini API and Vertex AI embedders share: task types, batching, reduced
    dimensions re-normalised, error mapping. A subclass sets `_model_name`, `_native`,
    `_requested` and `_clients` in its constructor and implements `_secrets`."""

    _model_name: str
    _native: int
    _requested: int | None
    _clients: LazyClient[genai.Client]

    def _setup(self, model_name: str, dimensions: int | None, *, adapter: str) -> None:
        model_name = require_model_name(model_name, adapter=adapter, example="gemini-embedding-001")
        if dimensions is not None and dimensions < 1:
            raise ConfigurationError(f"dimensions must be at least 1, got {dimensions}.")
        self._model_name = model_name.strip()
        self._native = native_dimensions(self._model_name)
        self._requested = dimensions if dimensions != self._native else None

    @property
    def model_name(self) -> str:
        """The embedding model, e.g. `gemini-embedding-001`."""
        return self._model_name

    @property
    def dimensions(self) -> int:
        """The length of every vector returned."""
        return self._requested or self._native

    @property
    def name(self) -> str:
        """`<provider>:<model>`, or `<provider>:<model>:<dimensions>` for a reduced size."""
        base = f"{self.provider}:{self._model_name}"
        return f"{base}:{self._requested}" if self._requested else base

    @property
    def max_batch_size(self) -> int:
        """100: the most texts one `batchEmbedContents` call takes."""
        return _MAX_BATCH

    def _secrets(self) -> Sequence[str]:
        """Every value an error or a log line must never show."""
        raise NotImplementedError

    async def _client(self) -> genai.Client:
        """The running loop's SDK client (built on first use)."""
        return await self._clients.get()

    def _map_error(self, exc: BaseException) -> CoveyError | None:
        """The Covey error for an SDK or transport exception; `None` when it is neither."""
        from covey.models.google._errors import map_error

        return map_error(exc, model_name=self._model_name, secrets=self._secrets())

    async def embed(
        self, texts: Sequence[str], *, input_type: InputType = "document"
    ) -> list[list[float]]:
        """Embed up to `max_batch_size` texts in one request, one vector each, in order.

        Raises:
            ValueError: More than `max_batch_size` texts (use `embed_batched`).
            ConfigurationError: No credentials.
            ModelHTTPError: and its subclasses for the service's error statuses.
            ModelConnectionError: The service could not be reached.
        """
        if not texts:
            return []
        if len(texts) > self.max_batch_size:
            raise ValueError(
                f"{type(self).__name__}.embed takes at most {self.max_batch_size} texts, got "
                f"{len(texts)}; use covey.spec.embeddings.embed_batched for more."
            )
        from google.genai import types

        try:
            client = await self._client()
        except Exception as exc:
            error = self._map_error(exc)
            if error is None:
                raise
            raise error from None
        config = types.EmbedContentConfig(
            task_type=_TASK_TYPES[input_type], output_dimensionality=self._requested
        )
        try:
            response = await client.aio.models.embed_content(  # pyright: ignore[reportUnknownMemberType] - PIL.Image in the SDK's union
                model=self._model_name, contents=list(texts), config=config
            )
        except Exception as exc:
            error = self._map_error(exc)
            if error is None:
                raise
            raise error from exc
        vectors = [list(e.values or []) for e in response.embeddings or []]
        if len(vectors) != len(texts):
            raise UnexpectedModelBehavior(
                f"{self.model_name} returned {len(vectors)} embeddings for {len(texts)} texts."
            )
        if self._requested is not None:
            vectors = [_unit(v) for v in vectors]
        return vectors

    async def aclose(self) -> None:
        """Close the SDK's HTTP client (not an `http_client` you passed). Safe to repeat."""
        await self._clients.aclose()


class GoogleEmbedder(GeminiEmbedder):
    """Gemini text embeddings, with the retrieval task type set from `input_type`.

    Documents are embedded with task type `RETRIEVAL_DOCUMENT`, queries with `RETRIEVAL_QUERY`.
    With `dimensions` below the model's full size, Gemini truncates the vector
    (`outputDimensionality`, Matryoshka-style) and this embedder re-normalises it to unit
    length, as Google advises; `name` then carries the size (`google:gemini-embedding-001:768`),
    and `resolve_embedder` accepts that string back.

    Args:
        model_name: The embedding model, e.g. `gemini-embedding-001`.
        dimensions: A reduced vector length (e.g. 768 or 1536); default: the model's full size.
        api_key: The Gemini API key; defaults to `GEMINI_API_KEY`, then `GOOGLE_API_KEY`.
        base_url: Another endpoint for the Gemini API; defaults to `GOOGLE_GEMINI_BASE_URL`.
        http_client: An `httpx2.AsyncClient` (or `httpx.AsyncClient`) for the SDK to use.
    """

    def __init__(
        self,
        model_name: str = "gemini-embedding-001",
        *,
        dimensions: int | None = None,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        http_client: object | None = None,
    ) -> None:
        self._setup(model_name, dimensions, adapter="GoogleEmbedder")
        self._credentials = credentials(api_key)
        self._base_url = base_url
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


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector
