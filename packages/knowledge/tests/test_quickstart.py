"""The first path a user takes: text in, the right passage out, in every search mode."""

from __future__ import annotations

import hashlib

import pytest

from covey.db.memory import MemoryStore
from covey.knowledge import Knowledge
from covey.spec.errors import (
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
    PluginNotFoundError,
)
from covey.spec.vectors import Eq
from covey.testing import HashEmbedder, InMemoryVectorStore

CATS = "Cats sleep sixteen hours a day and purr when content."
BONDS = "Government bonds pay a fixed coupon until they mature."


@pytest.mark.parametrize("mode", ["vector", "text", "hybrid"])
async def test_search_finds_the_passage_about_the_query(kb: Knowledge, mode: str) -> None:
    cats = await kb.ingest_text(CATS, name="cats.txt", metadata={"topic": "pets"})
    await kb.ingest_text(BONDS, name="bonds.txt", metadata={"topic": "money"})

    hits = await kb.search("how long do cats sleep", k=2, mode=mode)  # type: ignore[arg-type]

    assert hits[0].text == CATS
    assert hits[0].content_id == cats.id
    assert hits[0].name == "cats.txt"
    assert hits[0].knowledge == "docs"
    assert hits[0].metadata == {"topic": "pets"}


async def test_a_filter_narrows_the_search(kb: Knowledge) -> None:
    await kb.ingest_text(CATS, name="cats.txt", metadata={"topic": "pets"})
    await kb.ingest_text(BONDS, name="bonds.txt", metadata={"topic": "money"})

    hits = await kb.search("cats sleep", filter=Eq("topic", "money"))

    assert [h.name for h in hits] == ["bonds.txt"]


async def test_content_rows_track_what_was_ingested(kb: Knowledge) -> None:
    content = await kb.ingest_text("# A\n\none\n\n# B\n\ntwo", name="two.md")

    assert content.status == "completed"
    assert content.content_type == "text/markdown"
    assert content.knowledge == "docs"
    assert content.chunk_count == 1
    assert content.size == len(b"# A\n\none\n\n# B\n\ntwo")
    assert content.content_hash == hashlib.sha256(b"# A\n\none\n\n# B\n\ntwo").hexdigest()
    assert content.metadata == {}  # bookkeeping never shows
    assert (await kb.get_content(content.id)) == content
    page = await kb.list_contents()
    assert [c.id for c in page.items] == [content.id]


async def test_two_knowledge_bases_on_one_store_keep_their_contents_apart() -> None:
    store, vectors = MemoryStore(), InMemoryVectorStore()
    a = Knowledge("a", vector_store=vectors, store=store, embedder=HashEmbedder())
    b = Knowledge("b", vector_store=vectors, store=store, embedder=HashEmbedder())
    in_a = await a.ingest_text(CATS, name="same.txt")
    in_b = await b.ingest_text(CATS, name="same.txt")

    assert in_a.id != in_b.id
    assert [c.id for c in (await a.list_contents()).items] == [in_a.id]
    assert await a.get_content(in_b.id) is None
    with pytest.raises(NotFoundError):
        await a.remove(in_b.id)
    assert [h.knowledge for h in await b.search("cats")] == ["b"]


def test_construction_does_no_io_and_refuses_a_bad_name() -> None:
    kb = Knowledge("lazy", vector_store="nosuchscheme://x", embedder="nosuch:model")
    assert kb.name == "lazy"
    with pytest.raises(ConfigurationError, match="name"):
        Knowledge("not a valid name!")


async def test_a_missing_plugin_answers_with_its_install_line() -> None:
    kb = Knowledge("docs", vector_store="qdrantx://localhost", embedder=HashEmbedder())
    with pytest.raises(PluginNotFoundError, match="pip install covey-vectordb-qdrantx"):
        await kb.search("anything")


@pytest.mark.parametrize(
    ("query", "k", "mode"), [("  ", 5, "hybrid"), ("q", 0, "hybrid"), ("q", 5, "fuzzy")]
)
async def test_bad_search_arguments_are_refused(
    kb: Knowledge, query: str, k: int, mode: str
) -> None:
    with pytest.raises(InvalidInputError):
        await kb.search(query, k=k, mode=mode)  # type: ignore[arg-type]


def test_knowledge_is_a_knowledge_base_agents_take() -> None:
    from covey.spec.knowledge import KnowledgeBase

    kb = Knowledge("docs", description="Company handbook")
    assert isinstance(kb, KnowledgeBase)
    assert kb.description == "Company handbook"
