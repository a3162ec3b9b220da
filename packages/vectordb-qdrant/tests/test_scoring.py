"""Text scores are BM25 with Qdrant's IDF, and hybrid scores are the spec's RRF, exactly.

The reference `InMemoryVectorStore` computes BM25 with the corpus' true average length; given
that length, the sparse vectors written here must score every record the same, which they can
only do if Qdrant applies the IDF modifier.
"""

from __future__ import annotations

import math

from covey.spec.vectors import Record, VectorQuery, reciprocal_rank_fusion
from covey.testing import InMemoryVectorStore
from covey.vectordb.qdrant import BM25Params, QdrantVectorStore
from covey.vectordb.qdrant.bm25 import tokenize

TEXTS = {
    "sun": "Solar panels turn sunlight into electricity on sunny days",
    "wind": "Wind turbines turn wind into electricity",
    "bread": "Bake bread with flour, water and yeast; bread needs time",
    "heat": "Solar heating for homes and offices",
    "grid": "The electricity grid balances solar and wind power",
    "rain": "Rain and sun: the weather decides the solar yield",
}
VECTORS = {
    "sun": [1.0, 0.1, 0.0],
    "wind": [0.2, 1.0, 0.0],
    "bread": [0.0, 0.1, 1.0],
    "heat": [0.9, 0.0, 0.3],
    "grid": [0.5, 0.5, 0.1],
    "rain": [0.3, 0.2, 0.6],
}


def _records() -> list[Record]:
    return [
        Record(id=i, vector=VECTORS[i], text=t, metadata={"n": n})
        for n, (i, t) in enumerate(TEXTS.items())
    ]


async def _both() -> tuple[QdrantVectorStore, InMemoryVectorStore]:
    average = sum(len(tokenize(t)) for t in TEXTS.values()) / len(TEXTS)
    qdrant = QdrantVectorStore(bm25=BM25Params(avg_len=average))
    reference = InMemoryVectorStore()
    for store in (qdrant, reference):
        await store.ensure_collection("c", embedder_name="test:e", dimensions=3)
        await store.upsert("c", _records())
    return qdrant, reference


async def test_text_scores_equal_reference_bm25() -> None:
    qdrant, reference = await _both()
    async with qdrant:
        for text in ("solar electricity", "bread", "wind solar sun", "the"):
            query = VectorQuery(text=text, k=10)
            got = [(h.record.id, h.score) for h in await qdrant.query("c", query)]
            want = [(h.record.id, h.score) for h in await reference.query("c", query)]
            assert [i for i, _ in got] == [i for i, _ in want], text
            for (_, a), (_, b) in zip(got, want, strict=True):
                assert math.isclose(a, b, rel_tol=1e-4), (text, a, b)


async def test_rare_terms_weigh_more_than_common_ones() -> None:
    qdrant, _ = await _both()
    async with qdrant:
        # "yeast" is in one record, "solar" in four: one yeast beats one solar.
        await qdrant.upsert("c", [Record(id="mix", vector=[1, 1, 1], text="yeast solar")])
        hits = await qdrant.query("c", VectorQuery(text="yeast", k=10))
        rare = {h.record.id: h.score for h in hits}
        hits = await qdrant.query("c", VectorQuery(text="solar", k=10))
        common = {h.record.id: h.score for h in hits}
        assert rare["bread"] > common["heat"]


async def test_hybrid_scores_are_rrf_of_the_two_rankings() -> None:
    qdrant, _ = await _both()
    async with qdrant:
        vector, text = [1.0, 0.2, 0.0], "solar electricity wind"
        by_vector = await qdrant.query("c", VectorQuery(vector=vector, k=10))
        by_text = await qdrant.query("c", VectorQuery(text=text, k=10))
        fused = reciprocal_rank_fusion(
            [[h.record.id for h in by_vector], [h.record.id for h in by_text]]
        )
        hybrid = await qdrant.query("c", VectorQuery(vector=vector, text=text, k=4))
        assert [h.record.id for h in hybrid] == [i for i, _ in fused[:4]]
        for hit, (_, score) in zip(hybrid, fused, strict=False):
            assert math.isclose(hit.score, score, rel_tol=1e-9)
        assert min(h.score for h in hybrid) >= fused[3][1]


async def test_min_score_applies_in_every_mode() -> None:
    qdrant, _ = await _both()
    async with qdrant:
        hybrid = VectorQuery(vector=[1, 0, 0], text="solar", k=10)
        everything = await qdrant.query("c", hybrid)
        cut = everything[2].score
        kept = await qdrant.query("c", hybrid.model_copy(update={"min_score": cut}))
        assert [h.record.id for h in kept] == [h.record.id for h in everything[:3]]


async def test_text_without_words_finds_nothing() -> None:
    qdrant, _ = await _both()
    async with qdrant:
        assert await qdrant.query("c", VectorQuery(text="?!", k=10)) == []
        hybrid = await qdrant.query("c", VectorQuery(vector=[0, 0, 1], text="?!", k=2))
        assert [h.record.id for h in hybrid] == ["bread", "rain"]
