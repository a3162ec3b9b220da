"""Store URLs: every accepted form, the driver chosen, and passwords kept out of sight."""

from __future__ import annotations

import pytest

from covey.db.sql import SqlStore, mask_url
from covey.db.sql.urls import parse_url
from covey.spec.errors import ConfigurationError


@pytest.mark.parametrize(
    ("url", "backend", "driver"),
    [
        ("sqlite:///covey.db", "sqlite", "sqlite+pysqlite"),
        ("sqlite+pysqlite:////abs/covey.db", "sqlite", "sqlite+pysqlite"),
        ("sqlite+aiosqlite:////abs/covey.db", "sqlite", "sqlite+pysqlite"),  # 0.1 URLs still work
        ("sql+sqlite:///covey.db", "sqlite", "sqlite+pysqlite"),
        ("postgresql://u:p@db:5432/covey", "postgresql", "postgresql+asyncpg"),
        ("postgres://u:p@db/covey", "postgresql", "postgresql+asyncpg"),
        ("postgresql+asyncpg://u@db/covey", "postgresql", "postgresql+asyncpg"),
        ("postgresql+psycopg://u@db/covey", "postgresql", "postgresql+psycopg"),
        ("sql+postgresql://u@db/covey", "postgresql", "postgresql+asyncpg"),
    ],
)
def test_accepted_forms(url: str, backend: str, driver: str) -> None:
    parsed = parse_url(url)
    assert parsed.backend == backend
    assert parsed.sqlalchemy_url.drivername == driver


def test_paths_and_memory() -> None:
    assert parse_url("sqlite:///data/covey.db").sqlite_path == "data/covey.db"
    assert parse_url("sqlite:////var/lib/covey.db").sqlite_path == "/var/lib/covey.db"
    for url in ("sqlite://", "sqlite:///:memory:"):
        parsed = parse_url(url)
        assert parsed.in_memory
        assert parsed.sqlite_path is None


@pytest.mark.parametrize(
    "url",
    [
        "covey.db",
        "mysql://u:hunter2@h/db",
        "sqlite+pysqlcipher:///x.db",
        "postgresql+pg8000://u:hunter2@h/db",
        "postgresql://u:hunter2@h",
        "sql://x",
    ],
)
def test_refused_forms_name_both_examples_and_hide_the_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_url(url)
    message = str(raised.value)
    assert "sqlite:///" in message
    assert "postgresql://" in message
    assert "hunter2" not in message


def test_password_is_masked_everywhere() -> None:
    url = "postgresql://covey:hunter2@db.internal:5432/covey?sslmode=require"
    store = SqlStore(url)
    assert "hunter2" not in repr(store)
    assert store.url == "postgresql+asyncpg://covey:***@db.internal:5432/covey?sslmode=require"
    assert "hunter2" not in repr(parse_url(url))
    assert mask_url(url) == "postgresql://covey:***@db.internal:5432/covey?sslmode=require"
    assert mask_url("weird://u:hunter2@[bad") == "weird://u:***@[bad"
