"""The approvals tests of `StoreSuite`.

Lifecycle, and a decision is taken exactly once.
"""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest

from covey.conformance.store.common import T0, StoreScopes, all_pages, ids_of
from covey.spec.errors import ConflictError, NotFoundError
from covey.spec.store import Approval, Store


class ApprovalTests:
    """A part of `StoreSuite`: its tests run through `StoreSuite`, in every store's tests."""

    # --- approvals -------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_approval_lifecycle(self, store: Store, conformance_scopes: StoreScopes) -> None:
        """Approvals are saved, listed oldest first by status and run, and resolved once.

        If this fails: order by `(created_at ASC, id ASC)`; `resolve_approval` must update only
        a pending row (`WHERE status = 'pending'`) and raise `ConflictError` otherwise,
        `NotFoundError` when missing.
        """
        scope = conformance_scopes.alice
        for i, run_id in enumerate(["r1", "r1", "r2"], start=1):
            await store.save_approval(
                scope,
                Approval(
                    id=f"a{i}",
                    run_id=run_id,
                    tool_call_id=f"c{i}",
                    tool_name="pay",
                    args={"eur": i * 10},
                    created_at=T0 + timedelta(minutes=i),
                ),
            )
        pages = await all_pages(lambda c: store.list_approvals(scope, limit=2, cursor=c))
        assert pages == [["a1", "a2"], ["a3"]]
        assert ids_of(await store.list_approvals(scope, run_id="r1")) == ["a1", "a2"]
        resolved = await store.resolve_approval(
            scope, "a2", status="rejected", resolved_by="manager-1", note="too much"
        )
        assert (resolved.status, resolved.resolved_by, resolved.note) == (
            "rejected",
            "manager-1",
            "too much",
        )
        assert resolved.resolved_at is not None
        assert await store.get_approval(scope, "a2") == resolved
        assert ids_of(await store.list_approvals(scope, status="pending")) == ["a1", "a3"]
        assert ids_of(await store.list_approvals(scope, status="rejected")) == ["a2"]
        assert ids_of(await store.list_approvals(scope, status="pending", run_id="r2")) == ["a3"]
        with pytest.raises(ConflictError):
            await store.resolve_approval(scope, "a2", status="approved")
        got = await store.get_approval(scope, "a2")
        assert got is not None
        assert got.status == "rejected"
        with pytest.raises(NotFoundError):
            await store.resolve_approval(scope, "missing", status="approved")

    @pytest.mark.asyncio
    async def test_concurrent_resolutions_only_one_wins(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """When two people resolve the same approval at once, exactly one succeeds.

        If this fails: make the pending check and the update one atomic statement.
        """
        scope = conformance_scopes.alice
        await store.save_approval(
            scope, Approval(id="a1", run_id="r1", tool_call_id="c1", tool_name="pay")
        )
        winners: list[str] = []

        async def resolve(who: str) -> None:
            try:
                await store.resolve_approval(
                    scope,
                    "a1",
                    status="approved" if who.startswith("y") else "rejected",
                    resolved_by=who,
                )
                winners.append(who)
            except ConflictError:
                pass

        async with anyio.create_task_group() as tg:
            for who in ("yes-1", "no-1", "yes-2", "no-2", "yes-3"):
                tg.start_soon(resolve, who)
        assert len(winners) == 1
        got = await store.get_approval(scope, "a1")
        assert got is not None
        assert got.resolved_by == winners[0]

    @pytest.mark.asyncio
    async def test_create_only_approval_never_resets_a_decision(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """`save_approval(create_only=True)` creates once and then returns the stored row.

        Several readers of one paused run record its requirement at once; a replace by a late
        reader would reset a decision made meanwhile and let a second decider win too.

        If this fails: with `create_only`, insert only when the id is absent (`ON CONFLICT DO
        NOTHING`) and return the stored row; another scope's id is a `ConflictError`.
        """
        scope = conformance_scopes.alice
        first = Approval(id="a1", run_id="r1", tool_call_id="c1", tool_name="pay")
        created = await store.save_approval(scope, first, create_only=True)
        assert created.status == "pending"
        await store.resolve_approval(scope, "a1", status="rejected", resolved_by="manager-1")
        late = first.model_copy(update={"args": {"eur": 1}})
        again = await store.save_approval(scope, late, create_only=True)
        assert (again.status, again.resolved_by, again.args) == ("rejected", "manager-1", {})
        with pytest.raises(ConflictError):
            await store.resolve_approval(scope, "a1", status="approved", resolved_by="intruder")
        with pytest.raises(ConflictError):
            await store.save_approval(conformance_scopes.bob, late, create_only=True)

        winners: list[Approval] = []

        async def record() -> None:
            winners.append(
                await store.save_approval(
                    scope,
                    Approval(id="a2", run_id="r1", tool_call_id="c2", tool_name="pay"),
                    create_only=True,
                )
            )

        async with anyio.create_task_group() as tg:
            for _ in range(4):
                tg.start_soon(record)
        assert {(w.id, w.status) for w in winners} == {("a2", "pending")}
        assert ids_of(await store.list_approvals(scope, run_id="r1")) == ["a1", "a2"]
