"""Picking the memories worth putting in front of the model, under a token budget.

Score = relevance + recency. Relevance is keyword overlap between the query and the memory's
text and topics (topics weigh double), and, with an embedder, cosine similarity of the two
vectors. Recency halves every `half_life_days` since the memory was last updated. Memories with
no relevance still qualify (a user's name matters to every question) but rank behind.

Vectors are computed at recall and cached in process, keyed by (embedder name, memory id, text
hash): writing them into the memory's metadata would bump `updated_at` (the store sets it on
every write) and so corrupt the recency signal, and a changed text gets a new key by itself.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

from covey.spec.embeddings import Embedder, embed_batched
from covey.spec.store import Memory

__all__ = [
    "VectorCache",
    "estimate_tokens",
    "keyword_score",
    "recency_score",
    "render",
    "terms",
]

_WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)
_STOP_WORDS = (
    "the and for are but not you your with this that have has was were what when where who "
    "how why does did can will would should could about from they them their there then than "
    "into over just like also some any all our out get got its him her his she"
)
_STOP = frozenset(_STOP_WORDS.split())


def estimate_tokens(text: str) -> int:
    """About four characters per token: close enough for a budget, and free."""
    return max(1, math.ceil(len(text) / 4))


def _words(text: str) -> set[str]:
    return {w for w in (m.group(0).lower() for m in _WORD.finditer(text)) if w not in _STOP}


def _stem(word: str) -> str:
    # Cheap plural folding so "cats" meets "cat"; no dependency on a stemmer.
    for suffix in ("ies", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> set[str]:
    """The words of `text` that carry meaning (no stop words), lowercased and plural-folded:
    what keyword relevance compares."""
    return {_stem(w) for w in _words(text)}


def keyword_score(query: str, memory: Memory) -> float:
    """The share of the query's words found in the memory (topics count double), 0 to 1."""
    query_words = {_stem(w) for w in _words(query)}
    if not query_words:
        return 0.0
    text = {_stem(w) for w in _words(memory.memory)}
    topics = {_stem(w) for t in memory.topics for w in _words(t)}
    hits = sum(1.0 for w in query_words if w in text) + sum(1.0 for w in query_words if w in topics)
    return min(1.0, hits / len(query_words))


def recency_score(memory: Memory, now: datetime, half_life_days: float) -> float:
    """1 for a memory updated now, halving every `half_life_days`."""
    age_days = max(0.0, (now - memory.updated_at).total_seconds() / 86400)
    return 0.5 ** (age_days / half_life_days)


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class VectorCache:
    """Memory vectors by (embedder, id, text hash), least recently used evicted first."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max = max_entries
        self._vectors: OrderedDict[tuple[str, str, str], list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._vectors)

    @staticmethod
    def _key(embedder: Embedder, memory: Memory) -> tuple[str, str, str]:
        digest = hashlib.sha256(memory.memory.encode()).hexdigest()[:16]
        return (embedder.name, memory.id, digest)

    async def vectors(self, embedder: Embedder, memories: Sequence[Memory]) -> list[list[float]]:
        """One vector per memory, embedding only those not cached yet."""
        keys = [self._key(embedder, m) for m in memories]
        missing = [i for i, k in enumerate(keys) if k not in self._vectors]
        if missing:
            fresh = await embed_batched(
                embedder, [memories[i].memory for i in missing], input_type="document"
            )
            for i, vector in zip(missing, fresh, strict=True):
                self._vectors[keys[i]] = vector
        out: list[list[float]] = []
        for key in keys:
            self._vectors.move_to_end(key)
            out.append(self._vectors[key])
        while len(self._vectors) > self._max:
            self._vectors.popitem(last=False)
        return out


async def rank(
    query: str,
    memories: Sequence[Memory],
    *,
    now: datetime,
    half_life_days: float,
    embedder: Embedder | None,
    cache: VectorCache,
) -> list[tuple[float, Memory]]:
    """Memories with their scores, best first (ties: most recently updated first)."""
    relevance = [keyword_score(query, m) for m in memories]
    if embedder is not None and memories and query.strip():
        vectors = await cache.vectors(embedder, memories)
        (query_vector,) = await embedder.embed([query], input_type="query")
        relevance = [
            max(r, _cosine(query_vector, v)) for r, v in zip(relevance, vectors, strict=True)
        ]
    scored = [
        (0.75 * r + 0.25 * recency_score(m, now, half_life_days), m)
        for r, m in zip(relevance, memories, strict=True)
    ]
    scored.sort(key=lambda pair: (pair[0], pair[1].updated_at, pair[1].id), reverse=True)
    return scored


HEADER = "What you remember about this user (from earlier conversations; may be out of date):"


def render_line(memory: Memory) -> str:
    """One memory as a prompt line."""
    text = " ".join(memory.memory.split())
    return f"- {text}"


def render(memories: Sequence[Memory]) -> str:
    """The memories as a block for the system prompt; empty when there are none."""
    if not memories:
        return ""
    return "\n".join([HEADER, *(render_line(m) for m in memories)])


def within_budget(memories: Sequence[Memory], budget_tokens: int, limit: int) -> list[Memory]:
    """The memories, in their order, whose rendering fits `budget_tokens` (at most `limit`).

    A memory that does not fit is skipped; later, shorter ones may still fit.
    """
    used = estimate_tokens(HEADER)
    kept: list[Memory] = []
    for memory in memories:
        if len(kept) >= limit:
            break
        cost = estimate_tokens(render_line(memory) + "\n")
        if used + cost > budget_tokens:
            continue
        used += cost
        kept.append(memory)
    return kept
