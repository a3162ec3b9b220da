"""`VectorStoreSuite`: what every `covey.spec.vectors.VectorStore` implementation must do.

Subclass it in your plugin's tests and supply one fixture, `vector_store`::

    class TestLanceDB(VectorStoreSuite):
        @pytest.fixture
        async def vector_store(self, tmp_path):
            async with LanceDBStore(tmp_path / "lance") as store:
                yield store

Each test creates collections with random names, so the store need not be empty. Vectors are
written by hand (no embedder needed). Tests are marked `@pytest.mark.asyncio`; in
pytest-asyncio's strict mode declare the fixture with `@pytest_asyncio.fixture`.
"""

from __future__ import annotations

import itertools
import math
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

import anyio
import pytest

from covey.spec.errors import (
    EmbedderMismatchError,
    InvalidInputError,
    NotFoundError,
    VectorStoreError,
)
from covey.spec.vectors import (
    And,
    CollectionNotFoundError,
    Eq,
    Filter,
    In,
    Not,
    Or,
    Range,
    Record,
    VectorQuery,
    VectorStore,
    matches,
)

__all__ = ["FILTER_CASES", "FILTER_RECORDS", "VectorStoreSuite"]

_EMBEDDER = "conformance:fixed-vectors"
_DIMS = 4

FILTER_RECORDS: list[tuple[str, dict[str, Any]]] = [
    ("d1", {"lang": "en", "year": 2020, "score": 0.5, "draft": False, "tag": "animal"}),
    ("d2", {"lang": "en", "year": 2021, "score": 1.5, "draft": True}),
    ("d3", {"lang": "fr", "year": 2022, "score": 2, "tag": "animal"}),
    ("d4", {"lang": "de", "year": "2023", "draft": False}),
    ("d5", {"lang": "en", "year": 2024.0, "score": -1, "tag": "speed"}),
    ("d6", {}),
    ("d7", {"lang": "EN", "year": 1999, "draft": 0, "tag": ["animal"]}),
    ("d8", {"draft": 1, "tag": "x", "date": "2024-03-01", "lang": None}),
]
"""Metadata the filter tests store: mixed types, missing fields, case, nulls and lists."""

FILTER_CASES: dict[str, Filter] = {
    "eq-string": Eq("lang", "en"),
    "eq-is-case-sensitive": Eq("lang", "EN"),
    "eq-int": Eq("year", 2020),
    "eq-int-matches-float": Eq("year", 2024),
    "eq-string-is-not-number": Eq("year", "2023"),
    "eq-false-is-not-zero": Eq("draft", False),
    "eq-one-is-not-true": Eq("draft", 1),
    "eq-float": Eq("score", 2.0),
    "eq-missing-field": Eq("nothing", "x"),
    "in-strings": In("lang", ["en", "fr"]),
    "in-mixed": In("year", [2020, "2023"]),
    "in-empty": In("tag", []),
    "range-gte": Range("year", gte=2021),
    "range-gt-lte": Range("year", gt=2020, lte=2022),
    "range-lt-negative": Range("score", lt=1),
    "range-strings": Range("date", gte="2024-01-01", lt="2025"),
    "range-string-bound-skips-numbers": Range("year", gte="2000"),
    "and": And(Eq("lang", "en"), Range("year", gte=2021)),
    "or": Or(Eq("lang", "fr"), Eq("tag", "speed")),
    "not-includes-missing": Not(Eq("lang", "en")),
    "not-range": Not(Range("year", gte=2021)),
    "not-in": Not(In("tag", ["animal"])),
    "nested": And(Not(Eq("draft", True)), Or(Eq("lang", "en"), Not(Eq("tag", "animal")))),
    "double-not": Or(And(Eq("lang", "en"), Eq("draft", False)), Not(Not(Eq("tag", "x")))),
}
"""Filters checked against `matches` on `FILTER_RECORDS`."""


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _close(a: Sequence[float] | None, b: Sequence[float]) -> bool:
    return (
        a is not None
        and len(a) == len(b)
        and all(math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-6) for x, y in zip(a, b, strict=True))
    )


def _vector(i: int) -> list[float]:
    # Distinct, non-zero, deterministic vectors.
    return [1.0, (i % 3) / 3, (i % 5) / 5, i / 10]


class VectorStoreSuite:
    """Conformance tests for a `VectorStore`. Supply the `vector_store` fixture."""

    __covey_conformance_suite__: ClassVar[bool] = True

    @pytest.fixture
    def vector_store(self) -> VectorStore:
        """The vector store under test: override this fixture in your subclass."""
        pytest.fail(
            "VectorStoreSuite needs a `vector_store` fixture: define `vector_store` in your "
            "subclass, returning (or yielding) a VectorStore ready to use.",
            pytrace=False,
        )

    async def _collection(self, store: VectorStore, records: Sequence[Record] = ()) -> str:
        name = _name("c")
        await store.ensure_collection(name, embedder_name=_EMBEDDER, dimensions=_DIMS)
        if records:
            await store.upsert(name, records)
        return name

    # --- collections -----------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_ensure_collection_records_embedder(self, vector_store: VectorStore) -> None:
        """`ensure_collection` creates a collection once and reports its embedder and count.

        If this fails: persist the embedder name and dimensions with the collection (table
        metadata, a side table, collection config) and return them with the record count.
        """
        name = _name("c")
        info = await vector_store.ensure_collection(name, embedder_name=_EMBEDDER, dimensions=4)
        assert (info.name, info.embedder_name, info.dimensions, info.count) == (
            name,
            _EMBEDDER,
            4,
            0,
        )
        await vector_store.upsert(name, [Record(id="a", vector=[1, 0, 0, 0])])
        again = await vector_store.ensure_collection(name, embedder_name=_EMBEDDER, dimensions=4)
        assert (again.embedder_name, again.dimensions, again.count) == (_EMBEDDER, 4, 1)
        listed = {c.name: c for c in await vector_store.list_collections()}
        assert listed[name].count == 1
        assert listed[name].embedder_name == _EMBEDDER

    @pytest.mark.asyncio
    async def test_embedder_mismatch_is_refused(self, vector_store: VectorStore) -> None:
        """Another embedder name or dimension on an existing collection raises, naming both.

        If this fails: compare the stored embedder name and dimensions with the requested ones
        (`covey.spec.vectors.check_embedder` does it) and raise `EmbedderMismatchError`.
        """
        name = await self._collection(vector_store)
        with pytest.raises(EmbedderMismatchError) as by_name:
            await vector_store.ensure_collection(name, embedder_name="other:model", dimensions=4)
        assert _EMBEDDER in str(by_name.value)
        assert "other:model" in str(by_name.value)
        with pytest.raises(EmbedderMismatchError) as by_dims:
            await vector_store.ensure_collection(name, embedder_name=_EMBEDDER, dimensions=8)
        assert "4" in str(by_dims.value)
        assert "8" in str(by_dims.value)
        assert isinstance(by_dims.value, VectorStoreError)

    @pytest.mark.asyncio
    async def test_invalid_collection_arguments(self, vector_store: VectorStore) -> None:
        """Bad collection names and non-positive dimensions raise `InvalidInputError`.

        If this fails: call `covey.spec.vectors.check_collection_name(name)` and check
        `dimensions >= 1` before creating anything.
        """
        for bad in ("", "has space", "semi;colon", "../up", "x" * 64, "-leading"):
            with pytest.raises(InvalidInputError):
                await vector_store.ensure_collection(bad, embedder_name=_EMBEDDER, dimensions=4)
        with pytest.raises(InvalidInputError):
            await vector_store.ensure_collection(_name("c"), embedder_name=_EMBEDDER, dimensions=0)

    @pytest.mark.asyncio
    async def test_unknown_collection_raises_not_found(self, vector_store: VectorStore) -> None:
        """Every operation on a missing collection raises `CollectionNotFoundError`.

        If this fails: look the collection up first and raise
        `covey.spec.vectors.CollectionNotFoundError(name)` (a `NotFoundError` and a
        `VectorStoreError`) instead of creating it or returning nothing.
        """
        name = _name("missing")
        query = VectorQuery(vector=[1, 0, 0, 0])
        calls: list[Callable[[], Awaitable[object]]] = [
            lambda: vector_store.upsert(name, [Record(id="a", vector=[1, 0, 0, 0])]),
            lambda: vector_store.query(name, query),
            lambda: vector_store.get(name, ["a"]),
            lambda: vector_store.delete(name, ids=["a"]),
            lambda: vector_store.count(name),
        ]
        for call in calls:
            with pytest.raises(CollectionNotFoundError) as caught:
                await call()
            assert isinstance(caught.value, NotFoundError)
            assert isinstance(caught.value, VectorStoreError)
        assert name not in [c.name for c in await vector_store.list_collections()]

    @pytest.mark.asyncio
    async def test_drop_and_list_collections(self, vector_store: VectorStore) -> None:
        """Dropping removes a collection and its records; it can then be made anew.

        If this fails: `drop_collection` returns whether the collection existed, and leaves
        nothing (records, embedder record) behind.
        """
        first, second = sorted([_name("c"), _name("c")])
        for name in (second, first):
            await vector_store.ensure_collection(name, embedder_name=_EMBEDDER, dimensions=4)
        names = [c.name for c in await vector_store.list_collections()]
        assert [n for n in names if n in (first, second)] == [first, second]
        await vector_store.upsert(first, [Record(id="a", vector=[1, 0, 0, 0])])
        assert await vector_store.drop_collection(first) is True
        assert await vector_store.drop_collection(first) is False
        assert first not in [c.name for c in await vector_store.list_collections()]
        info = await vector_store.ensure_collection(first, embedder_name="new:model", dimensions=2)
        assert (info.embedder_name, info.dimensions, info.count) == ("new:model", 2, 0)

    # --- upsert and get --------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_upsert_and_get_round_trip(self, vector_store: VectorStore) -> None:
        """Records read back with their vector, text and JSON metadata, in the order asked.

        If this fails: store metadata as JSON (nested values included) and return `get`
        results in the order of `ids`, skipping missing ones.
        """
        metadata = {
            "s": "text ✓",
            "i": 3,
            "f": 2.5,
            "b": True,
            "l": ["x", "y"],
            "n": {"k": "v", "deep": [1, 2]},
        }
        a = Record(id="a", vector=[0.1, 0.2, 0.3, 0.4], text="alpha", metadata=metadata)
        b = Record(id="b", vector=[0.4, 0.3, 0.2, 0.1], text=None, metadata={})
        name = await self._collection(vector_store, [a, b])
        got = await vector_store.get(name, ["b", "missing", "a"])
        assert [r.id for r in got] == ["b", "a"]
        assert _close(got[1].vector, [0.1, 0.2, 0.3, 0.4])
        assert (got[1].text, got[1].metadata) == ("alpha", metadata)
        assert (got[0].text, got[0].metadata) == (None, {})
        assert await vector_store.get(name, []) == []

    @pytest.mark.asyncio
    async def test_upsert_is_idempotent_and_replaces(self, vector_store: VectorStore) -> None:
        """Upserting an id again replaces the record instead of adding one.

        If this fails: upsert by id (merge/insert-or-replace), never append.
        """
        name = await self._collection(vector_store)
        record = Record(id="a", vector=[1, 0, 0, 0], text="old", metadata={"v": 1})
        await vector_store.upsert(name, [record])
        await vector_store.upsert(name, [record])
        assert await vector_store.count(name) == 1
        await vector_store.upsert(
            name, [Record(id="a", vector=[0, 1, 0, 0], text="new", metadata={"v": 2})]
        )
        assert await vector_store.count(name) == 1
        [got] = await vector_store.get(name, ["a"])
        assert (got.text, got.metadata) == ("new", {"v": 2})
        assert _close(got.vector, [0, 1, 0, 0])
        hits = await vector_store.query(name, VectorQuery(text="old"))
        assert hits == []

    @pytest.mark.asyncio
    async def test_upsert_is_all_or_nothing(self, vector_store: VectorStore) -> None:
        """A batch with one bad record writes nothing, and says what is wrong.

        If this fails: validate the whole batch first (`covey.spec.vectors.check_records`),
        then write it in one operation. Wrong dimensions raise `EmbedderMismatchError`;
        missing vectors, repeated or malformed ids and NaN raise `InvalidInputError`.
        """
        name = await self._collection(vector_store)
        good = Record(id="good", vector=[1, 0, 0, 0])
        bad_batches: list[tuple[type[Exception], list[Record]]] = [
            (EmbedderMismatchError, [good, Record(id="short", vector=[1, 0, 0])]),
            (InvalidInputError, [good, Record(id="novector", text="x")]),
            (InvalidInputError, [good, Record(id="good", vector=[0, 1, 0, 0])]),
            (InvalidInputError, [good, Record(id="", vector=[0, 1, 0, 0])]),
            (InvalidInputError, [good, Record(id="nan", vector=[math.nan, 0, 0, 0])]),
        ]
        for error, batch in bad_batches:
            with pytest.raises(error):
                await vector_store.upsert(name, batch)
            assert await vector_store.count(name) == 0
        await vector_store.upsert(name, [])
        assert await vector_store.count(name) == 0

    @pytest.mark.asyncio
    async def test_concurrent_upserts(self, vector_store: VectorStore) -> None:
        """Upserts from many tasks into one collection all land.

        If this fails: writes from concurrent tasks overwrite each other; serialise them or
        use the backend's atomic merge.
        """
        name = await self._collection(vector_store)
        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(
                    vector_store.upsert, name, [Record(id=f"r{i}", vector=_vector(i + 1))]
                )
        assert await vector_store.count(name) == 10

    # --- queries ---------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_vector_query_orders_by_cosine(self, vector_store: VectorStore) -> None:
        """Vector hits come best first, scored by cosine similarity, cut at `k`/`min_score`.

        If this fails: use the cosine metric (not L2 or dot product) and report similarity
        (`1 - cosine_distance`) as the score; apply `min_score` to that score.
        """
        records = [
            Record(id="same", vector=[1, 0, 0, 0], text="same"),
            Record(id="near", vector=[2, 0.2, 0, 0], text="near"),
            Record(id="orthogonal", vector=[0, 3, 0, 0], text="orthogonal"),
            Record(id="opposite", vector=[-1, 0, 0, 0], text="opposite"),
        ]
        name = await self._collection(vector_store, records)
        hits = await vector_store.query(name, VectorQuery(vector=[5, 0, 0, 0], k=10))
        assert [h.record.id for h in hits] == ["same", "near", "orthogonal", "opposite"]
        expected = [1.0, 2 / math.sqrt(4.04), 0.0, -1.0]
        for hit, score in zip(hits, expected, strict=True):
            assert math.isclose(hit.score, score, abs_tol=1e-3), (hit.record.id, hit.score)
        assert hits[0].record.text == "same"
        top = await vector_store.query(name, VectorQuery(vector=[1, 0, 0, 0], k=2))
        assert [h.record.id for h in top] == ["same", "near"]
        good = await vector_store.query(name, VectorQuery(vector=[1, 0, 0, 0], min_score=0.5))
        assert [h.record.id for h in good] == ["same", "near"]

    @pytest.mark.asyncio
    async def test_query_vectors_only_when_asked(self, vector_store: VectorStore) -> None:
        """`include_vectors=True` returns each hit's vector.

        If this fails: select the vector column when `query.include_vectors` is set.
        """
        name = await self._collection(vector_store, [Record(id="a", vector=[0.5, 0.5, 0, 0])])
        [hit] = await vector_store.query(
            name, VectorQuery(vector=[1, 1, 0, 0], include_vectors=True)
        )
        assert _close(hit.record.vector, [0.5, 0.5, 0, 0])

    @pytest.mark.asyncio
    async def test_query_vector_dimension_mismatch(self, vector_store: VectorStore) -> None:
        """A query vector of the wrong length raises `EmbedderMismatchError`.

        If this fails: compare `len(query.vector)` with the collection's dimensions before
        searching.
        """
        name = await self._collection(vector_store, [Record(id="a", vector=[1, 0, 0, 0])])
        with pytest.raises(EmbedderMismatchError):
            await vector_store.query(name, VectorQuery(vector=[1, 0, 0]))

    @pytest.mark.asyncio
    async def test_filter_applies_before_k(self, vector_store: VectorStore) -> None:
        """`k` counts records that pass the filter: filtering happens before the top-k cut.

        If this fails: pre-filter (pass the filter to the index search) instead of
        filtering the top-k hits afterwards.
        """
        records = [
            Record(id=f"r{i}", vector=[1.0, i / 10, 0, 0], metadata={"keep": i >= 7})
            for i in range(10)
        ]
        name = await self._collection(vector_store, records)
        hits = await vector_store.query(
            name, VectorQuery(vector=[1, 0, 0, 0], k=2, filter=Eq("keep", True))
        )
        assert [h.record.id for h in hits] == ["r7", "r8"]

    @pytest.mark.asyncio
    async def test_text_query(self, vector_store: VectorStore) -> None:
        """Text hits contain a query word; a record with every query word ranks first.

        If this fails: index `Record.text` for full-text search (BM25 or similar), return only
        records matching at least one query term, best first.
        """
        records = [
            Record(
                id="both", vector=_vector(1), text="solar panels turn sunlight into electricity"
            ),
            Record(id="one-a", vector=_vector(2), text="wind turbines turn wind into electricity"),
            Record(id="none", vector=_vector(3), text="bake bread with flour water and yeast"),
            Record(id="one-b", vector=_vector(4), text="solar heating for homes and offices"),
            Record(id="no-text", vector=_vector(5)),
        ]
        name = await self._collection(vector_store, records)
        hits = await vector_store.query(name, VectorQuery(text="solar electricity", k=10))
        ids = [h.record.id for h in hits]
        assert ids[0] == "both"
        assert sorted(ids) == ["both", "one-a", "one-b"]
        assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
        one = await vector_store.query(name, VectorQuery(text="solar electricity", k=1))
        assert [h.record.id for h in one] == ["both"]
        filtered = await vector_store.query(
            name, VectorQuery(text="electricity", filter=Not(In("__missing__", ["x"])))
        )
        assert sorted(h.record.id for h in filtered) == ["both", "one-a"]

    @pytest.mark.asyncio
    async def test_hybrid_query(self, vector_store: VectorStore) -> None:
        """Hybrid fuses vector and text rankings: the record best in both comes first.

        If this fails: run the vector and the text search, then fuse the two rankings
        (`covey.spec.vectors.reciprocal_rank_fusion`, or the backend's own hybrid search).
        """
        records = [
            Record(id="both", vector=[1, 0, 0, 0], text="solar electricity"),
            Record(id="vector-only", vector=[0.9, 0.3, 0, 0], text="bread and butter"),
            Record(id="text-only", vector=[0, 0, 1, 0], text="solar heating"),
            Record(id="neither", vector=[0, 0, 0, 1], text="flour"),
        ]
        name = await self._collection(vector_store, records)
        query = VectorQuery(vector=[1, 0, 0, 0], text="solar", k=10)
        assert query.mode == "hybrid"
        hits = await vector_store.query(name, query)
        ids = [h.record.id for h in hits]
        assert ids[0] == "both"
        assert {"both", "vector-only", "text-only"} <= set(ids)
        assert len(ids) == len(set(ids))
        assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
        narrowed = await vector_store.query(
            name, query.model_copy(update={"filter": Eq("__none__", 1)})
        )
        assert narrowed == []

    @pytest.mark.asyncio
    async def test_explicit_vector_mode_ignores_text(self, vector_store: VectorStore) -> None:
        """With `mode="vector"` the query text plays no part in the ranking.

        If this fails: dispatch on `query.mode`, not on which fields are set.
        """
        records = [
            Record(id="close", vector=[1, 0, 0, 0], text="nothing relevant"),
            Record(id="far", vector=[0, 1, 0, 0], text="solar solar solar"),
        ]
        name = await self._collection(vector_store, records)
        hits = await vector_store.query(
            name, VectorQuery(vector=[1, 0, 0, 0], text="solar", mode="vector")
        )
        assert [h.record.id for h in hits] == ["close", "far"]

    # --- filters ---------------------------------------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.parametrize("case", sorted(FILTER_CASES))
    async def test_filter_semantics(self, vector_store: VectorStore, case: str) -> None:
        """Each filter selects exactly the records `covey.spec.vectors.matches` selects.

        If this fails: compile the filter so that a missing field never matches `Eq`, `In` or
        `Range` (and so matches `Not`), booleans never equal numbers, strings never equal
        numbers, and `Range` compares numbers with numbers and strings with strings only. The
        case name says which rule broke.
        """
        flt = FILTER_CASES[case]
        records = [
            Record(id=rid, vector=_vector(i), text=f"record {rid}", metadata=md)
            for i, (rid, md) in enumerate(FILTER_RECORDS, start=1)
        ]
        name = await self._collection(vector_store, records)
        expected = sorted(rid for rid, md in FILTER_RECORDS if matches(flt, md))
        hits = await vector_store.query(name, VectorQuery(vector=[1, 0, 0, 0], k=100, filter=flt))
        assert sorted(h.record.id for h in hits) == expected
        assert await vector_store.count(name, flt) == len(expected)
        text_hits = await vector_store.query(name, VectorQuery(text="record", k=100, filter=flt))
        assert sorted(h.record.id for h in text_hits) == expected

    # --- delete and count ------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_delete_by_ids_filter_or_both(self, vector_store: VectorStore) -> None:
        """`delete` removes by ids, by filter, or records matching both, and says how many.

        If this fails: count only records actually deleted (missing ids do not count), and
        with both arguments delete the intersection.
        """
        records = [
            Record(
                id=f"r{i}", vector=_vector(i + 1), metadata={"group": "odd" if i % 2 else "even"}
            )
            for i in range(6)
        ]
        name = await self._collection(vector_store, records)
        assert await vector_store.delete(name, ids=["r0", "missing"]) == 1
        assert await vector_store.count(name) == 5
        assert await vector_store.delete(name, ids=["r1", "r2"], filter=Eq("group", "odd")) == 1
        assert sorted(r.id for r in await vector_store.get(name, ["r1", "r2"])) == ["r2"]
        assert await vector_store.delete(name, filter=Eq("group", "even")) == 2
        assert sorted(r.id for r in await vector_store.get(name, [f"r{i}" for i in range(6)])) == [
            "r3",
            "r5",
        ]
        assert await vector_store.delete(name, filter=Eq("group", "even")) == 0
        with pytest.raises(InvalidInputError):
            await vector_store.delete(name)
        assert await vector_store.count(name) == 2

    @pytest.mark.asyncio
    async def test_count(self, vector_store: VectorStore) -> None:
        """`count` counts every record, or the ones passing a filter.

        If this fails: count in the backend with the compiled filter.
        """
        records = [Record(id=f"r{i}", vector=_vector(i + 1), metadata={"i": i}) for i in range(7)]
        name = await self._collection(vector_store, records)
        assert await vector_store.count(name) == 7
        assert await vector_store.count(name, Range("i", gte=5)) == 2
        assert await vector_store.count(name, Eq("i", 100)) == 0

    @pytest.mark.asyncio
    async def test_close_is_idempotent_and_context_manager_works(
        self, vector_store: VectorStore
    ) -> None:
        """`async with vector_store` returns the store; `close` may be called twice.

        If this fails: return `self` from `__aenter__` and make `close` a no-op once closed.
        """
        async with vector_store as entered:
            assert entered is vector_store
        await vector_store.close()
