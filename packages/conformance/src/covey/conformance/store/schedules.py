"""The schedules tests of `StoreSuite`.

Lifecycle, compare-and-set updates, due schedules, the tenants with due schedules.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from covey.conformance.store.common import T0, StoreScopes, all_pages, ids_of
from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.store import MAX_PAGE_SIZE, Schedule, Scope, Store


def _due_schedule(sid: str, next_run_at: Any, enabled: bool = True) -> Schedule:
    """An interval schedule named `sid` next due at `next_run_at` (the due-listing tests)."""
    return Schedule(
        id=sid,
        name=sid,
        target_id="agent",
        trigger="interval",
        spec="60",
        next_run_at=next_run_at,
        enabled=enabled,
    )


class ScheduleTests:
    """A part of `StoreSuite`: its tests run through `StoreSuite`, in every store's tests."""

    # --- schedules -------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_schedule_lifecycle(self, store: Store, conformance_scopes: StoreScopes) -> None:
        """Schedules are saved, read, listed by id (optionally by `enabled`) and deleted.

        If this fails: upsert by `(tenant, id)`, order by id, and raise `NotFoundError` when
        deleting a missing schedule.
        """
        scope = conformance_scopes.alice
        nightly = await store.save_schedule(
            scope,
            Schedule(
                id="b-nightly",
                name="Nightly report",
                target_kind="workflow",
                target_id="report",
                trigger="cron",
                spec="0 2 * * *",
                timezone="Europe/Paris",
                payload={"input": "Summarise the day"},
                next_run_at=T0,
            ),
        )
        assert await store.get_schedule(scope, "b-nightly") == nightly
        await store.save_schedule(
            scope,
            Schedule(
                id="a-poll",
                name="Poll",
                target_id="agent",
                trigger="interval",
                spec="300",
                enabled=False,
            ),
        )
        assert ids_of(await store.list_schedules(scope)) == ["a-poll", "b-nightly"]
        assert ids_of(await store.list_schedules(scope, enabled=True)) == ["b-nightly"]
        assert ids_of(await store.list_schedules(scope, enabled=False)) == ["a-poll"]
        pages = await all_pages(lambda c: store.list_schedules(scope, limit=1, cursor=c))
        assert pages == [["a-poll"], ["b-nightly"]]
        moved = await store.save_schedule(
            scope, nightly.model_copy(update={"last_run_at": T0, "next_run_at": None})
        )
        assert moved.created_at == nightly.created_at
        got = await store.get_schedule(scope, "b-nightly")
        assert got is not None
        assert (got.last_run_at, got.next_run_at) == (T0, None)
        await store.delete_schedule(scope, "a-poll")
        assert await store.get_schedule(scope, "a-poll") is None
        with pytest.raises(NotFoundError):
            await store.delete_schedule(scope, "a-poll")

    @pytest.mark.asyncio
    async def test_schedule_compare_and_set(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """`save_schedule(expected_updated_at=...)` writes only over that very version.

        Schedulers of several processes claim a due firing this way: of those that read the
        same version, exactly one wins. If this fails: `UPDATE ... WHERE updated_at = :expected`
        with a new `updated_at` strictly later than the old one, and `ConflictError` when no
        row matched (changed, deleted, or never saved).
        """
        scope = conformance_scopes.alice
        first = await store.save_schedule(
            scope,
            Schedule(id="cas", name="cas", target_id="agent", trigger="interval", spec="1"),
        )
        claims = [
            first.model_copy(update={"last_run_at": T0 + timedelta(seconds=i)}) for i in (1, 2)
        ]
        results = await asyncio.gather(
            *(store.save_schedule(scope, c, expected_updated_at=first.updated_at) for c in claims),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, Schedule)]
        assert len(won) == 1, results
        assert sum(isinstance(r, ConflictError) for r in results) == 1, results
        assert won[0].updated_at > first.updated_at
        stored = await store.get_schedule(scope, "cas")
        assert stored is not None
        assert stored.last_run_at == won[0].last_run_at
        assert stored.updated_at == won[0].updated_at
        # The winner's version is the next one to claim; the old one is gone for good.
        again = await store.save_schedule(scope, stored, expected_updated_at=stored.updated_at)
        assert again.updated_at > stored.updated_at
        with pytest.raises(ConflictError):
            await store.save_schedule(scope, stored, expected_updated_at=stored.updated_at)
        with pytest.raises(ConflictError):
            await store.save_schedule(
                scope,
                Schedule(id="nope", name="n", target_id="agent", trigger="interval", spec="1"),
                expected_updated_at=T0,
            )
        assert await store.get_schedule(scope, "nope") is None
        await store.delete_schedule(scope, "cas")
        with pytest.raises(ConflictError):
            await store.save_schedule(scope, again, expected_updated_at=again.updated_at)

    @pytest.mark.asyncio
    async def test_list_due_schedules(self, store: Store, conformance_scopes: StoreScopes) -> None:
        """`list_due` returns enabled schedules with `next_run_at <= now`, soonest first.

        If this fails: filter `enabled AND next_run_at IS NOT NULL AND next_run_at <= :now`
        and order by `(next_run_at, id)`.
        """
        scope = conformance_scopes.alice
        now = T0 + timedelta(hours=1)

        for item in (
            _due_schedule("late", now - timedelta(minutes=1)),
            _due_schedule("early", now - timedelta(minutes=30)),
            _due_schedule("exactly-now", now),
            _due_schedule("future", now + timedelta(seconds=1)),
            _due_schedule("never", None),
            _due_schedule("disabled", now - timedelta(hours=2), enabled=False),
        ):
            await store.save_schedule(scope, item)
        due = await store.list_due(scope, now)
        assert ids_of(due) == ["early", "late", "exactly-now"]
        assert await store.list_due(conformance_scopes.other_tenant, now) == []

    @pytest.mark.asyncio
    async def test_list_due_tenants(self, store: Store, conformance_scopes: StoreScopes) -> None:
        """`list_due_tenants` names every tenant with an enabled, due schedule: sorted, each
        once, at most `limit`; paused and not-yet-due schedules name no tenant.

        If this fails: `SELECT DISTINCT tenant_id` over `enabled AND next_run_at IS NOT NULL
        AND next_run_at <= :now`, ordered by `tenant_id`, `LIMIT :limit`. This is what lets a
        restarted runtime fire the schedules of tenants it has never seen.
        """
        # An instant long before any other test's rows, so that in a store shared with other
        # tests (one PostgreSQL database) only this test's tenants are due at `now`.
        now = datetime(1971, 1, 1, tzinfo=UTC)
        a, b = conformance_scopes.tenant.tenant_id, conformance_scopes.other_tenant.tenant_id
        paused_only = Scope(f"{a}-paused")
        future_only = Scope(f"{a}-future")

        for scope, item in (
            (conformance_scopes.other_alice, _due_schedule("b-due", now - timedelta(days=1))),
            (conformance_scopes.alice, _due_schedule("a-due", now - timedelta(minutes=1))),
            (conformance_scopes.bob, _due_schedule("a-due-too", now)),
            (conformance_scopes.tenant, _due_schedule("a-due-three", now - timedelta(minutes=10))),
            (paused_only, _due_schedule("paused", now - timedelta(hours=1), enabled=False)),
            (future_only, _due_schedule("future", now + timedelta(seconds=1))),
            (future_only, _due_schedule("never", None)),
        ):
            await store.save_schedule(scope, item)
        ours = {a, b, paused_only.tenant_id, future_only.tenant_id}
        listed = await store.list_due_tenants(now)
        assert listed == sorted(set(listed)), "sorted, each tenant once"
        assert [x for x in listed if x in ours] == sorted([a, b])
        assert await store.list_due_tenants(now, limit=1) == listed[:1]
        earlier = await store.list_due_tenants(now - timedelta(minutes=30))
        assert [x for x in earlier if x in ours] == [b]
        # Pausing the last due schedules of a tenant takes it off the list.
        for scope, sid in (
            (conformance_scopes.alice, "a-due"),
            (conformance_scopes.bob, "a-due-too"),
            (conformance_scopes.tenant, "a-due-three"),
        ):
            row = await store.get_schedule(scope, sid)
            assert row is not None
            await store.save_schedule(scope, row.model_copy(update={"enabled": False}))
        assert [x for x in await store.list_due_tenants(now) if x in ours] == [b]
        for limit in (0, -1, MAX_PAGE_SIZE + 1):
            with pytest.raises(InvalidInputError):
                await store.list_due_tenants(now, limit=limit)
