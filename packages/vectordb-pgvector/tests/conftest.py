"""Fixtures: one PostgreSQL 16 + pgvector server per test session, from the `pgserver` wheel.

Debian packages no pgvector, so the tests run the PostgreSQL that `pgserver` bundles with it
(a dev dependency: never a dependency of the package). The server listens on a Unix socket in
a temporary directory only, and is stopped and deleted after the session. Tests that need it
are marked `postgres`; they fail, never skip, when it cannot start.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest

with warnings.catch_warnings():
    # pgserver picks its lock directory at import; without XDG_RUNTIME_DIR it says so, loudly.
    warnings.simplefilter("ignore")
    import pgserver  # pyright: ignore[reportMissingTypeStubs]

from covey.vectordb.pgvector import PgVectorStore


@dataclass(frozen=True, slots=True)
class PgVectorServer:
    """A running server: its socket directory and a way to make databases on it."""

    server: pgserver.PostgresServer
    socket_dir: str

    def create_database(self) -> str:
        """A new empty database; returns its `postgresql+pgvector://` URL."""
        name = f"v_{uuid.uuid4().hex[:16]}"
        self.server.psql(f'CREATE DATABASE "{name}";')
        return self.url(name)

    def url(self, database: str) -> str:
        return f"postgresql+pgvector://postgres@/{database}?host={self.socket_dir}"


@pytest.fixture(scope="session")
def pgvector_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgVectorServer]:
    """PostgreSQL 16 with pgvector, started once for the session."""
    server = pgserver.get_server(
        tmp_path_factory.mktemp("pgvector") / "data", cleanup_mode="delete"
    )
    try:
        [host] = parse_qs(urlsplit(server.get_uri()).query)["host"]
        yield PgVectorServer(server, host)
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def pgvector_url(pgvector_server: PgVectorServer) -> str:
    """One database shared by the tests (each works in collections of its own)."""
    return pgvector_server.create_database()


@pytest.fixture
async def pg_store(pgvector_url: str) -> AsyncIterator[PgVectorStore]:
    """A `PgVectorStore` on the shared database, closed after the test."""
    async with PgVectorStore(pgvector_url) as store:
        yield store
