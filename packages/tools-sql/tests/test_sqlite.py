"""SQLite: the tools, the conformance suite, limits, and a read-only toolset under attack."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest

from covey.conformance import ToolsetSuite
from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.spec.tools import ToolResult
from covey.tools.sql import SQLToolset

CTX = RunContext(run_id="run", session_id="session")


async def call(toolset: SQLToolset, tool: str, **args: Any) -> ToolResult:
    return await toolset.call_tool(tool, args, CTX)


class TestSQLiteConformance(ToolsetSuite):
    @pytest.fixture
    def toolset(self, shop_db: Path) -> SQLToolset:
        return SQLToolset(f"sqlite:///{shop_db}")

    @pytest.fixture
    def toolset_calls(self) -> Mapping[str, dict[str, Any]]:
        return {
            "list_tables": {},
            "describe_table": {"table": "orders"},
            "run_query": {"sql": "SELECT count(*) AS n FROM orders"},
        }


async def test_list_and_describe(shop_db: Path) -> None:
    async with SQLToolset(f"sqlite:///{shop_db}") as tools:
        listed = await call(tools, "list_tables")
        assert not listed.is_error
        assert listed.content["tables"] == [
            {"name": "customers", "kind": "table"},
            {"name": "orders", "kind": "table"},
            {"name": "secrets", "kind": "table"},
            {"name": "big_orders", "kind": "view"},
        ]
        described = await call(tools, "describe_table", table="orders")
    content = described.content
    assert content["primary_key"] == ["id"]
    assert [(c["name"], c["type"], c["nullable"]) for c in content["columns"]] == [
        ("id", "INTEGER", True),
        ("customer_id", "INTEGER", False),
        ("total", "NUMERIC(10, 2)", False),
        ("placed", "DATE", False),
    ]
    assert content["foreign_keys"] == [
        {"columns": ["customer_id"], "references": "customers", "referred_columns": ["id"]}
    ]
    assert {"name": "orders_by_customer", "columns": ["customer_id"], "unique": False} in content[
        "indexes"
    ]


async def test_describe_unknown_table_is_an_error_the_model_reads(shop_db: Path) -> None:
    async with SQLToolset(f"sqlite:///{shop_db}") as tools:
        result = await call(tools, "describe_table", table="nope")
    assert result.is_error
    assert "list_tables" in result.content


async def test_query_with_params_and_json_safe_values(shop_db: Path) -> None:
    async with SQLToolset(f"sqlite:///{shop_db}") as tools:
        result = await call(
            tools,
            "run_query",
            sql="SELECT name, x'00ff' AS raw, 1e999 AS inf, '10:30' AS t FROM customers "
            "WHERE id = :id",
            params={"id": 2},
        )
    assert not result.is_error
    assert result.content["columns"] == ["name", "raw", "inf", "t"]
    assert result.content["rows"] == [
        ["Brian", {"bytes_base64": "AP8=", "length": 2}, "inf", "10:30"]
    ]
    assert result.content["truncated"] is False


async def test_long_values_are_cut(shop_db: Path) -> None:
    async with SQLToolset(f"sqlite:///{shop_db}", max_value_chars=100) as tools:
        result = await call(tools, "run_query", sql="SELECT printf('%.*c', 100000, 'x')")
    [[value]] = result.content["rows"]
    assert value.startswith("x" * 100) and "99900 more characters" in value


async def test_a_million_rows_are_capped(shop_db: Path) -> None:
    async with SQLToolset(f"sqlite:///{shop_db}", max_rows=5) as tools:
        result = await call(
            tools,
            "run_query",
            sql="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
            "WHERE x < 1000000) SELECT x FROM c",
        )
    assert result.content["rows"] == [[1], [2], [3], [4], [5]]
    assert result.content["truncated"] is True
    assert "LIMIT" in result.content["note"]


async def test_a_query_that_never_ends_is_stopped(shop_db: Path) -> None:
    async with SQLToolset(f"sqlite:///{shop_db}", timeout=0.3) as tools:
        result = await call(
            tools,
            "run_query",
            sql="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
            "SELECT count(*) FROM c",
        )
        assert result.is_error
        assert "time limit of 0.3 s" in result.content
        # The connection is usable afterwards.
        again = await call(tools, "run_query", sql="SELECT count(*) FROM orders")
    assert again.content["rows"] == [[3]]


async def test_a_cancelled_call_stops_the_statement() -> None:
    """A run cancelled mid-query stops SQLite's work too, not only the wait for it.

    An in-memory database is one connection that calls take in turn: had the endless statement
    gone on in its abandoned worker thread, the next call could never have the connection.
    """
    endless = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    )
    async with SQLToolset("sqlite://", timeout=600) as tools:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(functools.partial(call, tools, "run_query", sql=endless))
                # Nothing inside SQLite can be awaited: give the statement time to start.
                await anyio.sleep(0.2)
                scope.cancel()
        with anyio.fail_after(60):
            again = await call(tools, "run_query", sql="SELECT 42")
    assert again.content["rows"] == [[42]]


WRITES = [
    "INSERT INTO customers VALUES (3, 'Mallory', 'm@example.com')",
    "UPDATE orders SET total = 0",
    "DELETE FROM secrets",
    "DROP TABLE orders",
    "CREATE TABLE evil (x)",
    "CREATE TEMP TABLE evil (x)",
    "CREATE INDEX evil ON orders (total)",
    "ALTER TABLE orders ADD COLUMN evil TEXT",
    "REPLACE INTO customers VALUES (1, 'Mallory', 'm@example.com')",
    "INSERT INTO customers SELECT id + 10, name, NULL FROM customers RETURNING *",
    "SELECT 1; DELETE FROM secrets",
    "WITH gone AS (SELECT id FROM secrets) DELETE FROM secrets WHERE id IN gone",
    "COMMIT",
    "BEGIN IMMEDIATE",
    "SAVEPOINT s",
    "PRAGMA query_only=OFF",
    "PRAGMA journal_mode=DELETE",
    "PRAGMA user_version=7",
    "VACUUM",
    "REINDEX",
    "ANALYZE",
    "SELECT load_extension('/tmp/evil.so')",
]


@pytest.mark.parametrize("sql", WRITES)
async def test_read_only_refuses_writes(
    shop_db: Path, file_digest: Callable[[Path], str], sql: str
) -> None:
    before = file_digest(shop_db)
    async with SQLToolset(f"sqlite:///{shop_db}") as tools:
        result = await call(tools, "run_query", sql=sql)
        assert result.is_error, result.content
        # And the toolset is still usable, still read-only.
        after = await call(tools, "run_query", sql="SELECT count(*) FROM secrets")
        assert after.content["rows"] == [[1]]
    assert file_digest(shop_db) == before


async def test_read_only_refusals_say_so(shop_db: Path) -> None:
    async with SQLToolset(f"sqlite:///{shop_db}") as tools:
        result = await call(tools, "run_query", sql="DELETE FROM secrets")
    assert result.is_error
    assert result.content.startswith("Refused: this SQL toolset is read-only")


async def test_pragma_query_only_off_then_write_in_later_calls(
    shop_db: Path, file_digest: Callable[[Path], str]
) -> None:
    """Nothing a call does to its connection lets a later call write."""
    before = file_digest(shop_db)
    async with SQLToolset(f"sqlite:///{shop_db}") as tools:
        for sql in ("PRAGMA query_only=OFF", "PRAGMA writable_schema=ON", "DELETE FROM secrets"):
            assert (await call(tools, "run_query", sql=sql)).is_error
    assert file_digest(shop_db) == before


@pytest.mark.parametrize("read_only", [True, False])
async def test_attach_is_refused_and_creates_no_file(
    shop_db: Path, tmp_path: Path, read_only: bool
) -> None:
    """`ATTACH` would create the file even on a mode=ro connection, and read any other file."""
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE private (x)")
        connection.execute("INSERT INTO private VALUES ('other secret')")
    connection.close()
    new = tmp_path / "created.db"
    async with SQLToolset(f"sqlite:///{shop_db}", read_only=read_only) as tools:
        for sql in (
            f"ATTACH DATABASE '{new}' AS n",
            f"ATTACH DATABASE 'file:{new}?mode=rwc' AS n",
            f"ATTACH DATABASE '{other}' AS o",
            "ATTACH DATABASE ':memory:' AS m",
        ):
            result = await call(tools, "run_query", sql=sql)
            assert result.is_error, sql
        assert (await call(tools, "run_query", sql="SELECT * FROM o.private")).is_error
    assert not new.exists()


async def test_vacuum_into_writes_no_file(shop_db: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.db"
    async with SQLToolset(f"sqlite:///{shop_db}") as tools:
        assert (await call(tools, "run_query", sql=f"VACUUM INTO '{copy}'")).is_error
    assert not copy.exists()


async def test_write_mode_writes_and_commits(shop_db: Path) -> None:
    async with SQLToolset(f"sqlite:///{shop_db}", read_only=False) as tools:
        result = await call(
            tools,
            "run_query",
            sql="INSERT INTO customers (id, name) VALUES (:id, :name)",
            params={"id": 3, "name": "Cleo"},
        )
        assert not result.is_error, result.content
        assert result.content["rows_affected"] == 1
        returned = await call(tools, "run_query", sql="DELETE FROM secrets RETURNING value")
        assert returned.content["rows"] == [["hunter2"]]
    with sqlite3.connect(shop_db) as connection:
        assert connection.execute("SELECT name FROM customers WHERE id = 3").fetchall() == [
            ("Cleo",)
        ]
        assert connection.execute("SELECT count(*) FROM secrets").fetchall() == [(0,)]
    connection.close()


async def test_table_allow_list(shop_db: Path) -> None:
    async with SQLToolset(f"sqlite:///{shop_db}", tables=["orders", "customers"]) as tools:
        listed = await call(tools, "list_tables")
        assert [t["name"] for t in listed.content["tables"]] == ["customers", "orders"]
        assert (await call(tools, "describe_table", table="secrets")).is_error
        joined = await call(
            tools,
            "run_query",
            sql="SELECT c.name, sum(o.total) FROM orders o JOIN customers c "
            "ON c.id = o.customer_id GROUP BY c.name ORDER BY c.name",
        )
        assert joined.content["rows"] == [["Ada", 130.49], ["Brian", 250]]
        for sql in (
            "SELECT * FROM secrets",
            "SELECT (SELECT value FROM secrets) FROM orders",
            "SELECT * FROM big_orders",  # a view over an allowed table: not in the list
            "SELECT sql FROM sqlite_master",
            "SELECT * FROM pragma_table_info('secrets')",
        ):
            result = await call(tools, "run_query", sql=sql)
            assert result.is_error, sql
            assert "hunter2" not in str(result.content)


async def test_missing_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    tools = SQLToolset(f"sqlite:///{path}")
    with pytest.raises(ConfigurationError, match="never creates"):
        async with tools:
            await call(tools, "list_tables")
    assert not path.exists()


async def test_given_engine_is_guarded_and_restored(shop_db: Path) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{shop_db}")
    async with SQLToolset(engine) as tools:
        assert (await call(tools, "run_query", sql="DELETE FROM secrets")).is_error
        assert (await call(tools, "run_query", sql="SELECT count(*) FROM secrets")).content[
            "rows"
        ] == [[1]]
    # The application's own connections write as before.
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO secrets VALUES (2, 'ok')"))
    engine.dispose()


async def test_reads_a_wal_database_while_the_application_writes(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    app = sqlite3.connect(path)
    try:
        app.execute("PRAGMA journal_mode=WAL")
        app.execute("CREATE TABLE events (id INTEGER PRIMARY KEY)")
        app.commit()
        async with SQLToolset(f"sqlite:///{path}") as tools:
            for expected in (0, 1, 2):
                result = await call(tools, "run_query", sql="SELECT count(*) FROM events")
                assert result.content["rows"] == [[expected]]
                app.execute("INSERT INTO events DEFAULT VALUES")
                app.commit()
            assert (await call(tools, "run_query", sql="DELETE FROM events")).is_error
    finally:
        app.close()


async def test_a_locked_database_ends_by_the_deadline(tmp_path: Path) -> None:
    """Another process holds the write lock: the write fails by the time limit, never later."""
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("CREATE TABLE t (x)")
        holder.execute("BEGIN EXCLUSIVE")
        async with SQLToolset(f"sqlite:///{path}", read_only=False, timeout=0.3) as tools:
            result = await call(tools, "run_query", sql="INSERT INTO t VALUES (1)")
            assert result.is_error and "locked" in result.content
        holder.execute("COMMIT")
        assert holder.execute("SELECT count(*) FROM t").fetchall() == [(0,)]
    finally:
        holder.close()


async def test_describe_views_odd_names_and_case(shop_db: Path) -> None:
    with sqlite3.connect(shop_db) as connection:
        connection.execute('CREATE TABLE "v1.2" (a INTEGER)')
    connection.close()
    async with SQLToolset(f"sqlite:///{shop_db}") as tools:
        view = await call(tools, "describe_table", table="big_orders")
        assert [c["name"] for c in view.content["columns"]][:2] == ["id", "customer_id"]
        dotted = await call(tools, "describe_table", table="v1.2")
        assert dotted.content["table"] == "v1.2"
        upper = await call(tools, "describe_table", table="main.ORDERS")
        assert upper.content["table"] == "orders"
