"""`SqlStore` passes the whole `StoreSuite` on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from covey.conformance import StoreSuite
from covey.db.sql import SqlStore


class TestSQLiteStore(StoreSuite):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SqlStore]:
        async with SqlStore(f"sqlite:///{tmp_path}/covey.db") as store:
            yield store


@pytest.mark.postgres
class TestPostgresStore(StoreSuite):
    @pytest.fixture
    async def store(self, postgres_shared_url: str) -> AsyncIterator[SqlStore]:
        async with SqlStore(postgres_shared_url) as store:
            yield store


class TestInMemorySQLiteStore(StoreSuite):
    @pytest.fixture
    async def store(self) -> AsyncIterator[SqlStore]:
        async with SqlStore("sqlite://") as store:
            yield store
