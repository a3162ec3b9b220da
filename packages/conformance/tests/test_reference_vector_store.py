"""The reference `InMemoryVectorStore` passes `VectorStoreSuite`."""

from __future__ import annotations

import pytest

from covey.conformance import VectorStoreSuite
from covey.spec.vectors import VectorStore
from covey.testing import InMemoryVectorStore


class TestInMemoryVectorStore(VectorStoreSuite):
    @pytest.fixture
    def vector_store(self) -> VectorStore:
        return InMemoryVectorStore()
