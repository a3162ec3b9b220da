"""`PgVectorStore` passes the `VectorStoreSuite` unchanged, on PostgreSQL 16 + pgvector."""

from __future__ import annotations

import pytest

from covey.conformance import VectorStoreSuite
from covey.spec.vectors import VectorStore
from covey.vectordb.pgvector import PgVectorStore

pytestmark = pytest.mark.postgres


class TestPgVectorStore(VectorStoreSuite):
    @pytest.fixture
    def vector_store(self, pg_store: PgVectorStore) -> VectorStore:
        return pg_store
