"""The `covey.db` entry points: every scheme resolves to a `SqlStore`."""

from __future__ import annotations

from pathlib import Path

import pytest

from covey.db.sql import SqlStore
from covey.spec import plugins
from covey.spec.errors import ConfigurationError
from covey.spec.store import Scope, Session


def test_entry_points_are_registered_by_this_distribution() -> None:
    mine = {p.name: p for p in plugins.available("db") if p.distribution == "covey-db-sql"}
    assert {"sql", "sqlite", "postgresql", "postgres"} <= set(mine)
    assert all(p.value == "covey.db.sql.plugin:sql_store" for p in mine.values())


@pytest.mark.parametrize(
    ("url", "backend"),
    [
        ("sqlite:///{tmp}/a.db", "sqlite"),
        ("sql+sqlite:///{tmp}/b.db", "sqlite"),
        ("postgresql://u@127.0.0.1/db", "postgresql"),
        ("postgresql+asyncpg://u@127.0.0.1/db", "postgresql"),
        ("postgres://u@127.0.0.1/db", "postgresql"),
        ("sql+postgresql://u@127.0.0.1/db", "postgresql"),
    ],
)
def test_resolve_store(url: str, backend: str, tmp_path: Path) -> None:
    store = plugins.resolve_store(url.format(tmp=tmp_path))
    assert isinstance(store, SqlStore)
    assert store.backend == backend


def test_generic_name_needs_a_database() -> None:
    with pytest.raises(ConfigurationError, match="sqlite:///"):
        plugins.resolve_store("sql://somewhere")


async def test_a_resolved_sqlite_store_works(tmp_path: Path) -> None:
    async with plugins.resolve_store(f"sqlite:///{tmp_path}/covey.db") as store:
        saved = await store.save_session(Scope(), Session(id="s"), expected_version=0)
        assert saved.version == 1
