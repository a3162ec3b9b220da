"""Retrieval quality, not time: recall@5 of the local embedder on the labelled set in
`data/retrieval/` (90 passages on 30 topics, 60 questions; see its README), in each search mode.

Each passage is ingested as one document named by its id; a question is answered when one of its
relevant passages is among the first five hits. The floors sit a little under what
all-MiniLM-L6-v2 reaches here on the reference store (vector 1.00, text 0.92, hybrid 0.95), so a
broken embedder, pooling, tokenizer, text ranking or fusion fails them: `HashEmbedder` in its
place scores vector 0.38 and hybrid 0.72. `make bench` prints the same figure for every store
and for Agno.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from covey.knowledge import Knowledge
from covey.models.local import MiniLMEmbedder
from covey.testing import InMemoryVectorStore

DATA = Path(__file__).parent / "data" / "retrieval"
FLOORS = {"vector": 0.95, "text": 0.85, "hybrid": 0.90}


def _lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line]


PASSAGES = _lines("passages.jsonl")
QUERIES = _lines("queries.jsonl")


async def _misses() -> dict[str, list[str]]:
    """Per mode, the questions with no relevant passage in the first five hits."""
    kb = Knowledge("retrieval", vector_store=InMemoryVectorStore(), embedder=MiniLMEmbedder())
    async with kb:
        for passage in PASSAGES:
            await kb.ingest_text(passage["text"], name=passage["id"])
        misses: dict[str, list[str]] = {}
        for mode in FLOORS:
            misses[mode] = []
            for query in QUERIES:
                hits = await kb.search(query["query"], k=5, mode=mode)
                if not {hit.name for hit in hits} & set(query["relevant"]):
                    misses[mode].append(query["query"])
        return misses


@pytest.fixture(scope="module")
def misses() -> dict[str, list[str]]:
    # One ingestion for the three modes: embedding 90 passages is the slow part.
    return asyncio.run(_misses())


def test_the_labelled_set_is_well_formed() -> None:
    ids = [p["id"] for p in PASSAGES]
    assert len(ids) == len(set(ids)) == 90
    assert len(QUERIES) == 60
    for query in QUERIES:
        assert query["relevant"], query
        assert set(query["relevant"]) <= set(ids), query


@pytest.mark.parametrize("mode", sorted(FLOORS))
def test_recall_at_5_reaches_its_floor(mode: str, misses: dict[str, list[str]]) -> None:
    """If this fails, print `misses[mode]`: the questions the mode no longer answers. A drop
    in every mode points at the embedder (pooling, normalisation, truncation); in `text` alone
    at the store's text ranking; in `hybrid` alone at the fusion."""
    recall = 1 - len(misses[mode]) / len(QUERIES)
    assert recall >= FLOORS[mode], (mode, recall, misses[mode])
