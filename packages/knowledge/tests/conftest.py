"""Shared fixtures: a knowledge base on the reference in-memory parts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from covey.knowledge import Knowledge
from covey.testing import HashEmbedder, InMemoryVectorStore
from covey.testing.http import LoopbackSite


@pytest.fixture
def vectors() -> InMemoryVectorStore:
    return InMemoryVectorStore()


@pytest.fixture
async def kb(vectors: InMemoryVectorStore) -> AsyncIterator[Knowledge]:
    async with Knowledge("docs", vector_store=vectors, embedder=HashEmbedder(dimensions=256)) as kb:
        yield kb


Site = LoopbackSite


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as server:
        yield server
