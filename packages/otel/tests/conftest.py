"""Test helpers of covey-otel live next to the tests (`otel_helpers`, `otlp_receiver`); a
throwaway PostgreSQL cluster for the shared-database test."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster on a loopback port (skipped only off CI without binaries)."""
    from covey.db.sql.testing import PostgresCluster, find_postgres_bin

    if find_postgres_bin() is None and not os.environ.get("CI"):
        pytest.skip("PostgreSQL server binaries are not installed: run `make system-deps`")
    with PostgresCluster(settings={"fsync": "off", "synchronous_commit": "off"}) as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_cluster: Any) -> Iterator[str]:
    """A fresh, empty database for one test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield postgres_cluster.create_database(name)
    postgres_cluster.drop_database(name)
