"""Shared fixtures: a knowledge base on the reference in-memory parts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import pytest

from covey.knowledge import Knowledge
from covey.testing import HashEmbedder, InMemoryVectorStore
from covey.testing.http import Exchange, LoopbackServer, RecordedRequest


@pytest.fixture
def vectors() -> InMemoryVectorStore:
    return InMemoryVectorStore()


@pytest.fixture
async def kb(vectors: InMemoryVectorStore) -> AsyncIterator[Knowledge]:
    async with Knowledge("docs", vector_store=vectors, embedder=HashEmbedder(dimensions=256)) as kb:
        yield kb


@dataclass(frozen=True)
class Page:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict[str, str])


class Site(LoopbackServer[RecordedRequest, Page]):
    """A loopback web site: `pages` maps a path to what it answers (404 otherwise)."""

    def __init__(self) -> None:
        super().__init__()
        self.pages: dict[str, Page] = {}

    def serve(self, exchange: Exchange) -> None:
        self.record(exchange.request, take_scripted=False)
        page = self.pages.get(exchange.request.path, Page(404, b"not found", "text/plain"))
        exchange.send(page.status, page.body, content_type=page.content_type, headers=page.headers)

    def add(
        self,
        path: str,
        body: bytes = b"",
        *,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.pages[path] = Page(status, body, content_type, headers or {})

    @property
    def origin(self) -> str:
        return self.url.rstrip("/")

    @property
    def host_port(self) -> str:
        return self.origin.removeprefix("http://")


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as server:
        yield server
