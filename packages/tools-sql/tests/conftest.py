"""Fixtures: a small shop database as a SQLite file, and in a throwaway PostgreSQL cluster.

The PostgreSQL cluster is covey-db-sql's test cluster (`covey.db.sql.testing.PostgresCluster`,
Debian's server binaries). The toolset connects as `app`, an ordinary role that OWNS the
tables: every write the attack tests try would be allowed by its privileges, so only the
read-only transaction can be what stops them. PostgreSQL tests are marked `postgres`; they are
skipped only when the server binaries are absent and `CI` is unset, as covey-db-sql's are.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from covey.db.sql.testing import PostgresCluster, find_postgres_bin

SHOP_SQL = """
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT UNIQUE
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id),
    total NUMERIC(10, 2) NOT NULL,
    placed DATE NOT NULL
);
CREATE INDEX orders_by_customer ON orders (customer_id);
CREATE TABLE secrets (id INTEGER PRIMARY KEY, value TEXT);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
INSERT INTO customers VALUES (1, 'Ada', 'ada@example.com'), (2, 'Brian', 'brian@example.com');
INSERT INTO orders VALUES (1, 1, 120.50, '2026-01-02'), (2, 1, 9.99, '2026-01-03'),
    (3, 2, 250.00, '2026-02-01');
INSERT INTO secrets VALUES (1, 'hunter2');
"""


def _file_digest(path: Path) -> str:
    extra = "".join(
        f"{suffix}:{Path(f'{path}{suffix}').exists()}" for suffix in ("-wal", "-journal")
    )
    return hashlib.sha256(path.read_bytes()).hexdigest() + extra


@pytest.fixture
def file_digest() -> Callable[[Path], str]:
    """The bytes of a database file and whether journal files exist: what "unchanged" means."""
    return _file_digest


@pytest.fixture
def shop_db(tmp_path: Path) -> Path:
    """A SQLite file with customers, orders (a foreign key, an index), a view and secrets."""
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as connection:
        connection.executescript(SHOP_SQL)
    connection.close()
    return path


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster on a free loopback port, removed after the session."""
    if find_postgres_bin() is None and not os.environ.get("CI"):
        pytest.skip("PostgreSQL server binaries are not installed: run `make system-deps`")
    with PostgresCluster(settings={"fsync": "off", "synchronous_commit": "off"}) as cluster:
        yield cluster


def asyncpg_url(url: str) -> str:
    return url.replace("postgresql://", "postgres://", 1)


@pytest.fixture
async def pg_shop(postgres_cluster: PostgresCluster) -> str:
    """A fresh database owned by the ordinary role `app`, with the shop in it; `app`'s URL."""
    name = f"shop_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(asyncpg_url(postgres_cluster.url()))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = 'app'")
        if not exists:
            await admin.execute("CREATE ROLE app LOGIN NOSUPERUSER")
        await admin.execute(f'CREATE DATABASE "{name}" OWNER app')
    finally:
        await admin.close()
    url = f"postgresql://app@127.0.0.1:{postgres_cluster.port}/{name}"
    owner = await asyncpg.connect(asyncpg_url(url))
    try:
        await owner.execute(SHOP_SQL)
        await owner.execute(
            "CREATE SEQUENCE invoice_numbers; "
            "CREATE TABLE kinds (id uuid PRIMARY KEY, doc jsonb, tags text[], blob bytea, "
            "at timestamptz, span interval, price numeric);"
            "INSERT INTO kinds VALUES ('6f1c1c1e-8d6b-4c55-9d63-4d1b0a4f6a10', "
            """'{"a": [1, 2]}', '{x,y}', '\\x00ff', '2026-03-04 05:06:07+00', '90 minutes', """
            "12345678901234567890.123456789)"
        )
    finally:
        await owner.close()
    return url


@pytest.fixture
def pg_snapshot() -> Callable[[str], Awaitable[list[tuple[object, ...]]]]:
    """Every row of the shop, the relations that exist, the sequence, the large objects."""
    return _pg_snapshot


async def _pg_snapshot(url: str) -> list[tuple[object, ...]]:
    connection = await asyncpg.connect(asyncpg_url(url))
    try:
        rows: list[tuple[object, ...]] = []
        for table in ("customers", "orders", "secrets", "kinds"):
            rows += [(table, *r.values()) for r in await connection.fetch(f"TABLE {table}")]
        rows += [
            tuple(r.values())
            for r in await connection.fetch(
                "SELECT relname, relkind FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                "ORDER BY relname"
            )
        ]
        rows.append(tuple((await connection.fetchrow("SELECT * FROM invoice_numbers")).values()))
        rows.append(
            (
                "largeobjects",
                await connection.fetchval("SELECT count(*) FROM pg_largeobject_metadata"),
            )
        )
        return rows
    finally:
        await connection.close()
