"""`list_due_tenants` reads the due range of `ix_covey_schedules_due_tenants`, not the table.

Every runtime process asks it on every poll, across all tenants, so on a large deployment a
full scan of `covey_schedules` per poll per process would be the cost of a missing index. The
plan is asked of the database itself, as `test_directory_plans.py` does.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Connection

from covey.db.sql import SqlStore
from covey.db.sql.store_operations import due_tenants_statement
from covey.spec.store import Schedule, Scope, utc_now


def _plan(c: Connection, now_sql: str) -> str:
    if c.dialect.name == "sqlite":
        return "\n".join(str(r[-1]) for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + now_sql))
    c.exec_driver_sql("SET LOCAL enable_seqscan = off")
    return "\n".join(str(r[0]) for r in c.exec_driver_sql("EXPLAIN " + now_sql))


async def test_due_tenants_reads_its_index(db_store: SqlStore) -> None:
    now = utc_now()
    for tenant in ("acme", "globex"):
        await db_store.save_schedule(
            Scope(tenant),
            Schedule(
                id="s",
                name="s",
                target_id="agent",
                trigger="interval",
                spec="60",
                next_run_at=now - timedelta(seconds=1),
            ),
        )
    assert await db_store.list_due_tenants(now) == ["acme", "globex"]
    runner = await db_store._ready()  # pyright: ignore[reportPrivateUsage]

    def plan(c: Connection) -> str:
        statement = due_tenants_statement(now, 1000)
        sql = str(statement.compile(dialect=c.dialect, compile_kwargs={"literal_binds": True}))
        return _plan(c, sql)

    found = await runner.read(plan)
    if db_store.backend == "sqlite":
        assert "SCAN covey_schedules" not in found, found
        assert "COVERING INDEX ix_covey_schedules_due_tenants" in found, found
    else:
        assert "Seq Scan" not in found, found
        assert "ix_covey_schedules_due_tenants" in found, found
