"""URL sources go through covey-tools-web's SSRF guard (its own tests attack the guard)."""

from __future__ import annotations

import pytest

import covey.knowledge.fetch as knowledge_fetch
import covey.tools.web.extract as web_extract
import covey.tools.web.fetch as web_fetch
from covey.knowledge import FetchError, Knowledge, UnsafeURLError, fetch_url
from covey.testing import HashEmbedder, InMemoryVectorStore


def test_the_fetch_names_are_the_guard_of_covey_tools_web() -> None:
    # One implementation: the names importable from covey.knowledge are the same objects.
    for name in knowledge_fetch.__all__:
        source = web_extract if name == "html_to_text" else web_fetch
        assert getattr(knowledge_fetch, name) is getattr(source, name)
    assert (fetch_url, FetchError, UnsafeURLError) == (
        web_fetch.fetch_url,
        web_fetch.FetchError,
        web_fetch.UnsafeURLError,
    )


async def test_knowledge_refuses_a_private_url_and_records_why(site) -> None:
    site.add_page("/doc", b"hello", content_type="text/plain")
    kb = Knowledge("docs", vector_store=InMemoryVectorStore(), embedder=HashEmbedder())

    with pytest.raises(UnsafeURLError):
        await kb.ingest(f"{site.origin}/doc")

    [row] = (await kb.list_contents()).items
    assert row.status == "failed"
    assert row.status_message is not None and "non-public" in row.status_message
    assert site.requests == []


async def test_knowledge_fetches_an_allowed_url_through_the_guard(site) -> None:
    site.add_page("/r", status=302, headers={"Location": "http://169.254.169.254/latest/"})
    kb = Knowledge(
        "docs",
        vector_store=InMemoryVectorStore(),
        embedder=HashEmbedder(),
        allow_private_urls=[site.host_port],
    )

    with pytest.raises(UnsafeURLError, match=r"169\.254\.169\.254"):
        await kb.ingest(f"{site.origin}/r")
    assert [r.path for r in site.requests] == ["/r"]
