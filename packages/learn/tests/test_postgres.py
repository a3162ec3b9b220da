"""On PostgreSQL: concurrent updates through two stores (two connection pools, as two processes
would have) share one daily cap exactly, and never see each other's users."""

from __future__ import annotations

import anyio
import pytest

from covey.db.sql import SqlStore
from covey.learn import MemoryManager, MemoryUpdate, calls_today
from covey.spec.store import Scope

from .conftest import OpsModel, exchange

pytestmark = pytest.mark.postgres


async def test_concurrent_updates_share_one_daily_cap(postgres_url: str) -> None:
    model = OpsModel(lambda p, i: [{"op": "create", "memory": "Again", "topics": []}])
    alice = Scope("acme", "alice")
    results: list[MemoryUpdate] = []
    async with SqlStore(postgres_url) as one, SqlStore(postgres_url) as two:
        managers = [
            MemoryManager(model.model, store=store, max_model_calls_per_user_per_day=4)
            for store in (one, two)
        ]

        async def run(i: int) -> None:
            update = await managers[i % 2].update(alice, exchange(f"m{i}"), run_id=f"r{i}")
            results.append(update)

        async with anyio.create_task_group() as tg:
            for i in range(12):
                tg.start_soon(run, i)

        assert sum(r.model_calls for r in results) == 4
        assert model.calls == 4
        assert await calls_today(one, alice) == 4
        assert len((await one.list_memories(alice)).items) == 4
        assert (await two.list_memories(Scope("acme", "bob"))).items == []
        capped = [r for r in results if r.model_calls == 0]
        assert len(capped) == 8 and all("daily cap" in (r.error or "") for r in capped)
