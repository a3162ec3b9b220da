"""Client-side BM25 for Qdrant's sparse vectors: tokens, term ids and term weights.

A record's text becomes a sparse vector whose indices are term ids (a stable 32-bit hash of each
token) and whose values are BM25's saturated, length-normalised term frequencies. The collection's
sparse vector is configured with `modifier=IDF`, so Qdrant multiplies in each term's inverse
document frequency at query time from its own counts: a query vector of ones then scores every
record by BM25. BM25 needs an average document length; like Qdrant's own BM25 model this takes a
fixed one, recorded with the collection so every writer and reader agrees.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BM25Params", "document_vector", "query_vector", "term_id", "tokenize"]

_WORD = re.compile(r"\w+")


class BM25Params(BaseModel):
    """BM25's parameters, fixed per collection when it is created."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    k1: float = Field(default=1.2, gt=0)
    """Term-frequency saturation."""
    b: float = Field(default=0.75, ge=0, le=1)
    """How much a record's length normalises its term frequencies."""
    avg_len: float = Field(default=256.0, gt=0)
    """The average record length in tokens that length normalisation assumes."""


def tokenize(text: str) -> list[str]:
    """Lower-cased Unicode word tokens (runs of letters, digits and `_`); no stemming or stop words."""
    return _WORD.findall(text.lower())


def term_id(token: str) -> int:
    """A token's sparse index: the first 4 bytes of its BLAKE2b hash, stable across processes."""
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "big")


def _by_id(weights: dict[int, float]) -> tuple[list[int], list[float]]:
    indices = sorted(weights)
    return indices, [weights[i] for i in indices]


def document_vector(text: str, params: BM25Params) -> tuple[list[int], list[float]]:
    """The sparse vector `(indices, values)` of a record's text; empty when it has no words."""
    tokens = tokenize(text)
    norm = params.k1 * (1 - params.b + params.b * len(tokens) / params.avg_len)
    weights: dict[int, float] = {}
    for token, tf in Counter(tokens).items():
        # Two tokens hashing alike share a term; their weights add, as one term would.
        tid = term_id(token)
        weights[tid] = weights.get(tid, 0.0) + tf * (params.k1 + 1) / (tf + norm)
    return _by_id(weights)


def query_vector(text: str) -> tuple[list[int], list[float]]:
    """The sparse vector of a query: weight 1 per distinct term (Qdrant supplies the IDF)."""
    return _by_id({term_id(token): 1.0 for token in tokenize(text)})
