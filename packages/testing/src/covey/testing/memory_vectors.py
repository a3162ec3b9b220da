"""`InMemoryVectorStore`: the reference `VectorStore`, by brute force."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio
from pydantic_core import PydanticSerializationError

from covey.spec.errors import EmbedderMismatchError, InvalidInputError
from covey.spec.store import check_id
from covey.spec.vectors import (
    CollectionInfo,
    CollectionNotFoundError,
    Filter,
    QueryHit,
    Record,
    VectorQuery,
    VectorStore,
    check_collection_name,
    check_delete,
    check_embedder,
    check_records,
    matches,
    reciprocal_rank_fusion,
)

__all__ = ["InMemoryVectorStore", "tokenize"]

_WORD = re.compile(r"\w+")
# BM25 parameters: the usual defaults.
_K1 = 1.2
_B = 0.75


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens, as the reference text search sees them."""
    return _WORD.findall(text.lower())


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    if norm == 0:
        return 0.0
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm


@dataclass(slots=True)
class _Collection:
    info: CollectionInfo
    records: dict[str, Record] = field(default_factory=dict[str, Record])
    tokens: dict[str, Counter[str]] = field(default_factory=dict[str, Counter[str]])


class InMemoryVectorStore(VectorStore):
    """The reference `VectorStore`: exact cosine search, BM25 text search, RRF hybrid.

    Every query scans every record, so keep it to tests and small demos. Records are copied in
    and out, so callers never share objects with the store.

    Example:
        ```python
        store = InMemoryVectorStore()
        await store.ensure_collection("docs", embedder_name="test:hash", dimensions=3)
        await store.upsert("docs", [Record(id="a", vector=[1, 0, 0], text="hello")])
        hits = await store.query("docs", VectorQuery(vector=[1, 0, 0], k=1))
        ```
    """

    def __init__(self) -> None:
        self._lock = anyio.Lock()
        self._collections: dict[str, _Collection] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(collections={sorted(self._collections)})"

    def _get(self, name: str) -> _Collection:
        check_collection_name(name)
        found = self._collections.get(name)
        if found is None:
            raise CollectionNotFoundError(name)
        return found

    @staticmethod
    def _info(collection: _Collection) -> CollectionInfo:
        return collection.info.model_copy(update={"count": len(collection.records)})

    async def ensure_collection(
        self, name: str, *, embedder_name: str, dimensions: int
    ) -> CollectionInfo:
        """See `VectorStore.ensure_collection`."""
        check_collection_name(name)
        check_id(embedder_name, "embedder_name")
        if type(dimensions) is not int or dimensions < 1:
            raise InvalidInputError(f"dimensions must be a positive integer, got {dimensions!r}")
        async with self._lock:
            existing = self._collections.get(name)
            if existing is not None:
                check_embedder(existing.info, embedder_name, dimensions)
                return self._info(existing)
            created = _Collection(
                CollectionInfo(name=name, embedder_name=embedder_name, dimensions=dimensions)
            )
            self._collections[name] = created
            return self._info(created)

    async def list_collections(self) -> list[CollectionInfo]:
        """See `VectorStore.list_collections`."""
        async with self._lock:
            return [self._info(self._collections[n]) for n in sorted(self._collections)]

    async def drop_collection(self, name: str) -> bool:
        """See `VectorStore.drop_collection`."""
        check_collection_name(name)
        async with self._lock:
            return self._collections.pop(name, None) is not None

    async def upsert(self, collection: str, records: Sequence[Record]) -> None:
        """See `VectorStore.upsert`."""
        async with self._lock:
            target = self._get(collection)
            check_records(records, target.info)
            try:
                copies = [Record.model_validate_json(r.model_dump_json()) for r in records]
            except PydanticSerializationError as e:
                raise InvalidInputError(f"record metadata is not JSON-serialisable: {e}") from e
            for record in copies:
                target.records[record.id] = record
                target.tokens[record.id] = Counter(tokenize(record.text or ""))

    async def get(self, collection: str, ids: Sequence[str]) -> list[Record]:
        """See `VectorStore.get`."""
        for record_id in ids:
            check_id(record_id, "record id")
        async with self._lock:
            target = self._get(collection)
            found: list[Record] = []
            for record_id in dict.fromkeys(ids):
                record = target.records.get(record_id)
                if record is not None:
                    found.append(record.model_copy(deep=True))
            return found

    async def delete(
        self,
        collection: str,
        *,
        ids: Sequence[str] | None = None,
        filter: Filter | None = None,
    ) -> int:
        """See `VectorStore.delete`."""
        check_delete(ids, filter)
        async with self._lock:
            target = self._get(collection)
            wanted = set(ids) if ids is not None else set(target.records)
            doomed = [
                rid
                for rid in wanted
                if rid in target.records
                and (filter is None or matches(filter, target.records[rid].metadata))
            ]
            for rid in doomed:
                del target.records[rid]
                del target.tokens[rid]
            return len(doomed)

    async def count(self, collection: str, filter: Filter | None = None) -> int:
        """See `VectorStore.count`."""
        async with self._lock:
            target = self._get(collection)
            if filter is None:
                return len(target.records)
            return sum(1 for r in target.records.values() if matches(filter, r.metadata))

    async def query(self, collection: str, query: VectorQuery) -> list[QueryHit]:
        """See `VectorStore.query`."""
        async with self._lock:
            target = self._get(collection)
            if query.vector is not None and len(query.vector) != target.info.dimensions:
                raise EmbedderMismatchError(
                    f"The query vector has {len(query.vector)} dimensions, but collection "
                    f"{collection!r} holds {target.info.dimensions}-dimensional vectors of "
                    f"embedder {target.info.embedder_name!r}. Embed the query with that embedder."
                )
            candidates = [
                r
                for r in target.records.values()
                if query.filter is None or matches(query.filter, r.metadata)
            ]
            if query.mode == "vector":
                scored = self._vector_scores(candidates, query)
            elif query.mode == "text":
                scored = self._text_scores(target, candidates, query)
            else:
                by_vector = [rid for rid, _ in self._vector_scores(candidates, query)]
                by_text = [rid for rid, _ in self._text_scores(target, candidates, query)]
                scored = reciprocal_rank_fusion([by_vector, by_text])
            hits: list[QueryHit] = []
            for rid, score in scored:
                if query.min_score is not None and score < query.min_score:
                    continue
                record = target.records[rid].model_copy(deep=True)
                if not query.include_vectors:
                    record.vector = None
                hits.append(QueryHit(record=record, score=score))
                if len(hits) == query.k:
                    break
            return hits

    @staticmethod
    def _vector_scores(records: list[Record], query: VectorQuery) -> list[tuple[str, float]]:
        assert query.vector is not None
        scored = [(r.id, _cosine(query.vector, r.vector or ())) for r in records]
        scored.sort(key=lambda pair: (-pair[1], pair[0]))
        return scored

    @staticmethod
    def _text_scores(
        target: _Collection, records: list[Record], query: VectorQuery
    ) -> list[tuple[str, float]]:
        terms = set(tokenize(query.text or ""))
        total = len(target.tokens)
        if not terms or total == 0:
            return []
        lengths = {rid: sum(c.values()) for rid, c in target.tokens.items()}
        average = sum(lengths.values()) / total or 1.0
        idf = {
            t: math.log(1 + (total - df + 0.5) / (df + 0.5))
            for t in terms
            for df in [sum(1 for c in target.tokens.values() if t in c)]
        }
        scored: list[tuple[str, float]] = []
        for record in records:
            counts = target.tokens[record.id]
            norm = _K1 * (1 - _B + _B * lengths[record.id] / average)
            score = sum(
                idf[t] * counts[t] * (_K1 + 1) / (counts[t] + norm) for t in terms if t in counts
            )
            if score > 0:
                scored.append((record.id, score))
        scored.sort(key=lambda pair: (-pair[1], pair[0]))
        return scored
