"""A PostgreSQL without pgvector: a clear error that says how to get it, and nothing created.

Debian's own PostgreSQL (the server binaries `make system-deps` installs) has no pgvector,
which is exactly the server this test needs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import asyncpg
import pytest

from covey.db.sql.testing import PostgresCluster, find_postgres_bin
from covey.spec.errors import ConfigurationError
from covey.vectordb.pgvector import PgVectorStore

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def plain_postgres() -> Iterator[PostgresCluster]:
    if find_postgres_bin() is None and not os.environ.get("CI"):
        pytest.skip("PostgreSQL server binaries are not installed: run `make system-deps`")
    with PostgresCluster(settings={"fsync": "off"}) as cluster:
        yield cluster


async def test_missing_extension_is_a_configuration_error(plain_postgres: PostgresCluster) -> None:
    url = plain_postgres.create_database("no_pgvector")
    store = PgVectorStore(url.replace("postgresql://", "postgresql+pgvector://", 1))
    async with store:
        with pytest.raises(ConfigurationError) as caught:
            await store.ensure_collection("docs", embedder_name="test:e", dimensions=3)
    message = str(caught.value)
    assert "no pgvector extension" in message
    assert "CREATE EXTENSION vector" in message
    assert "apt install postgresql-<version>-pgvector" in message
    connection = await asyncpg.connect(url)
    try:
        assert await connection.fetchval("SELECT to_regclass('covey_vector_collections')") is None
    finally:
        await connection.close()
