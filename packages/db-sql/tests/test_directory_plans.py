"""`list_memory_users` and `list_learning_namespaces` read indexes, never whole tables.

The plans are asked of the database itself (SQLite's `EXPLAIN QUERY PLAN`, PostgreSQL's
`EXPLAIN` with sequential scans priced out, as a large table would), for a tenant-wide and a
user scope, so a dropped index or a query that stops using one fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Select
from sqlalchemy.engine import Connection

from covey.db.sql import SqlStore
from covey.db.sql.store_directory import kinds_statement, namespaces_statement, users_statement
from covey.spec.store import Learning, Memory, Scope, UserProfile

SCOPES = [Scope("t"), Scope("t", "alice")]


def _plan(c: Connection, statement: Select[Any, ...]) -> str:
    sql = str(statement.compile(dialect=c.dialect, compile_kwargs={"literal_binds": True}))
    if c.dialect.name == "sqlite":
        return "\n".join(str(r[-1]) for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    c.exec_driver_sql("SET LOCAL enable_seqscan = off")
    return "\n".join(str(r[0]) for r in c.exec_driver_sql("EXPLAIN " + sql))


async def _plans(store: SqlStore, scope: Scope) -> dict[str, str]:
    await store.add_memory(Scope("t"), Memory(user_id="alice", memory="likes tea"))
    await store.save_user_profile(Scope("t"), UserProfile(user_id="bob"))
    await store.add_learning(Scope("t"), Learning(namespace="ns", content="x", user_id="alice"))
    statements = {
        "users": users_statement(scope, 50, None),
        "namespaces": namespaces_statement(scope, 50, None),
        "kinds": kinds_statement(scope, ["ns"]),
    }
    runner = await store._ready()  # pyright: ignore[reportPrivateUsage]
    return {
        name: await runner.read(lambda c, s=statement: _plan(c, s))
        for name, statement in statements.items()
    }


@pytest.mark.parametrize("scope", SCOPES, ids=["tenant", "user"])
async def test_directory_queries_read_indexes(db_store: SqlStore, scope: Scope) -> None:
    plans = await _plans(db_store, scope)
    every = "\n".join(plans.values())
    if db_store.backend == "sqlite":
        # Only the subqueries (`parts`, `users`) are scanned; every table is searched by index.
        assert "SCAN covey_" not in every, every
        assert "ix_covey_memories_user_recent" in plans["users"]
        assert "COVERING INDEX ix_covey_learnings_user" in plans["users"]
        assert "COVERING INDEX ix_covey_learnings_kinds" in plans["kinds"]
        assert "COVERING INDEX ix_covey_learnings_" in plans["namespaces"]
    else:
        # Which index the planner picks on a near-empty table is its business; that one serves
        # each query without reading the table is what matters.
        assert "Seq Scan" not in every, every
        for name, plan in plans.items():
            assert "Index" in plan, (name, plan)
