"""`OpenAIEmbedder`: the embeddings endpoint of OpenAI and OpenAI-compatible servers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, cast

from pydantic import SecretStr

from covey.models.openai._client import Connection
from covey.models.openai._sdk import import_openai
from covey.models.openai.providers import OpenAICompatibleProvider, get_provider
from covey.spec.adapter_kit import require_model_name
from covey.spec.embeddings import Embedder, InputType
from covey.spec.errors import ConfigurationError, UnexpectedModelBehavior

if TYPE_CHECKING:
    import httpx2


__all__ = ["KNOWN_EMBEDDING_DIMENSIONS", "OpenAIEmbedder"]

KNOWN_EMBEDDING_DIMENSIONS: Mapping[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
    # Popular models on local servers (Ollama names).
    "nomic-embed-text": 768,
    "mxbai-embed-large": 1024,
    "all-minilm": 384,
    "snowflake-arctic-embed": 1024,
    "bge-m3": 1024,
}
"""Native output size of well-known embedding models; other models need `dimensions=`."""

_OPENAI_MAX_BATCH = 2048  # inputs per request the OpenAI endpoint accepts


class OpenAIEmbedder(Embedder):
    """Embeds texts with `POST /embeddings` (OpenAI, Ollama, vLLM, ... through `provider`).

    Construction does no I/O; the SDK client is built on the first `embed` call.

    Args:
        model_name: The embedding model, e.g. `text-embedding-3-small` or `nomic-embed-text`.
        dimensions: The vector length. With OpenAI's `text-embedding-3-*` a smaller value asks
            the API for shortened vectors (and changes `name`); for other models it declares
            the length their vectors have. Needed for models not in
            `KNOWN_EMBEDDING_DIMENSIONS`.
        api_key: The API key; defaults to the provider's variable. Local servers need none.
        base_url: The API base URL; defaults to the provider's variable, else its default.
        provider: A name from `PROVIDERS` or an `OpenAICompatibleProvider`.
        http_client: An `httpx2.AsyncClient` for the SDK to use.
        organization: The OpenAI organization id.
        default_headers: Headers sent with every request.
        max_batch_size: Texts per request; defaults to 2048 for OpenAI, 96 elsewhere.

    Raises:
        ConfigurationError: `dimensions` is missing for a model of unknown size.
    """

    def __init__(
        self,
        model_name: str = "text-embedding-3-small",
        *,
        dimensions: int | None = None,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        provider: str | OpenAICompatibleProvider = "openai",
        http_client: httpx2.AsyncClient | None = None,
        organization: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        max_batch_size: int | None = None,
    ) -> None:
        model_name = require_model_name(
            model_name, adapter="OpenAIEmbedder", example="text-embedding-3-small"
        )
        record = get_provider(provider)
        native = KNOWN_EMBEDDING_DIMENSIONS.get(model_name.split(":", 1)[0])
        if dimensions is None and native is None:
            raise ConfigurationError(
                f"The vector size of embedding model {model_name!r} is not known: pass "
                f"dimensions=<its output size> to OpenAIEmbedder."
            )
        if dimensions is not None and dimensions < 1:
            raise ConfigurationError(f"dimensions must be at least 1, got {dimensions}.")
        self._model_name = model_name
        self._dimensions = dimensions if dimensions is not None else cast(int, native)
        # Only OpenAI's v3 models shorten vectors on request; elsewhere the size is declared.
        self._send_dimensions = (
            dimensions is not None
            and dimensions != native
            and record.openai_profiles
            and model_name.startswith("text-embedding-3")
        )
        default_batch = _OPENAI_MAX_BATCH if record.openai_profiles else 96
        self._max_batch_size = max_batch_size or default_batch
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
        """The provider's name for the model."""
        return self._model_name

    @property
    def dimensions(self) -> int:
        """The length of every vector."""
        return self._dimensions

    @property
    def provider(self) -> str:
        """The provider's short name, e.g. `openai` or `ollama`."""
        return self._connection.provider.name

    @property
    def name(self) -> str:
        """`provider:model_name`, plus `@<dimensions>` when shortened vectors are requested."""
        base = f"{self.provider}:{self._model_name}"
        return f"{base}@{self._dimensions}" if self._send_dimensions else base

    @property
    def max_batch_size(self) -> int:
        """The most texts one `embed` call takes."""
        return self._max_batch_size

    async def embed(
        self, texts: Sequence[str], *, input_type: InputType = "document"
    ) -> list[list[float]]:
        """Embed `texts`, one vector each, in order. `input_type` does not change the request:
        these models embed documents and queries alike.

        Raises:
            ValueError: more than `max_batch_size` texts.
            RateLimitedError, AuthenticationError, ModelServerError, ModelHTTPError: the
                provider's error statuses.
            ModelConnectionError: the provider could not be reached.
            UnexpectedModelBehavior: the wrong number of vectors came back.
        """
        if not texts:
            return []
        if len(texts) > self._max_batch_size:
            raise ValueError(
                f"embed takes at most {self._max_batch_size} texts, got {len(texts)}; "
                f"use covey.spec.embeddings.embed_batched"
            )
        openai = import_openai()
        with self._connection.sdk_errors(self._model_name):
            result = await (await self._connection.client()).embeddings.create(
                model=self._model_name,
                input=list(texts),
                encoding_format="float",
                dimensions=self._dimensions if self._send_dimensions else openai.omit,
            )
        data = sorted(result.data or [], key=lambda item: item.index or 0)
        if len(data) != len(texts):
            raise UnexpectedModelBehavior(
                f"{self.provider} returned {len(data)} embeddings for {len(texts)} texts"
            )
        return [[float(x) for x in item.embedding] for item in data]

    async def aclose(self) -> None:
        """Close the HTTP client this embedder built (a client passed in stays open)."""
        await self._connection.aclose()

    def __repr__(self) -> str:
        return f"OpenAIEmbedder(name={self.name!r}, dimensions={self._dimensions})"
