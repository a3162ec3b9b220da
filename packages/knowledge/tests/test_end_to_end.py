"""The real offline path: the local MiniLM embedder and LanceDB on disk, resolved by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from covey.knowledge import Knowledge, MarkdownChunker
from covey.spec.errors import EmbedderMismatchError
from covey.spec.store import Scope
from covey.testing import HashEmbedder

GUIDE = """# Camping guide

## Tents

Pitch the tent on flat ground, away from dry riverbeds, with the door facing away from wind.

## Food

Keep food in a bear canister, stored a hundred metres from where you sleep.

## Water

Boil stream water for one minute, or filter it, before drinking.
"""


@pytest.fixture
def lance_url(tmp_path: Path) -> str:
    return f"lancedb:///{tmp_path / 'lance'}"


async def test_ingest_and_search_with_the_local_embedder_and_lancedb(
    tmp_path: Path, lance_url: str
) -> None:
    (tmp_path / "guide.md").write_text(GUIDE)
    async with Knowledge(
        "camping", vector_store=lance_url, chunker=MarkdownChunker(size=400)
    ) as kb:
        [content] = await kb.ingest(tmp_path / "guide.md")
        assert content.status == "completed"

        for mode in ("vector", "hybrid"):
            [hit] = await kb.search("how do I make river water safe to drink", k=1, mode=mode)
            assert hit.metadata["heading"] == "Camping guide > Water", mode
        [hit] = await kb.search("bear canister", k=1, mode="text")
        assert hit.metadata["heading"] == "Camping guide > Food"
        assert await kb.search("tent", scope=Scope("other-tenant")) == []

    # Another Knowledge on the same folder (as after a restart) finds the stored chunks.
    async with Knowledge("camping", vector_store=lance_url) as again:
        hits = await again.search("where to pitch a tent", k=1, mode="vector")
        assert hits[0].metadata["heading"] == "Camping guide > Tents"


async def test_a_collection_refuses_another_embedder(lance_url: str) -> None:
    async with Knowledge("kb", vector_store=lance_url) as kb:
        await kb.ingest_text("hello", name="a.txt")
    async with Knowledge("kb", vector_store=lance_url, embedder=HashEmbedder()) as other:
        with pytest.raises(EmbedderMismatchError, match="local:all-minilm-l6-v2"):
            await other.search("hello")


async def test_scopes_and_replacement_hold_on_lancedb(lance_url: str) -> None:
    from covey.spec.vectors import Eq

    ann, bob, acme = Scope("acme", "ann"), Scope("acme", "bob"), Scope("acme")
    async with Knowledge(
        "scoped", vector_store=lance_url, embedder=HashEmbedder(dimensions=128)
    ) as kb:
        await kb.ingest_text("shared lunch menu", name="menu.txt", scope=acme)
        mine = await kb.ingest_text("ann lunch notes", name="notes.txt", scope=ann)
        await kb.ingest_text("bob lunch notes", name="notes.txt", scope=bob)
        await kb.ingest_text("other tenant lunch", name="x.txt", scope=Scope("globex"))

        for mode in ("vector", "text", "hybrid"):
            seen = {h.text for h in await kb.search("lunch", k=10, mode=mode, scope=ann)}
            assert seen == {"shared lunch menu", "ann lunch notes"}, mode

        again = await kb.ingest_text("ann dinner notes", name="notes.txt", scope=ann)
        assert again.id == mine.id
        hits = await kb.search("notes", k=10, mode="text", scope=ann, filter=Eq("lang", "x"))
        assert hits == []
        texts = {h.text for h in await kb.search("notes", k=10, mode="text", scope=ann)}
        assert texts == {"ann dinner notes"}
