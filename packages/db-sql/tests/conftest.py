"""Fixtures: SQLite files under `tmp_path`, and one throwaway PostgreSQL cluster per session.

PostgreSQL tests never skip silently: when the cluster cannot start they fail. They are skipped
only when the server binaries are absent on a developer's machine (`CI` unset), with the command
that installs them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from covey.db.sql import SqlStore
from covey.db.sql.testing import PostgresCluster, find_postgres_bin

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

# Durability is not under test here; speed is welcome.
_TEST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
}


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster on a free loopback port, stopped and removed after the session."""
    if find_postgres_bin() is None and not os.environ.get("CI"):
        pytest.skip(
            "PostgreSQL server binaries are not installed: run `make system-deps` "
            "(apt-get install postgresql) to run the PostgreSQL tests"
        )
    with PostgresCluster(settings=_TEST_SETTINGS) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def postgres_shared_url(postgres_cluster: PostgresCluster) -> str:
    """One database shared by tests that work in tenants of their own (the conformance suite)."""
    return postgres_cluster.create_database("covey_shared")


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database for one test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield postgres_cluster.create_database(name)
    postgres_cluster.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite:///{tmp_path}/covey.db"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database for one test, on each backend in turn."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        return url
    url = request.getfixturevalue("sqlite_url")
    return url


@pytest.fixture
async def db_store(db_url: str) -> AsyncIterator[SqlStore]:
    """A `SqlStore` on a fresh database, on each backend in turn."""
    async with SqlStore(db_url) as store:
        yield store
