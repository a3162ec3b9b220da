"""The first path a user takes: text in, the right passage out, in every search mode."""

from __future__ import annotations

import pytest

from covey.knowledge import Knowledge
from covey.spec.vectors import Eq

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
    assert (await kb.get_content(content.id)) == content
    page = await kb.list_contents()
    assert [c.id for c in page.items] == [content.id]
