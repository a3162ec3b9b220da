"""Rerankers: reorder a search's candidates. `MMRReranker` offline, `CohereReranker` by API."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Self

import httpx
from pydantic import SecretStr

from covey.spec.errors import (
    AuthenticationError,
    ModelConnectionError,
    ModelHTTPError,
    RateLimitedError,
    UnexpectedModelBehavior,
)
from covey.spec.knowledge import KnowledgeHit

__all__ = ["CohereReranker", "MMRReranker", "RerankVectors", "Reranker"]


@dataclass(frozen=True, slots=True)
class RerankVectors:
    """The vectors of a search, for rerankers that work on them.

    Attributes:
        query: The query's vector.
        hits: Each candidate's vector, in the order of the candidates.
    """

    query: list[float]
    hits: list[list[float]]


class Reranker(ABC):
    """Picks the best `k` of a search's candidates, in a new order.

    `Knowledge.search` fetches more candidates than asked (4 × k, at least 20) and hands them
    here. A reranker that sets `needs_vectors` gets the query's and candidates' vectors.
    """

    needs_vectors: ClassVar[bool] = False

    @abstractmethod
    async def rerank(
        self,
        query: str,
        hits: Sequence[KnowledgeHit],
        *,
        k: int,
        vectors: RerankVectors | None = None,
    ) -> list[KnowledgeHit]:
        """The best `k` hits for `query`, best first."""


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class MMRReranker(Reranker):
    """Maximal marginal relevance: relevant passages that do not repeat one another.

    Each pick maximises `lambda_ * sim(query, hit) - (1 - lambda_) * max sim(hit, picked)`
    over the candidates' vectors, so near-duplicate chunks give way to other ones. Offline and
    deterministic. Hit scores become the MMR score of each pick.

    Args:
        lambda_: 1 is pure relevance (the original order), 0 pure diversity.
    """

    needs_vectors: ClassVar[bool] = True

    def __init__(self, lambda_: float = 0.5) -> None:
        if not 0.0 <= lambda_ <= 1.0:
            raise ValueError(f"lambda_ must be from 0 to 1, got {lambda_}")
        self.lambda_ = lambda_

    async def rerank(
        self,
        query: str,
        hits: Sequence[KnowledgeHit],
        *,
        k: int,
        vectors: RerankVectors | None = None,
    ) -> list[KnowledgeHit]:
        """The `k` hits picked by MMR, in pick order."""
        if vectors is None or len(vectors.hits) != len(hits):
            return list(hits[:k])
        relevance = [_cosine(vectors.query, v) for v in vectors.hits]
        left = list(range(len(hits)))
        picked: list[tuple[int, float]] = []
        while left and len(picked) < k:
            best, best_score = left[0], -math.inf
            for i in left:
                redundancy = max(
                    (_cosine(vectors.hits[i], vectors.hits[j]) for j, _ in picked), default=0.0
                )
                score = self.lambda_ * relevance[i] - (1 - self.lambda_) * redundancy
                if score > best_score:
                    best, best_score = i, score
            picked.append((best, best_score))
            left.remove(best)
        return [hits[i].model_copy(update={"score": score}) for i, score in picked]


class CohereReranker(Reranker):
    """A cross-encoder reranker behind a Cohere-style `POST /v1/rerank` API.

    Works with Cohere, and with the many servers that copy its API (Jina, Voyage-compatible
    gateways, text-embeddings-inference). Hit scores become the API's `relevance_score`.

    Args:
        model: The reranking model, e.g. `rerank-v3.5`.
        api_key: The API key (kept as a `SecretStr`; never shown in a repr or error).
        base_url: The API's base URL.
        timeout: Seconds per request.
        client: An `httpx.AsyncClient` to use (its owner closes it).
    """

    def __init__(
        self,
        model: str = "rerank-v3.5",
        *,
        api_key: str | SecretStr,
        base_url: str = "https://api.cohere.com",
        timeout: float = 30.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.model = model
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self.base_url = base_url.rstrip("/")
        self._client = client
        self._owns_client = client is None
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"CohereReranker(model={self.model!r}, base_url={self.base_url!r})"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        return self._client

    async def rerank(
        self,
        query: str,
        hits: Sequence[KnowledgeHit],
        *,
        k: int,
        vectors: RerankVectors | None = None,
    ) -> list[KnowledgeHit]:
        """The `k` hits the API ranks best."""
        if not hits:
            return []
        body: dict[str, Any] = {
            "model": self.model,
            "query": query,
            "documents": [h.text for h in hits],
            "top_n": min(k, len(hits)),
        }
        headers = {"Authorization": f"Bearer {self._api_key.get_secret_value()}"}
        try:
            response = await self._http().post(
                f"{self.base_url}/v1/rerank", json=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ModelConnectionError(
                f"Cannot reach the rerank API at {self.base_url}: {type(exc).__name__}",
                model_name=self.model,
            ) from None
        if response.status_code >= 400:
            raise _http_error(response, self.model)
        try:
            results = response.json()["results"]
            ranked = [(int(r["index"]), float(r["relevance_score"])) for r in results]
        except (ValueError, KeyError, TypeError):
            raise UnexpectedModelBehavior(
                "The rerank API answered without a valid 'results' list"
            ) from None
        if any(not 0 <= i < len(hits) for i, _ in ranked):
            raise UnexpectedModelBehavior("The rerank API returned an index out of range")
        ranked.sort(key=lambda pair: -pair[1])
        return [hits[i].model_copy(update={"score": score}) for i, score in ranked[:k]]

    async def aclose(self) -> None:
        """Close the HTTP client, if this reranker made it."""
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _http_error(response: httpx.Response, model: str) -> ModelHTTPError:
    status = response.status_code
    message = f"The rerank API answered HTTP {status}"
    if status in (401, 403):
        return AuthenticationError(
            message + ": check the API key", status_code=status, model_name=model
        )
    if status == 429:
        return RateLimitedError(message + ": rate limited", status_code=status, model_name=model)
    return ModelHTTPError(message, status_code=status, model_name=model)
