"""Filters beyond the suite's cases: long and Unicode string ranges, odd keys, big filters.

Each compiled filter must select exactly what `covey.spec.vectors.matches` selects.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from covey.conformance.vector_store_suite import FILTER_CASES, FILTER_RECORDS
from covey.spec.errors import InvalidInputError
from covey.spec.vectors import Eq, Filter, In, Not, Or, Range, Record, VectorQuery, matches
from covey.vectordb.qdrant import QdrantVectorStore
from covey.vectordb.qdrant.filters import MAX_ORDERED_BYTES

STRINGS = [
    "",
    "a",
    "a\x00",
    "ab",
    "abcdef",
    "abcdefg",
    "abcdeg",
    "abcdef" * 3,
    "abcdef" * 3 + "a",
    "b",
    "Z",
    "é",
    "e\u0301",
    "日本",
    "😀",
    "2024-03-01T12:00:00+00:00",
    "2024-03-01",
    "2024-3-1",
    "x" * 200,
    "x" * 200 + "y",
]
BOUNDS = ["", "a", "abcdef", "abcdefg", "abcdef" * 3, "é", "2024-03-01", "x" * 47, "😀"]


@pytest.fixture
async def store() -> Any:
    async with QdrantVectorStore() as store:
        await store.ensure_collection("c", embedder_name="test:e", dimensions=2)
        records = [
            Record(id=f"s{i}", vector=[1, i + 1], text="word", metadata={"v": s})
            for i, s in enumerate(STRINGS)
        ]
        records += [
            Record(id="num", vector=[1, 0], text="word", metadata={"v": 3}),
            Record(id="list", vector=[1, 0], text="word", metadata={"v": ["a", "b"]}),
            Record(id="none", vector=[1, 0], text="word", metadata={}),
        ]
        await store.upsert("c", records)
        yield store


async def _selected(store: QdrantVectorStore, flt: Filter) -> list[str]:
    hits = await store.query("c", VectorQuery(vector=[1, 0], k=100, filter=flt))
    return sorted(h.record.id for h in hits)


def _expected(flt: Filter) -> list[str]:
    metadata = {f"s{i}": {"v": s} for i, s in enumerate(STRINGS)}
    metadata |= {"num": {"v": 3}, "list": {"v": ["a", "b"]}, "none": {}}
    return sorted(rid for rid, md in metadata.items() if matches(flt, md))


async def test_string_ranges_order_like_python(store: QdrantVectorStore) -> None:
    for bound, op in itertools.product(BOUNDS, ("gt", "gte", "lt", "lte")):
        flt = Range("v", **{op: bound})
        assert await _selected(store, flt) == _expected(flt), (op, bound)
        assert await store.count("c", Not(flt)) == len(_expected(Not(flt))), (op, bound)


async def test_two_sided_string_ranges(store: QdrantVectorStore) -> None:
    for low, high in itertools.combinations(sorted(BOUNDS), 2):
        flt = Range("v", gte=low, lt=high)
        assert await _selected(store, flt) == _expected(flt), (low, high)


async def test_a_too_long_string_bound_is_refused(store: QdrantVectorStore) -> None:
    with pytest.raises(InvalidInputError, match=str(MAX_ORDERED_BYTES)):
        await store.query("c", VectorQuery(vector=[1, 0], filter=Range("v", lt="x" * 48)))


async def test_equality_and_in_on_strings_numbers_and_lists(store: QdrantVectorStore) -> None:
    cases: list[Filter] = [
        Eq("v", "e\u0301"),
        Eq("v", 3.0),
        Eq("v", "a"),
        In("v", ["a", 3, True, "日本"]),
        Or(Eq("v", "ab"), Not(In("v", ["a", "b"]))),
    ]
    for flt in cases:
        assert await _selected(store, flt) == _expected(flt), flt


async def test_keys_no_filter_can_name_still_round_trip() -> None:
    metadata = {"with-dash": 1, "dotted.key": "x", "9lives": True, "ok": "y"}
    async with QdrantVectorStore() as store:
        await store.ensure_collection("c", embedder_name="test:e", dimensions=2)
        await store.upsert("c", [Record(id="r", vector=[1, 0], metadata=metadata)])
        [got] = await store.get("c", ["r"])
        assert got.metadata == metadata
        assert await store.count("c", Eq("ok", "y")) == 1


async def test_records_are_found_by_their_own_ids_whatever_they_look_like() -> None:
    ids = ["1", "00000000-0000-0000-0000-000000000001", "a/b?c", "ü" * 50, "doc#3:chunk:7"]
    async with QdrantVectorStore() as store:
        await store.ensure_collection("c", embedder_name="test:e", dimensions=2)
        await store.upsert("c", [Record(id=i, vector=[1, n]) for n, i in enumerate(ids)])
        assert [r.id for r in await store.get("c", list(reversed(ids)))] == list(reversed(ids))
        assert await store.delete("c", ids=[ids[1], "missing"]) == 1
        assert await store.count("c") == len(ids) - 1


@pytest.mark.parametrize("case", sorted(FILTER_CASES))
async def test_hybrid_queries_filter_exactly(case: str) -> None:
    flt = FILTER_CASES[case]
    async with QdrantVectorStore() as store:
        await store.ensure_collection("c", embedder_name="test:e", dimensions=2)
        await store.upsert(
            "c",
            [
                Record(id=rid, vector=[1, i], text=f"record {rid}", metadata=md)
                for i, (rid, md) in enumerate(FILTER_RECORDS)
            ],
        )
        hits = await store.query("c", VectorQuery(vector=[1, 0], text="record", k=100, filter=flt))
    assert sorted(h.record.id for h in hits) == sorted(
        rid for rid, md in FILTER_RECORDS if matches(flt, md)
    )
