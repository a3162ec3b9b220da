"""PostgreSQL: the tools, limits, and a read-only toolset under attack, as a role that owns the
tables (its privileges would allow every write tried here: only the read-only transaction stops
them)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from covey.conformance import ToolsetSuite
from covey.db.sql.testing import PostgresCluster
from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.spec.tools import ToolResult
from covey.tools.sql import SQLToolset

pytestmark = pytest.mark.postgres

CTX = RunContext(run_id="run", session_id="session")
Snapshot = Callable[[str], Awaitable[list[tuple[object, ...]]]]


async def call(toolset: SQLToolset, tool: str, **args: Any) -> ToolResult:
    return await toolset.call_tool(tool, args, CTX)


class TestPostgresConformance(ToolsetSuite):
    @pytest.fixture
    def toolset(self, pg_shop: str) -> SQLToolset:
        return SQLToolset(pg_shop)

    @pytest.fixture
    def toolset_calls(self) -> Mapping[str, dict[str, Any]]:
        return {
            "list_tables": {},
            "describe_table": {"table": "orders"},
            "run_query": {"sql": "SELECT count(*) AS n FROM orders"},
        }


async def test_given_async_engine(pg_shop: str, pg_snapshot: Snapshot) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    before = await pg_snapshot(pg_shop)
    engine = create_async_engine(pg_shop.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with SQLToolset(engine) as tools:
            assert (await call(tools, "run_query", sql="DELETE FROM secrets")).is_error
            result = await call(tools, "run_query", sql="SELECT count(*) FROM orders")
            assert result.content["rows"] == [[3]]
        # The engine is the caller's: still open after the toolset is done with it.
        async with engine.connect() as connection:
            assert (await connection.exec_driver_sql("SELECT 1")).scalar() == 1
    finally:
        await engine.dispose()
    assert await pg_snapshot(pg_shop) == before


async def test_list_describe_and_values(pg_shop: str) -> None:
    async with SQLToolset(pg_shop) as tools:
        listed = await call(tools, "list_tables")
        assert listed.content["tables"] == [
            {"name": "customers", "kind": "table"},
            {"name": "kinds", "kind": "table"},
            {"name": "orders", "kind": "table"},
            {"name": "secrets", "kind": "table"},
            {"name": "big_orders", "kind": "view"},
        ]
        described = await call(tools, "describe_table", table="public.orders")
        assert described.content["foreign_keys"] == [
            {"columns": ["customer_id"], "references": "customers", "referred_columns": ["id"]}
        ]
        assert ("total", "NUMERIC(10, 2)") in [
            (c["name"], c["type"]) for c in described.content["columns"]
        ]
        values = await call(tools, "run_query", sql="SELECT *, '10:30'::time AS t FROM kinds")
    assert not values.is_error, values.content
    assert values.content["columns"] == ["id", "doc", "tags", "blob", "at", "span", "price", "t"]
    assert values.content["rows"] == [
        [
            "6f1c1c1e-8d6b-4c55-9d63-4d1b0a4f6a10",
            {"a": [1, 2]},
            ["x", "y"],
            {"bytes_base64": "AP8=", "length": 2},
            "2026-03-04T05:06:07+00:00",
            5400.0,
            "12345678901234567890.123456789",
            "10:30:00",
        ]
    ]


async def test_params(pg_shop: str) -> None:
    async with SQLToolset(pg_shop) as tools:
        result = await call(
            tools,
            "run_query",
            sql="SELECT name FROM customers WHERE id = :id AND name <> 'x:y'",
            params={"id": 1},
        )
    assert result.content["rows"] == [["Ada"]]


WRITES = [
    "INSERT INTO customers VALUES (3, 'Mallory', 'm@example.com')",
    "UPDATE orders SET total = 0",
    "DELETE FROM secrets",
    "TRUNCATE secrets",
    "DROP TABLE secrets",
    "CREATE TABLE evil (x int)",
    "CREATE TEMP TABLE evil (x int)",
    "ALTER TABLE orders ADD COLUMN evil text",
    "SELECT 1; DELETE FROM secrets",
    "WITH gone AS (DELETE FROM secrets RETURNING *) SELECT * FROM gone",
    "SET TRANSACTION READ WRITE",
    "COMMIT; DELETE FROM secrets",
    "DO $$ BEGIN DELETE FROM secrets; END $$",
    "DO $$ BEGIN SET TRANSACTION READ WRITE; DELETE FROM secrets; END $$",
    "SELECT nextval('invoice_numbers')",
    "SELECT setval('invoice_numbers', 99)",
    "SELECT lo_import('/etc/hostname')",
    "COPY (SELECT 1) TO PROGRAM 'id'",
    "COPY secrets FROM PROGRAM 'echo 9,x'",
    "SELECT pg_read_file('/etc/hostname')",
    "CREATE FUNCTION evil() RETURNS int LANGUAGE sql AS 'DELETE FROM secrets RETURNING 1'",
]


@pytest.mark.parametrize("sql", WRITES)
async def test_read_only_refuses_writes(pg_shop: str, pg_snapshot: Snapshot, sql: str) -> None:
    before = await pg_snapshot(pg_shop)
    async with SQLToolset(pg_shop) as tools:
        result = await call(tools, "run_query", sql=sql)
        assert result.is_error, result.content
        after = await call(tools, "run_query", sql="SELECT count(*) FROM secrets")
        assert after.content["rows"] == [[1]]
    assert await pg_snapshot(pg_shop) == before


async def test_large_objects_made_in_a_call_are_rolled_back(
    pg_shop: str, pg_snapshot: Snapshot
) -> None:
    """PostgreSQL lets a read-only transaction create a large object; the rollback drops it."""
    before = await pg_snapshot(pg_shop)
    async with SQLToolset(pg_shop) as tools:
        await call(tools, "run_query", sql="SELECT lo_from_bytea(0, 'data')")
    assert await pg_snapshot(pg_shop) == before


async def test_refusal_says_read_only(pg_shop: str) -> None:
    async with SQLToolset(pg_shop) as tools:
        result = await call(tools, "run_query", sql="DELETE FROM secrets")
    assert result.content.startswith("Refused: this SQL toolset is read-only")
    assert "read-only transaction" in result.content


@pytest.mark.parametrize(
    "first",
    [
        "COMMIT",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        "SET default_transaction_read_only = off",
        "SELECT set_config('default_transaction_read_only', 'off', false)",
        "SET TRANSACTION READ WRITE",
        "ROLLBACK",
    ],
)
async def test_nothing_a_call_does_lets_the_next_call_write(
    pg_shop: str, pg_snapshot: Snapshot, first: str
) -> None:
    before = await pg_snapshot(pg_shop)
    async with SQLToolset(pg_shop) as tools:
        await call(tools, "run_query", sql=first)
        result = await call(tools, "run_query", sql="DELETE FROM secrets")
        assert result.is_error, result.content
    assert await pg_snapshot(pg_shop) == before


async def test_no_session_state_survives_a_call(pg_shop: str) -> None:
    """An advisory lock taken by one call is gone for the next (a session per call)."""
    async with SQLToolset(pg_shop) as tools:
        await call(tools, "run_query", sql="SELECT pg_advisory_lock(42)")
        held = await call(
            tools,
            "run_query",
            sql="SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 42",
        )
    assert held.content["rows"] == [[0]]


async def test_cannot_kill_other_sessions(pg_shop: str, postgres_cluster: PostgresCluster) -> None:
    admin = await asyncpg.connect(postgres_cluster.url().replace("postgresql", "postgres", 1))
    try:
        pid = await admin.fetchval("SELECT pg_backend_pid()")
        async with SQLToolset(pg_shop) as tools:
            result = await call(tools, "run_query", sql=f"SELECT pg_terminate_backend({pid})")
        assert result.is_error
        assert await admin.fetchval("SELECT 1") == 1
    finally:
        await admin.close()


async def test_pg_sleep_is_stopped(pg_shop: str) -> None:
    async with SQLToolset(pg_shop, timeout=0.5) as tools:
        result = await call(tools, "run_query", sql="SELECT pg_sleep(60)")
        assert result.is_error
        assert "time limit of 0.5 s" in result.content
        endless = await call(
            tools,
            "run_query",
            sql="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
            "SELECT count(*) FROM c",
        )
        assert endless.is_error and "time limit" in endless.content


async def test_a_lock_wait_is_stopped(pg_shop: str) -> None:
    holder = await asyncpg.connect(pg_shop.replace("postgresql", "postgres", 1))
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE secrets IN ACCESS EXCLUSIVE MODE")
            async with SQLToolset(pg_shop, timeout=0.5) as tools:
                result = await call(tools, "run_query", sql="SELECT * FROM secrets")
            assert result.is_error and "time limit" in result.content
    finally:
        await holder.close()


async def test_a_million_rows_are_capped(pg_shop: str) -> None:
    async with SQLToolset(pg_shop, max_rows=3) as tools:
        result = await call(tools, "run_query", sql="SELECT generate_series(1, 1000000)")
    assert result.content["rows"] == [[1], [2], [3]]
    assert result.content["truncated"] is True


async def test_superuser_is_refused_unless_allowed(
    postgres_cluster: PostgresCluster, pg_shop: str
) -> None:
    database = pg_shop.rsplit("/", 1)[1]
    superuser = postgres_cluster.url(database)
    async with SQLToolset(superuser) as tools:
        with pytest.raises(ConfigurationError, match="superuser"):
            await call(tools, "run_query", sql="SELECT 1")
    async with SQLToolset(superuser, allow_superuser=True) as tools:
        result = await call(tools, "run_query", sql="SELECT count(*) FROM orders")
        assert result.content["rows"] == [[3]]
        # A read-only transaction still stops table writes.
        assert (await call(tools, "run_query", sql="DELETE FROM secrets")).is_error


async def test_write_mode(pg_shop: str, pg_snapshot: Snapshot) -> None:
    async with SQLToolset(pg_shop, read_only=False) as tools:
        inserted = await call(
            tools,
            "run_query",
            sql="INSERT INTO customers (id, name) VALUES (:id, :name)",
            params={"id": 3, "name": "Cleo"},
        )
        assert not inserted.is_error, inserted.content
        returned = await call(
            tools, "run_query", sql="UPDATE orders SET total = total * 2 RETURNING id"
        )
        assert sorted(returned.content["rows"]) == [[1], [2], [3]]
        failed = await call(tools, "run_query", sql="INSERT INTO customers (id) VALUES (4)")
        assert failed.is_error and "null value" in failed.content
    rows = await pg_snapshot(pg_shop)
    assert ("customers", 3, "Cleo", None) in rows


async def test_password_never_shown(postgres_cluster: PostgresCluster, tmp_path: Path) -> None:
    url = f"postgresql://app:s3cret-pw@127.0.0.1:{postgres_cluster.port}/no_such_db"
    tools = SQLToolset(url)
    assert "s3cret-pw" not in repr(tools)
    assert "***" in repr(tools)
    async with tools:
        result = await call(tools, "run_query", sql="SELECT 1")
    assert result.is_error
    assert "no_such_db" in result.content
    assert "s3cret-pw" not in result.content
    assert os.environ.get("PGPASSWORD") is None


async def test_schemas(pg_shop: str) -> None:
    owner = await asyncpg.connect(pg_shop.replace("postgresql", "postgres", 1))
    try:
        await owner.execute("CREATE SCHEMA sales; CREATE TABLE sales.leads (id int PRIMARY KEY)")
    finally:
        await owner.close()
    async with SQLToolset(pg_shop) as tools:
        listed = await call(tools, "list_tables")
        assert "sales.leads" not in [t["name"] for t in listed.content["tables"]]
        assert (await call(tools, "describe_table", table="sales.leads")).is_error
    async with SQLToolset(pg_shop, schemas=["sales"], tables=["sales.leads"]) as tools:
        listed = await call(tools, "list_tables")
        assert listed.content["tables"] == [{"name": "sales.leads", "kind": "table"}]
        described = await call(tools, "describe_table", table="sales.leads")
        assert described.content["primary_key"] == ["id"]
        assert (await call(tools, "describe_table", table="orders")).is_error
