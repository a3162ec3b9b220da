"""`BedrockEmbedder`: Amazon Titan text embeddings and Cohere embed on Bedrock (InvokeModel).

Importing this module imports no SDK; the boto3 client is built in a worker thread on the
first call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from covey.models.bedrock._client import BedrockClient
from covey.models.bedrock._errors import map_error
from covey.models.bedrock._messages import PROVIDER_NAME
from covey.models.bedrock._profile import model_family
from covey.spec.adapter_kit import require_model_name
from covey.spec.embeddings import Embedder, InputType
from covey.spec.errors import ConfigurationError, UnexpectedModelBehavior

__all__ = ["BedrockEmbedder", "native_dimensions"]

_MAX_BATCH = 96
"""Cohere embed's most texts per call; Titan takes one text per call, sent concurrently."""
_TITAN_CONCURRENCY = 8
_COHERE_INPUT_TYPES: dict[InputType, str] = {"document": "search_document", "query": "search_query"}
_REDUCIBLE = {"titan-embed-text-v2": (256, 512, 1024), "embed-v4": (256, 512, 1024, 1536)}


def native_dimensions(model_id: str) -> int:
    """The full vector length of a Bedrock embedding model: 1024 for Titan text v2 and Cohere
    embed v3, 1536 for Titan text v1 / G1 and Cohere embed v4.

    Raises:
        ConfigurationError: not a Titan text or Cohere embedding model.
    """
    name = model_id.lower()
    if "titan-embed-text-v2" in name or ("cohere" in name and "-v3" in name):
        return 1024
    if "titan-embed" in name or "embed-v4" in name:
        return 1536
    raise ConfigurationError(
        f"BedrockEmbedder takes Amazon Titan text embeddings (amazon.titan-embed-text-v2:0) and "
        f"Cohere embed (cohere.embed-english-v3, cohere.embed-multilingual-v3, "
        f"cohere.embed-v4:0), not {model_id!r}."
    )


class BedrockEmbedder(Embedder):
    """Titan text or Cohere embeddings on Amazon Bedrock, through InvokeModel.

    Titan embeds one text per call: a batch is sent as concurrent calls (8 at a time), each
    asking for a unit-length vector. Cohere embeds up to 96 texts per call, with `input_type`
    `search_document` or `search_query` from `input_type`. With `dimensions` below the model's
    full size (Titan v2: 256 or 512; Cohere v4: 256, 512 or 1024), `name` carries the size
    (`bedrock:amazon.titan-embed-text-v2:0:512`), and `resolve_embedder` accepts it back.
    Credentials and region come from the AWS chain, as for `BedrockModel`.

    Args:
        model_id: The embedding model id, e.g. `amazon.titan-embed-text-v2:0`.
        dimensions: A reduced vector length; default: the model's full size.
        region_name, profile_name, endpoint_url, session, client, config: As for `BedrockModel`.
    """

    def __init__(
        self,
        model_id: str = "amazon.titan-embed-text-v2:0",
        *,
        dimensions: int | None = None,
        region_name: str | None = None,
        profile_name: str | None = None,
        endpoint_url: str | None = None,
        session: Any = None,
        client: Any = None,
        config: Any = None,
    ) -> None:
        model_id = require_model_name(
            model_id, adapter="BedrockEmbedder", example="amazon.titan-embed-text-v2:0"
        )
        self._model_id = model_id
        self._native = native_dimensions(model_id)
        self._cohere = model_family(model_id) == "cohere"
        if dimensions is not None and dimensions != self._native:
            allowed = next((v for k, v in _REDUCIBLE.items() if k in model_id.lower()), ())
            if dimensions not in allowed:
                raise ConfigurationError(
                    f"{model_id!r} makes {self._native}-dimensional vectors"
                    + (f" or {', '.join(map(str, allowed))}" if allowed else "")
                    + f"; got dimensions={dimensions}."
                )
        self._requested = dimensions if dimensions != self._native else None
        self._clients = BedrockClient(
            region_name=region_name,
            profile_name=profile_name,
            endpoint_url=endpoint_url,
            session=session,
            client=client,
            config=config,
        )

    @property
    def model_name(self) -> str:
        """The embedding model id."""
        return self._model_id

    @property
    def dimensions(self) -> int:
        """The length of every vector returned."""
        return self._requested or self._native

    @property
    def provider(self) -> str:
        """Always `bedrock`."""
        return PROVIDER_NAME

    @property
    def name(self) -> str:
        """`bedrock:<model id>`, or `bedrock:<model id>:<dimensions>` for a reduced size."""
        base = f"{PROVIDER_NAME}:{self._model_id}"
        return f"{base}:{self._requested}" if self._requested else base

    @property
    def max_batch_size(self) -> int:
        """96 texts per `embed` call."""
        return _MAX_BATCH

    async def embed(
        self, texts: Sequence[str], *, input_type: InputType = "document"
    ) -> list[list[float]]:
        """Embed up to `max_batch_size` texts, one vector each, in order.

        Raises:
            ValueError: more than `max_batch_size` texts (use `embed_batched`).
            ConfigurationError: no credentials or region.
            ModelHTTPError: and its subclasses for Bedrock's errors (throttling →
                `RateLimitedError`).
            ModelConnectionError: Bedrock could not be reached.
        """
        if not texts:
            return []
        if len(texts) > _MAX_BATCH:
            raise ValueError(
                f"BedrockEmbedder.embed takes at most {_MAX_BATCH} texts, got {len(texts)}; use "
                f"covey.spec.embeddings.embed_batched for more."
            )
        import anyio
        import anyio.to_thread

        texts = list(texts)
        try:
            client = await self._clients.get()
            if self._cohere:
                body = self._cohere_body(texts, input_type)
                answer = await anyio.to_thread.run_sync(self._invoke, client, body)
                vectors = _cohere_vectors(answer)
            else:
                vectors: list[list[float]] = [[] for _ in texts]
                limiter = anyio.CapacityLimiter(_TITAN_CONCURRENCY)

                async def one(index: int) -> None:
                    answer = await anyio.to_thread.run_sync(
                        self._invoke, client, self._titan_body(texts[index]), limiter=limiter
                    )
                    embedding: list[float] = answer.get("embedding") or []
                    vectors[index] = [float(x) for x in embedding]

                async with anyio.create_task_group() as group:
                    for index in range(len(texts)):
                        group.start_soon(one, index)
        except Exception as exc:
            # A task group wraps failures; the first is the one to report.
            error = _first(exc)
            mapped = map_error(error, model_name=self._model_id, secrets=self._clients.secrets())
            raise mapped from error
        if len(vectors) != len(texts):
            raise UnexpectedModelBehavior(
                f"Amazon Bedrock returned {len(vectors)} embeddings for {len(texts)} texts."
            )
        return vectors

    def _titan_body(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {"inputText": text}
        if "titan-embed-text-v2" in self._model_id.lower():
            body["normalize"] = True
            if self._requested is not None:
                body["dimensions"] = self._requested
        return body

    def _cohere_body(self, texts: list[str], input_type: InputType) -> dict[str, Any]:
        body: dict[str, Any] = {
            "texts": texts,
            "input_type": _COHERE_INPUT_TYPES[input_type],
            "truncate": "END",
        }
        if self._requested is not None:
            body["output_dimension"] = self._requested
        return body

    def _invoke(self, client: Any, body: Mapping[str, Any]) -> Mapping[str, Any]:
        response = client.invoke_model(
            modelId=self._model_id,
            body=json.dumps(body).encode(),
            contentType="application/json",
            accept="application/json",
        )
        stream = response["body"]
        try:
            return cast(Mapping[str, Any], json.loads(stream.read()))
        finally:
            stream.close()

    async def aclose(self) -> None:
        """Close the boto3 client built here (not one passed in). Safe to repeat."""
        self._clients.close()


def _cohere_vectors(answer: Mapping[str, Any]) -> list[list[float]]:
    embeddings: Any = answer.get("embeddings") or []
    if isinstance(embeddings, Mapping):  # asked with `embedding_types`: keyed by type
        embeddings = cast(Mapping[str, Any], embeddings).get("float") or []
    return [[float(x) for x in vector] for vector in cast(list[list[float]], embeddings)]


def _first(exc: Exception) -> Exception:
    """The first leaf of an exception group (a task group's), or `exc` itself."""
    current: BaseException = exc
    while isinstance(current, BaseExceptionGroup):
        inner: tuple[BaseException, ...] = cast(
            BaseExceptionGroup[BaseException], current
        ).exceptions
        if not inner:
            break
        current = inner[0]
    return current if isinstance(current, Exception) else exc
