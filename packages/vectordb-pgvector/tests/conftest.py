"""Fixtures: one PostgreSQL 16 + pgvector server per test session, from the `pgserver` wheel.

Debian packages no pgvector, so the tests run the PostgreSQL that `pgserver` bundles with it
(`covey.vectordb.pgvector.testing.PgVectorServer`; a dev dependency, never a dependency of the
package). Tests that need it are marked `postgres`; they fail, never skip, when it cannot start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from covey.vectordb.pgvector import PgVectorStore
from covey.vectordb.pgvector.testing import PgVectorServer


@pytest.fixture(scope="session")
def pgvector_server() -> Iterator[PgVectorServer]:
    """PostgreSQL 16 with pgvector, started once for the session."""
    with PgVectorServer() as server:
        yield server


@pytest.fixture(scope="session")
def pgvector_url(pgvector_server: PgVectorServer) -> str:
    """One database shared by the tests (each works in collections of its own)."""
    return pgvector_server.create_database()


@pytest.fixture
async def pg_store(pgvector_url: str) -> AsyncIterator[PgVectorStore]:
    """A `PgVectorStore` on the shared database, closed after the test."""
    async with PgVectorStore(pgvector_url) as store:
        yield store
