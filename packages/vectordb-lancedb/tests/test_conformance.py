"""`LanceDBVectorStore` passes the shared `VectorStoreSuite`, on a folder under `tmp_path`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from covey.conformance import VectorStoreSuite
from covey.vectordb.lancedb import LanceDBVectorStore


class TestLanceDBVectorStore(VectorStoreSuite):
    @pytest.fixture
    async def vector_store(self, tmp_path: Path) -> AsyncIterator[LanceDBVectorStore]:
        async with LanceDBVectorStore(tmp_path / "lancedb") as store:
            yield store
