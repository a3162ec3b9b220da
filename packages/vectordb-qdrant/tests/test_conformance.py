"""`QdrantVectorStore` passes `VectorStoreSuite` in local mode, on disk and in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from covey.conformance import VectorStoreSuite
from covey.vectordb.qdrant import QdrantVectorStore


class TestQdrantOnDisk(VectorStoreSuite):
    @pytest.fixture
    async def vector_store(self, tmp_path: Path) -> AsyncIterator[QdrantVectorStore]:
        async with QdrantVectorStore(tmp_path / "qdrant") as store:
            yield store


class TestQdrantInMemory(VectorStoreSuite):
    @pytest.fixture
    async def vector_store(self) -> AsyncIterator[QdrantVectorStore]:
        async with QdrantVectorStore(":memory:") as store:
            yield store
