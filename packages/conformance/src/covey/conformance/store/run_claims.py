"""The run claims tests of `StoreSuite`.

Compare-and-set saves on a run's status, and marking stale runs interrupted.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import anyio
import pytest

from covey.conformance.store.common import T0, StoreScopes
from covey.spec.errors import ConflictError, InvalidInputError
from covey.spec.runs import ErrorInfo, RunStatus
from covey.spec.store import Run, Store, utc_now


class RunClaimTests:
    """A part of `StoreSuite`: its tests run through `StoreSuite`, in every store's tests."""

    @pytest.mark.asyncio
    async def test_save_run_with_expected_status(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """`save_run(..., expected_status=S)` writes only while the stored status is still S.

        If this fails: with `expected_status`, update the row only `WHERE status = :expected`
        (in the same statement or transaction as the write), raise `ConflictError` and write
        nothing when no row matched (another status, a missing run, another user's run), keep
        `cancel_requested` sticky and `heartbeat_at` from moving backwards as in a plain save,
        and refuse a value that is not a `RunStatus` with `InvalidInputError`.
        """
        s = conformance_scopes
        beat = utc_now()
        paused = await store.save_run(
            s.alice, Run(id="r1", status=RunStatus.PAUSED, heartbeat_at=beat, created_at=T0)
        )
        assert await store.request_cancel(s.alice, "r1") is True
        claimed = await store.save_run(
            s.alice,
            paused.model_copy(
                update={"status": RunStatus.RUNNING, "output": "mine", "heartbeat_at": T0}
            ),
            expected_status=RunStatus.PAUSED,
        )
        assert (claimed.status, claimed.output) == (RunStatus.RUNNING, "mine")
        assert claimed.cancel_requested is True
        assert claimed.heartbeat_at == beat
        assert claimed.created_at == T0
        stale = paused.model_copy(update={"status": RunStatus.RUNNING, "output": "theirs"})
        with pytest.raises(ConflictError):
            await store.save_run(s.alice, stale, expected_status=RunStatus.PAUSED)
        got = await store.get_run(s.alice, "r1")
        assert got is not None
        assert (got.status, got.output) == (RunStatus.RUNNING, "mine")
        done = await store.save_run(
            s.alice,
            got.model_copy(update={"status": RunStatus.COMPLETED}),
            expected_status=RunStatus.RUNNING,
        )
        assert done.status is RunStatus.COMPLETED

        with pytest.raises(ConflictError):
            await store.save_run(s.alice, Run(id="missing"), expected_status=RunStatus.PAUSED)
        assert await store.get_run(s.tenant, "missing") is None

        await store.save_run(s.bob, Run(id="bobs", status=RunStatus.PAUSED))
        with pytest.raises(ConflictError):
            await store.save_run(s.alice, Run(id="bobs"), expected_status=RunStatus.PAUSED)
        bobs = await store.get_run(s.bob, "bobs")
        assert bobs is not None
        assert bobs.status is RunStatus.PAUSED
        with pytest.raises(ConflictError):
            await store.save_run(s.other_tenant, Run(id="bobs"), expected_status=RunStatus.PAUSED)
        assert await store.get_run(s.other_tenant, "bobs") is None

        with pytest.raises(InvalidInputError):
            await store.save_run(s.bob, Run(id="bobs"), expected_status=cast(Any, "nonsense"))
        bobs = await store.get_run(s.bob, "bobs")
        assert bobs is not None
        assert bobs.status is RunStatus.PAUSED

    @pytest.mark.asyncio
    async def test_concurrent_claims_of_a_paused_run_one_wins(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Of many concurrent `PAUSED` → `RUNNING` claims of one run, exactly one succeeds.

        This is what stops two processes from resuming one paused run at once.

        If this fails: the status check and the write are not atomic. Do both in one statement
        (`UPDATE runs SET ... WHERE id = :id AND status = :expected`, then check the row count)
        or in one transaction holding a row lock.
        """
        scope = conformance_scopes.alice
        await store.save_run(scope, Run(id="r1", status=RunStatus.PAUSED))
        winners: list[int] = []
        conflicts: list[int] = []

        async def claim(i: int) -> None:
            try:
                await store.save_run(
                    scope,
                    Run(id="r1", status=RunStatus.RUNNING, output=f"claimed by {i}"),
                    expected_status=RunStatus.PAUSED,
                )
                winners.append(i)
            except ConflictError:
                conflicts.append(i)

        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(claim, i)
        assert len(winners) == 1
        assert len(conflicts) == 9
        got = await store.get_run(scope, "r1")
        assert got is not None
        assert (got.status, got.output) == (RunStatus.RUNNING, f"claimed by {winners[0]}")

    @pytest.mark.asyncio
    async def test_mark_stale_runs_interrupted(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Only running runs with an old heartbeat are marked interrupted, in this tenant only.

        If this fails: select runs with `status = 'running'` whose `COALESCE(heartbeat_at,
        updated_at)` is older than now minus `older_than`, within the scope; set them to
        `interrupted`; return their ids in creation order.
        """
        s = conformance_scopes
        old = utc_now() - timedelta(hours=1)
        runs = [
            Run(id="stale-2", heartbeat_at=old, created_at=T0 + timedelta(seconds=2)),
            Run(id="stale-1", heartbeat_at=old, created_at=T0 + timedelta(seconds=1)),
            Run(id="fresh", heartbeat_at=utc_now()),
            Run(id="no-beat-yet"),
            Run(id="paused", status=RunStatus.PAUSED, heartbeat_at=old),
            Run(id="done", status=RunStatus.COMPLETED, heartbeat_at=old),
        ]
        for run in runs:
            await store.save_run(s.alice, run)
        await store.save_run(s.other_tenant, Run(id="elsewhere", heartbeat_at=old))
        marked = await store.mark_stale_runs_interrupted(s.tenant, older_than=timedelta(minutes=5))
        assert marked == ["stale-1", "stale-2"]
        statuses = {r.id: r.status for r in (await store.list_runs(s.tenant)).items}
        assert statuses == {
            "stale-1": RunStatus.INTERRUPTED,
            "stale-2": RunStatus.INTERRUPTED,
            "fresh": RunStatus.RUNNING,
            "no-beat-yet": RunStatus.RUNNING,
            "paused": RunStatus.PAUSED,
            "done": RunStatus.COMPLETED,
        }
        elsewhere = await store.get_run(s.other_tenant, "elsewhere")
        assert elsewhere is not None
        assert elsewhere.status == RunStatus.RUNNING
        assert await store.mark_stale_runs_interrupted(s.tenant, older_than=timedelta(0)) == [
            "fresh",
            "no-beat-yet",
        ]

    @pytest.mark.asyncio
    async def test_mark_one_stale_run_is_a_compare_and_set(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """With `run_id`, only that run is marked, only when stale, and by exactly one caller.

        If this fails: add `id = :run_id` to the stale-run update, and make the status check
        and the change one statement (`UPDATE ... WHERE status = 'running' AND ...`), so of
        many workers closing one orphaned run exactly one gets its id back.
        """
        s = conformance_scopes
        old = utc_now() - timedelta(hours=1)
        for run_id in ("orphan", "other-orphan"):
            await store.save_run(s.alice, Run(id=run_id, heartbeat_at=old))
        await store.save_run(s.alice, Run(id="alive", heartbeat_at=old))
        await store.heartbeat(s.alice, "alive")  # the lease renewed just now
        lease = timedelta(minutes=5)
        assert (
            await store.mark_stale_runs_interrupted(s.alice, older_than=lease, run_id="alive") == []
        )
        results: list[list[str]] = []

        async def mark() -> None:
            results.append(
                await store.mark_stale_runs_interrupted(s.tenant, older_than=lease, run_id="orphan")
            )

        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(mark)
        assert sorted(results) == [[]] * 7 + [["orphan"]]
        statuses = {r.id: r.status for r in (await store.list_runs(s.tenant)).items}
        assert statuses == {
            "orphan": RunStatus.INTERRUPTED,
            "other-orphan": RunStatus.RUNNING,
            "alive": RunStatus.RUNNING,
        }
        assert (
            await store.mark_stale_runs_interrupted(s.bob, older_than=lease, run_id="other-orphan")
            == []
        )

    @pytest.mark.asyncio
    async def test_a_stale_run_claim_carries_its_reason(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """With `error`, the runs a claim marks `interrupted` get that error in the same write,
        so nobody reads one as interrupted without a reason.

        If this fails: set the `error` column in the same `UPDATE` as the status.
        """
        s = conformance_scopes
        old = utc_now() - timedelta(hours=1)
        await store.save_run(s.alice, Run(id="orphan", heartbeat_at=old))
        why = ErrorInfo(type="Interrupted", message="its worker died")
        marked = await store.mark_stale_runs_interrupted(
            s.alice, older_than=timedelta(minutes=5), run_id="orphan", error=why
        )
        assert marked == ["orphan"]
        run = await store.get_run(s.alice, "orphan")
        assert run is not None
        assert run.status is RunStatus.INTERRUPTED
        assert run.error == why
