"""A PostgreSQL without pgvector, and one asking for passwords: errors that say what to do.

Debian's own PostgreSQL (the server binaries `make system-deps` installs) has no pgvector,
which is exactly the server this test needs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import anyio
import asyncpg
import pytest

from covey.db.sql.testing import PostgresCluster, find_postgres_bin
from covey.spec.errors import ConfigurationError
from covey.vectordb.pgvector import PgVectorStore, PgVectorUnavailableError

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


SECRET = "Right-Pa55w0rd"


async def test_wrong_password_is_refused_without_showing_either(
    plain_postgres: PostgresCluster,
) -> None:
    """A server asking for a password: a wrong one is `PgVectorUnavailableError`, masked."""
    admin = await asyncpg.connect(plain_postgres.url())
    try:
        await admin.execute(f"CREATE ROLE app LOGIN PASSWORD '{SECRET}'")
        hba = anyio.Path(await admin.fetchval("SHOW hba_file"))
        rules = await hba.read_text()
        await hba.write_text(f"host all app 127.0.0.1/32 scram-sha-256\n{rules}")
        await admin.execute("SELECT pg_reload_conf()")
    finally:
        await admin.close()
    base = f"127.0.0.1:{plain_postgres.port}/postgres"
    wrong = "Wrong-Pa55w0rd"
    async with PgVectorStore(f"postgresql+pgvector://app:{wrong}@{base}") as store:
        with pytest.raises(PgVectorUnavailableError) as caught:
            await store.list_collections()
    assert "refused the credentials" in str(caught.value)
    assert "app:***@" in str(caught.value)
    error: BaseException | None = caught.value
    while error is not None:
        assert wrong not in f"{error!s} {error!r}"
        error = error.__cause__ or error.__context__
    # The right password gets through to the next problem: this server has no pgvector.
    async with PgVectorStore(f"postgresql+pgvector://app:{SECRET}@{base}") as store:
        with pytest.raises(ConfigurationError, match="vector"):
            await store.list_collections()
