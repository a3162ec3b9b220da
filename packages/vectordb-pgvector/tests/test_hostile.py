"""Hostile values: nothing a caller writes reaches the SQL text; bad values are typed errors."""

from __future__ import annotations

import math
import uuid

import pytest

from covey.spec.errors import InvalidInputError
from covey.spec.vectors import Eq, In, Not, Range, Record, VectorQuery, matches
from covey.vectordb.pgvector import PgVectorStore

pytestmark = pytest.mark.postgres

HOSTILE = [
    "'; DROP TABLE covey_vector_collections; --",
    '"); DELETE FROM pg_class; --',
    "\\' OR 1=1 --",
    ":name $1 %s %(x)s {0}",
    "ünïcødé ✓ 🐍",
    "a & b | !c <-> d:* (e)",
    "' & '",
]


def _name() -> str:
    return f"h-{uuid.uuid4().hex[:12]}"


async def test_hostile_values_round_trip_and_filter_exactly(pg_store: PgVectorStore) -> None:
    """Hostile ids, text and metadata are stored as data and found only by equal values."""
    name = _name()
    await pg_store.ensure_collection(name, embedder_name="test:e", dimensions=2)
    records = [
        Record(
            id=value,
            vector=[1.0, i + 1.0],
            text=f"solar {value}",
            metadata={"v": value, value[:20] or "k": [value], "n": {"deep": value}},
        )
        for i, value in enumerate(HOSTILE)
    ]
    await pg_store.upsert(name, records)
    got = await pg_store.get(name, HOSTILE)
    assert [(r.id, r.text, r.metadata) for r in got] == [
        (r.id, r.text, r.metadata) for r in records
    ]
    for value in HOSTILE:
        hits = await pg_store.query(name, VectorQuery(vector=[1, 0], k=20, filter=Eq("v", value)))
        assert [h.record.id for h in hits] == [value]
        text_hits = await pg_store.query(name, VectorQuery(text=value, k=20))
        assert value in [h.record.id for h in text_hits] or not any(c.isalnum() for c in value)
    assert await pg_store.count(name, In("v", HOSTILE)) == len(HOSTILE)
    assert await pg_store.count(name, Range("v", gte="'", lt="(")) == 2  # "'; DROP..." and "' & '"
    assert await pg_store.delete(name, filter=Not(Eq("v", HOSTILE[0]))) == len(HOSTILE) - 1
    assert [r.id for r in await pg_store.get(name, HOSTILE)] == [HOSTILE[0]]
    assert name in [c.name for c in await pg_store.list_collections()]


async def test_query_text_with_tsquery_syntax_is_plain_words(pg_store: PgVectorStore) -> None:
    """Operators of PostgreSQL's tsquery syntax in the query are just words; no syntax error."""
    name = _name()
    await pg_store.ensure_collection(name, embedder_name="test:e", dimensions=2)
    await pg_store.upsert(
        name,
        [
            Record(id="a", vector=[1, 0], text="solar power"),
            Record(id="b", vector=[0, 1], text="wind power"),
        ],
    )
    for query in ["solar & !moon", "solar | (", "'solar':*", "solar <-> ''", "!!solar))"]:
        hits = await pg_store.query(name, VectorQuery(text=query, k=5))
        assert [h.record.id for h in hits] == ["a"], query
    assert await pg_store.query(name, VectorQuery(text="!!! & | ::", k=5)) == []
    hybrid = await pg_store.query(name, VectorQuery(vector=[0, 1], text="!!! &", k=5))
    assert [h.record.id for h in hybrid] == ["b", "a"]


@pytest.mark.parametrize(
    "record",
    [
        Record(id="nul-text", vector=[1, 0], text="before\x00after"),
        Record(id="nul-metadata", vector=[1, 0], metadata={"k": "a\x00b"}),
        Record(id="overflow", vector=[1e39, 0]),
        Record(id="surrogate", vector=[1, 0], text="bad \ud800 half"),
    ],
    ids=lambda r: r.id,
)
async def test_values_postgresql_cannot_hold_are_refused_whole(
    pg_store: PgVectorStore, record: Record
) -> None:
    """NUL characters, float4 overflow, lone surrogates: `InvalidInputError`, nothing written."""
    name = _name()
    await pg_store.ensure_collection(name, embedder_name="test:e", dimensions=2)
    with pytest.raises(InvalidInputError):
        await pg_store.upsert(name, [Record(id="fine", vector=[0, 1]), record])
    assert await pg_store.count(name) == 0


async def test_non_finite_filter_values_follow_matches(pg_store: PgVectorStore) -> None:
    """NaN and infinite filter values select what `matches` selects, never an SQL error."""
    name = _name()
    metadata = [{"x": 1}, {"x": -5.5}, {"x": "a"}, {}]
    records = [Record(id=f"r{i}", vector=[1, 0], metadata=md) for i, md in enumerate(metadata)]
    await pg_store.ensure_collection(name, embedder_name="test:e", dimensions=2)
    await pg_store.upsert(name, records)
    filters = [
        Eq("x", math.nan),
        Eq("x", math.inf),
        Range("x", lt=math.inf),
        Range("x", gt=-math.inf, lte=1),
        Range("x", gt=math.inf),
        Range("x", gte=math.nan),
        Not(Range("x", lt=-math.inf)),
    ]
    for flt in filters:
        expected = sorted(r.id for r in records if matches(flt, r.metadata))
        hits = await pg_store.query(name, VectorQuery(vector=[1, 0], k=10, filter=flt))
        assert sorted(h.record.id for h in hits) == expected, flt


@pytest.mark.parametrize("name", ["x'; DROP TABLE t; --", 'a"b', "../etc", "a" * 64, "", "ü"])
async def test_hostile_collection_names_are_refused(pg_store: PgVectorStore, name: str) -> None:
    with pytest.raises(InvalidInputError):
        await pg_store.ensure_collection(name, embedder_name="test:e", dimensions=2)
    with pytest.raises(InvalidInputError):
        await pg_store.query(name, VectorQuery(vector=[1, 0]))


async def test_dimensions_beyond_pgvector_are_refused(pg_store: PgVectorStore) -> None:
    with pytest.raises(InvalidInputError, match="16000"):
        await pg_store.ensure_collection(_name(), embedder_name="test:e", dimensions=16001)
