"""Search behaviour beyond the suite: HNSW with filters, text configs, wide vectors, persistence."""

from __future__ import annotations

import math
import random
import uuid

import anyio
import pytest
from sqlalchemy import text

from covey.spec.errors import ConfigurationError, EmbedderMismatchError
from covey.spec.vectors import Eq, Record, VectorQuery
from covey.vectordb.pgvector import PgVectorStore

pytestmark = pytest.mark.postgres


def _name() -> str:
    return f"c-{uuid.uuid4().hex[:12]}"


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


async def _table(store: PgVectorStore, name: str) -> str:
    async with store._get_engine().connect() as conn:
        found = await conn.scalar(
            text("SELECT table_name FROM covey_vector_collections WHERE name = :n"), {"n": name}
        )
    assert isinstance(found, str)
    return found


async def test_filtered_query_returns_k_when_hnsw_finds_none(pg_store: PgVectorStore) -> None:
    """A filter whose records are all far from the query still yields the exact top k.

    The HNSW index only looks at `hnsw.ef_search` neighbours and filters afterwards; here every
    one of them fails the filter, so the index alone returns nothing (checked below on the
    same table). The store must fall back to an exact scan.
    """
    name = _name()
    await pg_store.ensure_collection(name, embedder_name="test:e", dimensions=8)
    rng = random.Random(7)
    records: list[Record] = []
    for i in range(1000):
        rare = i % 5 == 0
        vector = (
            [-1.0 - rng.random(), *(rng.gauss(0, 0.1) for _ in range(7))]
            if rare
            else [rng.gauss(0, 1) for _ in range(8)]
        )
        records.append(Record(id=f"r{i}", vector=vector, metadata={"tag": "rare" if rare else "x"}))
    for start in range(0, len(records), 500):
        await pg_store.upsert(name, records[start : start + 500])
    table = await _table(pg_store, name)
    query = [1.0, 0, 0, 0, 0, 0, 0, 0]
    async with pg_store._get_engine().connect() as conn:
        # Statistics make the planner pick the HNSW index for this filter (rows estimated).
        await conn.execute(text(f'ANALYZE "{table}"'))
        await conn.commit()
        plan = "\n".join(
            row[0]
            for row in await conn.execute(
                text(
                    f"""EXPLAIN SELECT id FROM "{table}" WHERE metadata @> '{{"tag":"rare"}}'"""
                    " ORDER BY embedding <=> '[1,0,0,0,0,0,0,0]' LIMIT 10"
                )
            )
        )
        index_only = (
            await conn.execute(
                text(
                    f"""SELECT id FROM "{table}" WHERE metadata @> '{{"tag":"rare"}}'"""
                    " ORDER BY embedding <=> '[1,0,0,0,0,0,0,0]' LIMIT 10"
                )
            )
        ).all()
    assert "_embedding" in plan, plan  # the planner does pick the HNSW index here
    assert len(index_only) < 10  # and the index alone misses the matching records

    hits = await pg_store.query(name, VectorQuery(vector=query, k=10, filter=Eq("tag", "rare")))
    rare = [r for r in records if r.metadata["tag"] == "rare"]
    expected = sorted(rare, key=lambda r: -_cosine(query, r.vector or []))[:10]
    assert [h.record.id for h in hits] == [r.id for r in expected]
    for hit, record in zip(hits, expected, strict=True):
        assert math.isclose(hit.score, _cosine(query, record.vector or []), abs_tol=1e-5)


async def test_unfiltered_query_uses_the_index_and_ranks_by_cosine(pg_store: PgVectorStore) -> None:
    """Without a filter the HNSW index answers, best first, with cosine scores."""
    name = _name()
    await pg_store.ensure_collection(name, embedder_name="test:e", dimensions=4)
    rng = random.Random(3)
    records = [Record(id=f"r{i}", vector=[rng.gauss(0, 1) for _ in range(4)]) for i in range(500)]
    await pg_store.upsert(name, records)
    query = [0.3, -0.2, 0.9, 0.1]
    hits = await pg_store.query(name, VectorQuery(vector=query, k=5))
    expected = sorted(records, key=lambda r: -_cosine(query, r.vector or []))[:5]
    assert [h.record.id for h in hits] == [r.id for r in expected]


async def test_text_search_config_english_stems(pgvector_url: str) -> None:
    """`text_search_config="english"` stems words; the default `simple` matches words as they are."""
    english, simple = _name(), _name()
    records = [Record(id="a", vector=[1, 0], text="She was running to the shops")]
    async with PgVectorStore(pgvector_url, text_search_config="english") as store:
        assert store.text_search_config == "english"
        await store.ensure_collection(english, embedder_name="test:e", dimensions=2)
        await store.upsert(english, records)
        hits = await store.query(english, VectorQuery(text="runs", k=3))
        assert [h.record.id for h in hits] == ["a"]
    async with PgVectorStore(pgvector_url) as store:
        await store.ensure_collection(simple, embedder_name="test:e", dimensions=2)
        await store.upsert(simple, records)
        assert await store.query(simple, VectorQuery(text="runs", k=3)) == []
        assert [h.record.id for h in await store.query(simple, VectorQuery(text="RUNNING"))] == [
            "a"
        ]
        # Each collection keeps the configuration it was made with.
        hits = await store.query(english, VectorQuery(text="run", k=3))
        assert [h.record.id for h in hits] == ["a"]


async def test_url_parameter_sets_text_search_config(pgvector_url: str) -> None:
    """`?text_search_config=english` on the URL does what the argument does."""
    name = _name()
    async with PgVectorStore(f"{pgvector_url}&text_search_config=english") as store:
        assert store.text_search_config == "english"
        await store.ensure_collection(name, embedder_name="test:e", dimensions=2)
        await store.upsert(name, [Record(id="a", vector=[1, 0], text="cats")])
        assert [h.record.id for h in await store.query(name, VectorQuery(text="cat"))] == ["a"]


async def test_unknown_text_search_config_is_refused(pgvector_url: str) -> None:
    """A configuration the server does not have fails at creation, naming it; nothing is made."""
    name = _name()
    async with PgVectorStore(pgvector_url, text_search_config="klingon") as store:
        with pytest.raises(ConfigurationError, match="klingon"):
            await store.ensure_collection(name, embedder_name="test:e", dimensions=2)
        assert name not in [c.name for c in await store.list_collections()]


async def test_embedder_is_recorded_in_the_database(pgvector_url: str) -> None:
    """Another store on the same database sees the collection's embedder and refuses another."""
    name = _name()
    async with PgVectorStore(pgvector_url) as first:
        await first.ensure_collection(name, embedder_name="local:all-minilm-l6-v2", dimensions=3)
        await first.upsert(name, [Record(id="a", vector=[1, 2, 3], text="x")])
    async with PgVectorStore(pgvector_url) as second:
        info = await second.ensure_collection(
            name, embedder_name="local:all-minilm-l6-v2", dimensions=3
        )
        assert (info.dimensions, info.count) == (3, 1)
        with pytest.raises(EmbedderMismatchError) as caught:
            await second.ensure_collection(
                name, embedder_name="openai:text-embedding-3-small", dimensions=3
            )
        assert "local:all-minilm-l6-v2" in str(caught.value)
        assert "openai:text-embedding-3-small" in str(caught.value)


async def test_concurrent_ensure_collection_from_two_stores(pgvector_url: str) -> None:
    """Two stores creating the same collection at once: one creates it, both get it."""
    name = _name()
    results: list[int] = []
    async with PgVectorStore(pgvector_url) as a, PgVectorStore(pgvector_url) as b:

        async def ensure(store: PgVectorStore) -> None:
            info = await store.ensure_collection(name, embedder_name="test:e", dimensions=2)
            results.append(info.dimensions)

        async with anyio.create_task_group() as tg:
            for store in (a, b, a, b):
                tg.start_soon(ensure, store)
        assert results == [2, 2, 2, 2]
        assert [c.name for c in await a.list_collections()].count(name) == 1


async def test_vectors_wider_than_hnsw_allows_are_searched_exactly(pg_store: PgVectorStore) -> None:
    """pgvector's HNSW takes at most 2,000 dimensions; wider collections still work, exactly."""
    name = _name()
    dims = 3072
    await pg_store.ensure_collection(
        name, embedder_name="openai:text-embedding-3-large", dimensions=dims
    )
    records = [
        Record(id=f"r{i}", vector=[1.0 if j == i else 0.01 for j in range(dims)]) for i in range(5)
    ]
    await pg_store.upsert(name, records)
    query = [1.0 if j in (2, 3) else 0.0 for j in range(dims)]
    query[2] = 2.0
    hits = await pg_store.query(name, VectorQuery(vector=query, k=2, include_vectors=True))
    assert [h.record.id for h in hits] == ["r2", "r3"]
    assert hits[0].record.vector is not None
    assert len(hits[0].record.vector) == dims


async def test_zero_vector_scores_zero_like_the_reference(pg_store: PgVectorStore) -> None:
    """A zero vector has no direction: score 0 (pgvector's NaN is not leaked), ranked by it."""
    name = _name()
    await pg_store.ensure_collection(name, embedder_name="test:e", dimensions=2)
    await pg_store.upsert(
        name,
        [
            Record(id="zero", vector=[0, 0]),
            Record(id="same", vector=[1, 0]),
            Record(id="opposite", vector=[-1, 0]),
        ],
    )
    hits = await pg_store.query(name, VectorQuery(vector=[1, 0], k=3))
    assert [(h.record.id, round(h.score, 5)) for h in hits] == [
        ("same", 1.0),
        ("zero", 0.0),
        ("opposite", -1.0),
    ]
