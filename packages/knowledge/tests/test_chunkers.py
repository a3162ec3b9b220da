"""Where each chunker cuts."""

from __future__ import annotations

import pytest

from covey.knowledge import (
    Document,
    FixedSizeChunker,
    MarkdownChunker,
    RecursiveChunker,
    SemanticChunker,
)
from covey.testing import HashEmbedder


def test_fixed_size_windows_overlap_by_the_given_characters() -> None:
    chunker = FixedSizeChunker(size=10, overlap=3)

    assert chunker.split("abcdefghijklmnopqrstuvwxyz") == [
        "abcdefghij",
        "hijklmnopq",
        "opqrstuvwx",
        "vwxyz",
    ]
    assert chunker.split("short") == ["short"]
    assert chunker.split("") == []


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_fixed_size_refuses_impossible_settings(size: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        FixedSizeChunker(size=size, overlap=overlap)


def test_recursive_cuts_at_paragraphs_first() -> None:
    text = "First paragraph here.\n\nSecond paragraph here.\n\nThird one."

    assert RecursiveChunker(size=30).split(text) == [
        "First paragraph here.",
        "Second paragraph here.",
        "Third one.",
    ]
    # Pieces that fit together are joined back.
    assert RecursiveChunker(size=50).split(text) == [
        "First paragraph here.\n\nSecond paragraph here.",
        "Third one.",
    ]


def test_recursive_falls_back_to_lines_sentences_then_words() -> None:
    lines = "line one is here\nline two is here"
    assert RecursiveChunker(size=20).split(lines) == ["line one is here", "line two is here"]

    sentences = "One sentence here. Another sentence here. A third."
    assert RecursiveChunker(size=25).split(sentences) == [
        "One sentence here.",
        "Another sentence here.",
        "A third.",
    ]

    words = "alpha beta gamma delta"
    assert RecursiveChunker(size=11).split(words) == ["alpha beta", "gamma delta"]

    assert RecursiveChunker(size=4).split("abcdefghij") == ["abcd", "efgh", "ij"]


def test_recursive_chunks_never_pass_the_size_and_keep_every_word() -> None:
    text = " ".join(f"word{i}" for i in range(500)) + "\n\n" + "tail. " * 50
    chunks = RecursiveChunker(size=64).split(text)

    assert all(len(c) <= 64 for c in chunks)
    assert " ".join(chunks).split() == text.split()


async def test_markdown_splits_at_headings_and_keeps_the_path() -> None:
    text = (
        "Intro text.\n\n# Guide\n\nWelcome.\n\n## Install\n\nRun pip.\n\n"
        "```\n# not a heading\n```\n\n### Linux\n\nUse apt.\n\n## Use\n\nImport it.\n"
    )
    chunks = await MarkdownChunker().chunk(Document(text, {"title": "T"}))

    assert [(c.metadata.get("heading"), c.text) for c in chunks] == [
        (None, "Intro text."),
        ("Guide", "# Guide\n\nWelcome."),
        ("Guide > Install", "## Install\n\nRun pip.\n\n```\n# not a heading\n```"),
        ("Guide > Install > Linux", "### Linux\n\nUse apt."),
        ("Guide > Use", "## Use\n\nImport it."),
    ]
    assert all(c.metadata["title"] == "T" for c in chunks)


async def test_markdown_splits_a_long_section_and_each_piece_keeps_the_heading() -> None:
    text = "# Long\n\n" + "\n\n".join(f"Paragraph number {i}." for i in range(10))
    chunks = await MarkdownChunker(size=45).chunk(Document(text))

    assert len(chunks) > 1
    assert all(len(c.text) <= 45 for c in chunks)
    assert {c.metadata["heading"] for c in chunks} == {"Long"}


async def test_semantic_cuts_where_the_topic_changes() -> None:
    text = (
        "Cats purr. Cats purr and nap. Cats nap and purr often. "
        "Bonds yield coupons. Bonds pay coupons yearly. "
        "Cats purr again."
    )
    chunks = await SemanticChunker(HashEmbedder(dimensions=512), threshold=0.2).chunk(
        Document(text)
    )

    assert [c.text for c in chunks] == [
        "Cats purr. Cats purr and nap. Cats nap and purr often.",
        "Bonds yield coupons. Bonds pay coupons yearly.",
        "Cats purr again.",
    ]


async def test_semantic_by_percentile_and_size() -> None:
    text = "Cats purr. Cats purr and nap. Bonds yield coupons. Bonds pay coupons."
    embedder = HashEmbedder(dimensions=512)

    # With three similarities, the lowest (cats -> bonds) is the 10th percentile cut.
    chunks = await SemanticChunker(embedder).chunk(Document(text))
    assert [c.text for c in chunks] == [
        "Cats purr. Cats purr and nap.",
        "Bonds yield coupons. Bonds pay coupons.",
    ]
    # `size` cuts a group that would grow too long, whatever the similarity.
    small = await SemanticChunker(embedder, threshold=-1.0, size=20).chunk(Document(text))
    assert [c.text for c in small] == [
        "Cats purr.",
        "Cats purr and nap.",
        "Bonds yield coupons.",
        "Bonds pay coupons.",
    ]


async def test_a_long_text_is_chunked_the_same_in_a_worker_thread() -> None:
    text = "\n\n".join(f"# Part {i}\n\nSentence {i} of a long manual." for i in range(5000))
    assert len(text) > 100_000
    recursive = RecursiveChunker(size=500)
    markdown = MarkdownChunker(size=500)

    assert [c.text for c in await recursive.chunk(Document(text))] == recursive.split(text)
    chunks = await markdown.chunk(Document(text))
    assert len(chunks) == 5000
    assert chunks[-1].metadata["heading"] == "Part 4999"
