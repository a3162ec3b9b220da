"""`from_reference` (the `sql:<url>` tool reference), the entry point, and configuration errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.spec.plugins import resolve_toolset
from covey.tools.sql import SQLToolset, from_reference


@pytest.mark.parametrize("arg", [None, "", "   "])
def test_no_url_is_a_clear_error(arg: str | None) -> None:
    with pytest.raises(ConfigurationError, match=r"sql:sqlite:///app\.db"):
        from_reference(arg)


async def test_reference_is_read_only(shop_db: Path) -> None:
    tools = from_reference(f"sqlite:///{shop_db}")
    assert isinstance(tools, SQLToolset)
    assert tools.read_only and tools.id == "sql"
    async with tools:
        result = await tools.call_tool(
            "run_query", {"sql": "DELETE FROM secrets"}, RunContext(run_id="r")
        )
    assert result.is_error


async def test_resolve_toolset_through_the_entry_point(shop_db: Path) -> None:
    tools = resolve_toolset(f"sql:sqlite:///{shop_db}")
    assert isinstance(tools, SQLToolset)
    async with tools:
        result = await tools.call_tool(
            "run_query", {"sql": "SELECT name FROM customers ORDER BY id"}, RunContext(run_id="r")
        )
    assert result.content["rows"] == [["Ada"], ["Brian"]]


def test_resolve_toolset_without_url() -> None:
    with pytest.raises(ConfigurationError, match="need a database URL"):
        resolve_toolset("sql")


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("mysql://u:hunter2@db/app", "SQLite and PostgreSQL"),
        ("postgresql+psycopg2://u:hunter2@db/app", "asyncpg"),
        ("postgresql://u:hunter2@db", "names no database"),
        ("sqlite:///app.db?mode=rw", "plain path"),
        ("not a url", "could not parse"),
    ],
)
def test_unsupported_urls(url: str, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match) as info:
        SQLToolset(url)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "options",
    [
        {"max_rows": 0},
        {"max_rows": True},
        {"timeout": 0},
        {"timeout": -1.0},
        {"max_value_chars": 1},
        {"id": "has space"},
        {"tables": "orders"},
    ],
)
def test_bad_options(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        SQLToolset("sqlite://", **options)


def test_bad_engine() -> None:
    engine = create_engine("postgresql+asyncpg://u:hunter2@db/app")
    with pytest.raises(ConfigurationError, match="must be SQLite") as info:
        SQLToolset(engine)
    assert "hunter2" not in str(info.value)
    with pytest.raises(ConfigurationError, match="URL or a SQLAlchemy engine"):
        SQLToolset(42)


def test_repr_hides_the_password() -> None:
    tools = SQLToolset("postgresql://app:hunter2@db.example:5432/shop")
    assert repr(tools) == (
        "SQLToolset('postgresql+asyncpg://app:***@db.example:5432/shop', read_only=True, id='sql')"
    )


async def test_in_memory_database_in_write_mode() -> None:
    tools = SQLToolset("sqlite://", read_only=False)
    ctx = RunContext(run_id="r")
    async with tools:
        await tools.call_tool("run_query", {"sql": "CREATE TABLE t (x)"}, ctx)
        await tools.call_tool("run_query", {"sql": "INSERT INTO t VALUES (1), (2)"}, ctx)
        result = await tools.call_tool("run_query", {"sql": "SELECT sum(x) FROM t"}, ctx)
    assert result.content["rows"] == [[3]]
