"""Rerankers: MMR trades repeats for variety; the API reranker against a loopback fake."""

from __future__ import annotations

import json

import pytest

from covey.knowledge import CohereReranker, Knowledge, MMRReranker, RecursiveChunker
from covey.knowledge.rerank import RerankVectors
from covey.spec.errors import AuthenticationError, UnexpectedModelBehavior
from covey.spec.knowledge import KnowledgeHit
from covey.testing import HashEmbedder, InMemoryVectorStore
from covey.testing.http import Exchange, LoopbackServer, RecordedRequest


def hit(i: int) -> KnowledgeHit:
    return KnowledgeHit(id=f"h{i}", text=f"text {i}", score=1.0 - i / 10)


async def test_mmr_skips_a_near_duplicate_for_a_different_relevant_hit() -> None:
    hits = [hit(0), hit(1), hit(2)]
    vectors = RerankVectors(
        query=[1.0, 1.0, 0.0],
        hits=[[1.0, 0.9, 0.0], [1.0, 0.9, 0.01], [0.6, 1.0, 0.0]],  # h1 repeats h0
    )

    relevance_only = await MMRReranker(lambda_=1.0).rerank("q", hits, k=2, vectors=vectors)
    diverse = await MMRReranker(lambda_=0.5).rerank("q", hits, k=2, vectors=vectors)

    assert [h.id for h in relevance_only] == ["h0", "h1"]
    assert [h.id for h in diverse] == ["h0", "h2"]


async def test_knowledge_search_with_mmr_returns_distinct_passages() -> None:
    kb = Knowledge(
        "docs",
        vector_store=InMemoryVectorStore(),
        embedder=HashEmbedder(dimensions=512),
        chunker=RecursiveChunker(size=60),
        reranker=MMRReranker(lambda_=0.3),
    )
    copies = "\n\n".join(["Solar panels turn sunlight into power."] * 3)
    await kb.ingest_text(copies, name="copies.txt")
    await kb.ingest_text("Wind turbines turn wind into power.", name="wind.txt")

    kb.reranker = None
    plain = await kb.search("turn sunlight into power", k=2, mode="vector")
    kb.reranker = MMRReranker(lambda_=0.3)
    diverse = await kb.search("turn sunlight into power", k=2, mode="vector")

    assert [h.name for h in plain] == ["copies.txt", "copies.txt"]
    assert [h.name for h in diverse] == ["copies.txt", "wind.txt"]


class FakeRerankAPI(LoopbackServer[RecordedRequest, tuple[int, dict]]):
    def serve(self, exchange: Exchange) -> None:
        _, scripted = self.record(exchange.request)
        status, body = scripted or (500, {})
        exchange.send(status, json.dumps(body).encode())


async def test_the_api_reranker_sends_the_documents_and_orders_by_relevance() -> None:
    hits = [hit(0), hit(1), hit(2)]
    answer = {
        "results": [
            {"index": 2, "relevance_score": 0.9},
            {"index": 0, "relevance_score": 0.4},
        ]
    }
    with FakeRerankAPI([(200, answer)]) as api:
        async with CohereReranker("rerank-test", api_key="sk-123", base_url=api.url) as reranker:
            ranked = await reranker.rerank("which one", hits, k=2)

        [request] = api.requests
        assert request.path == "/v1/rerank"
        assert request.headers["authorization"] == "Bearer sk-123"
        assert request.json == {
            "model": "rerank-test",
            "query": "which one",
            "documents": ["text 0", "text 1", "text 2"],
            "top_n": 2,
        }
    assert [(h.id, h.score) for h in ranked] == [("h2", 0.9), ("h0", 0.4)]


async def test_the_api_reranker_keeps_its_key_out_of_reprs_and_errors() -> None:
    with FakeRerankAPI([(401, {"message": "bad key"})]) as api:
        reranker = CohereReranker(api_key="sk-secret-999", base_url=api.url)
        assert "sk-secret-999" not in repr(reranker)
        with pytest.raises(AuthenticationError) as error:
            await reranker.rerank("q", [hit(0)], k=1)
        await reranker.aclose()
    assert "sk-secret-999" not in str(error.value)
    assert "sk-secret-999" not in repr(error.value)


async def test_the_api_reranker_refuses_a_malformed_answer() -> None:
    with FakeRerankAPI([(200, {"results": [{"index": 7, "relevance_score": 1}]})]) as api:
        async with CohereReranker(api_key="k", base_url=api.url) as reranker:
            with pytest.raises(UnexpectedModelBehavior, match="out of range"):
                await reranker.rerank("q", [hit(0)], k=1)
