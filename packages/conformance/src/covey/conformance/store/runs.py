"""The runs tests of `StoreSuite`.

Round trips with messages and results, updates, listing, cancel requests and heartbeats.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import anyio
import pytest

from covey.conformance.store.common import (
    T0,
    StoreScopes,
    all_pages,
    ids_of,
    rich_messages,
    rich_run,
)
from covey.spec.errors import InvalidInputError, NotFoundError
from covey.spec.messages import ImageContent, ModelRequest, UserPart
from covey.spec.runs import Requirement, RunResult, RunStatus
from covey.spec.store import Page, Run, Store, utc_now
from covey.spec.usage import Usage


class RunTests:
    """A part of `StoreSuite`: its tests run through `StoreSuite`, in every store's tests."""

    # --- runs ------------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_run_round_trip_with_messages(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """A run with messages (media bytes, thinking, tool calls), usage and error reads back equal.

        If this fails: store `messages` with `covey.spec.messages.dump_messages` (or the model's
        JSON) and load them with `load_messages`, so every part keeps its class and
        `provider_details`; store bytes as base64, and every other field as JSON.
        """
        scope = conformance_scopes.alice
        run = rich_run("r1")
        saved = await store.save_run(scope, run)
        got = await store.get_run(scope, "r1")
        assert got is not None
        assert got == saved
        assert got.user_id == "alice"
        assert got.messages == run.messages
        assert [type(m) for m in got.messages] == [type(m) for m in run.messages]
        first = got.messages[0]
        assert isinstance(first, ModelRequest)
        user_part = first.parts[1]
        assert isinstance(user_part, UserPart)
        assert isinstance(user_part.content, list)
        image = user_part.content[1]
        assert isinstance(image, ImageContent)
        assert image.data == b"\x89PNG\r\n\x1a\n\x00\xff"
        for name in ("input", "output", "usage", "tool_calls", "requirements", "error"):
            assert getattr(got, name) == getattr(run, name), name
        assert (got.started_at, got.finished_at, got.created_at) == (
            run.started_at,
            run.finished_at,
            run.created_at,
        )
        assert got.metadata == run.metadata

    @pytest.mark.asyncio
    async def test_run_result_round_trip(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """`Run.from_result` → save → get → `to_result` gives the same `RunResult`.

        If this fails: some `Run` field is not stored or is changed on the way (compare the two
        dumps to see which).
        """
        scope = conformance_scopes.alice
        result = RunResult[Any](
            run_id="r1",
            session_id="s1",
            agent_id="agent",
            user_id="alice",
            status=RunStatus.PAUSED,
            output=None,
            usage=Usage(input_tokens=10, output_tokens=2, requests=1),
            messages=rich_messages("r1"),
            requirements=[Requirement(tool_call_id="c9", tool_name="pay", kind="approval")],
            started_at=T0,
            finished_at=None,
        )
        await store.save_run(scope, Run.from_result(result, input="hello"))
        got = await store.get_run(scope, "r1")
        assert got is not None
        assert got.input == "hello"
        assert got.to_result().model_dump() == result.model_dump()

    @pytest.mark.asyncio
    async def test_save_run_updates_in_place(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Saving a run again replaces it, keeps `created_at` and moves `updated_at`.

        If this fails: upsert by `(tenant, id)`, keep `created_at` of the first save, and set
        `updated_at` to now on every save.
        """
        scope = conformance_scopes.alice
        first = await store.save_run(scope, Run(id="r1", status=RunStatus.RUNNING, created_at=T0))
        await anyio.sleep(0.01)
        second = await store.save_run(
            scope,
            Run(
                id="r1",
                status=RunStatus.COMPLETED,
                output="done",
                created_at=T0 + timedelta(hours=1),
            ),
        )
        assert second.created_at == T0
        assert second.updated_at > first.updated_at
        got = await store.get_run(scope, "r1")
        assert got is not None
        assert (got.status, got.output, got.created_at) == (RunStatus.COMPLETED, "done", T0)
        assert await store.get_run(scope, "missing") is None

    @pytest.mark.asyncio
    async def test_list_runs_in_creation_order_with_filters_and_pages(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Runs list by `created_at` ascending (ties: id), filtered by session and status.

        If this fails: order by `(created_at ASC, id ASC)`, apply the filters in the query, and
        paginate with a cursor holding the last row's sort key.
        """
        scope = conformance_scopes.alice
        order = [3, 0, 4, 1, 2]
        for i in order:
            await store.save_run(
                scope,
                Run(
                    id=f"r{i}",
                    session_id="even" if i % 2 == 0 else "odd",
                    status=RunStatus.COMPLETED if i < 3 else RunStatus.FAILED,
                    created_at=T0 + timedelta(minutes=i),
                ),
            )
        pages = await all_pages(lambda c: store.list_runs(scope, limit=2, cursor=c))
        assert pages == [["r0", "r1"], ["r2", "r3"], ["r4"]]
        assert ids_of(await store.list_runs(scope, session_id="even")) == ["r0", "r2", "r4"]
        assert ids_of(await store.list_runs(scope, status=RunStatus.FAILED)) == ["r3", "r4"]
        assert ids_of(
            await store.list_runs(scope, session_id="odd", status=RunStatus.COMPLETED)
        ) == ["r1"]
        assert ids_of(await store.list_runs(scope, status=RunStatus.PAUSED)) == []

    @pytest.mark.asyncio
    async def test_list_runs_newest_first(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """`order="desc"` lists runs newest first (ties: id descending), with working cursors.

        If this fails: order by `(created_at DESC, id DESC)` when `order="desc"` and seek with
        the comparison reversed (`(created_at, id) < cursor`); refuse an `order` other than
        `"asc"`/`"desc"` with `InvalidInputError`.
        """
        scope = conformance_scopes.alice
        for i in [3, 0, 4, 1, 2]:
            await store.save_run(
                scope,
                Run(
                    id=f"r{i}",
                    session_id="even" if i % 2 == 0 else "odd",
                    created_at=T0 + timedelta(minutes=i),
                ),
            )
        # Two runs created at the same instant: ties break by id, reversed too.
        await store.save_run(scope, Run(id="r5b", created_at=T0 + timedelta(minutes=5)))
        await store.save_run(scope, Run(id="r5a", created_at=T0 + timedelta(minutes=5)))
        pages = await all_pages(lambda c: store.list_runs(scope, limit=2, cursor=c, order="desc"))
        assert pages == [["r5b", "r5a"], ["r4", "r3"], ["r2", "r1"], ["r0"]]
        newest = await store.list_runs(scope, session_id="even", order="desc", limit=2)
        assert ids_of(newest) == ["r4", "r2"]
        assert newest.next_cursor is not None
        rest = await store.list_runs(
            scope, session_id="even", order="desc", limit=2, cursor=newest.next_cursor
        )
        assert ids_of(rest) == ["r0"]
        assert ids_of(await store.list_runs(scope, session_id="odd", order="asc")) == ["r1", "r3"]
        with pytest.raises(InvalidInputError):
            await store.list_runs(scope, order="sideways")  # type: ignore[arg-type]

    @pytest.mark.asyncio
    async def test_list_runs_by_parent_run(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """`parent_run_id=` lists the runs one run started (a team's members, a workflow's
        steps) in creation order, with pages, both orders, and the other filters combined.

        If this fails: filter on the stored `parent_run_id` column in the query (index
        `(tenant_id, parent_run_id, created_at, id)`), AND it with `session_id` and `status`,
        keep the scope's visibility rule, and refuse a malformed id with `InvalidInputError`.
        """
        s = conformance_scopes
        await store.save_run(s.alice, Run(id="parent", created_at=T0))
        children = [("c3", 3, "s1"), ("c0", 0, "s1"), ("c2", 2, None), ("c1", 1, "s1")]
        for run_id, minute, session_id in children:
            await store.save_run(
                s.alice,
                Run(
                    id=run_id,
                    parent_run_id="parent",
                    session_id=session_id,
                    status=RunStatus.FAILED if minute == 3 else RunStatus.COMPLETED,
                    created_at=T0 + timedelta(minutes=minute + 1),
                ),
            )
        # Runs of another parent, and a grandchild: not children of `parent`.
        await store.save_run(s.alice, Run(id="x", parent_run_id="other", created_at=T0))
        await store.save_run(s.alice, Run(id="g", parent_run_id="c1", created_at=T0))
        await store.save_run(s.bob, Run(id="bob-child", parent_run_id="parent", created_at=T0))
        pages = await all_pages(
            lambda c: store.list_runs(s.alice, parent_run_id="parent", limit=3, cursor=c)
        )
        assert pages == [["c0", "c1", "c2"], ["c3"]]
        newest = await store.list_runs(s.alice, parent_run_id="parent", order="desc")
        assert ids_of(newest) == ["c3", "c2", "c1", "c0"]
        assert ids_of(
            await store.list_runs(s.alice, parent_run_id="parent", status=RunStatus.FAILED)
        ) == ["c3"]
        assert ids_of(await store.list_runs(s.alice, parent_run_id="parent", session_id="s1")) == [
            "c0",
            "c1",
            "c3",
        ]
        assert ids_of(await store.list_runs(s.alice, parent_run_id="c1")) == ["g"]
        assert ids_of(await store.list_runs(s.alice, parent_run_id="nobody")) == []
        # A tenant-wide scope sees every user's children; a user scope only its own.
        assert sorted(ids_of(await store.list_runs(s.tenant, parent_run_id="parent"))) == [
            "bob-child",
            "c0",
            "c1",
            "c2",
            "c3",
        ]
        assert ids_of(await store.list_runs(s.bob, parent_run_id="parent")) == ["bob-child"]
        # Re-parenting a run moves it between listings.
        moved = await store.get_run(s.alice, "c2")
        assert moved is not None
        await store.save_run(s.alice, moved.model_copy(update={"parent_run_id": "other"}))
        assert ids_of(await store.list_runs(s.alice, parent_run_id="parent")) == ["c0", "c1", "c3"]
        assert ids_of(await store.list_runs(s.alice, parent_run_id="other")) == ["x", "c2"]

    @pytest.mark.asyncio
    async def test_list_runs_by_agent_and_top_level(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """`agent_id=` keeps one agent's (team's, workflow's) runs and `top_level=True` the runs
        nobody started; both AND with session, status and parent, in both orders, and page
        full pages that neither skip nor repeat a run.

        If this fails: filter on the stored `agent_id` column and on `parent_run_id IS NULL` in
        the query (not after reading a page), keep the scope's visibility rule, and refuse a
        malformed `agent_id` or a non-bool `top_level` with `InvalidInputError`.
        """
        s = conformance_scopes
        # minute, agent, parent, session, status
        rows = [
            (0, "a", None, "s1", RunStatus.COMPLETED),
            (1, "b", None, "s1", RunStatus.COMPLETED),
            (2, "a", "t0", "s1", RunStatus.FAILED),
            (3, "a", None, "s2", RunStatus.FAILED),
            (4, "b", "t0", None, RunStatus.COMPLETED),
            (5, "a", None, "s1", RunStatus.COMPLETED),
            (6, None, None, "s1", RunStatus.COMPLETED),
            (7, "a", None, None, RunStatus.COMPLETED),
            (8, "a", "t1", "s2", RunStatus.COMPLETED),
        ]
        for minute, agent, parent, session_id, status in reversed(rows):
            await store.save_run(
                s.alice,
                Run(
                    id=f"r{minute}",
                    agent_id=agent,
                    parent_run_id=parent,
                    session_id=session_id,
                    status=status,
                    created_at=T0 + timedelta(minutes=minute),
                ),
            )
        # Another user's and another tenant's runs of the same agent, top-level too.
        await store.save_run(s.bob, Run(id="bob-a", agent_id="a", created_at=T0))
        await store.save_run(s.other_alice, Run(id="far-a", agent_id="a", created_at=T0))

        def by_agent(**kw: Any) -> Callable[[str | None], Awaitable[Page[Run]]]:
            def fetch(cursor: str | None) -> Awaitable[Page[Run]]:
                return store.list_runs(s.alice, agent_id="a", limit=2, cursor=cursor, **kw)

            return fetch

        assert await all_pages(by_agent()) == [["r0", "r2"], ["r3", "r5"], ["r7", "r8"]]
        assert await all_pages(by_agent(order="desc")) == [["r8", "r7"], ["r5", "r3"], ["r2", "r0"]]
        top = await all_pages(lambda c: store.list_runs(s.alice, top_level=True, limit=3, cursor=c))
        assert top == [["r0", "r1", "r3"], ["r5", "r6", "r7"]]
        assert await all_pages(by_agent(top_level=True)) == [["r0", "r3"], ["r5", "r7"]]
        assert await all_pages(by_agent(top_level=True, order="desc")) == [
            ["r7", "r5"],
            ["r3", "r0"],
        ]
        assert ids_of(await store.list_runs(s.alice, agent_id="a", session_id="s1")) == [
            "r0",
            "r2",
            "r5",
        ]
        assert ids_of(
            await store.list_runs(s.alice, agent_id="a", status=RunStatus.FAILED, top_level=True)
        ) == ["r3"]
        assert ids_of(
            await store.list_runs(s.alice, top_level=True, session_id="s1", order="desc")
        ) == ["r6", "r5", "r1", "r0"]
        assert ids_of(await store.list_runs(s.alice, agent_id="b", parent_run_id="t0")) == ["r4"]
        assert ids_of(await store.list_runs(s.alice, parent_run_id="t0", top_level=True)) == []
        assert ids_of(await store.list_runs(s.alice, agent_id="nobody")) == []
        # A filter never reaches past the scope: bob's and tenant B's runs of agent `a` stay out.
        assert "bob-a" not in ids_of(await store.list_runs(s.alice, agent_id="a", limit=100))
        assert ids_of(await store.list_runs(s.bob, agent_id="a", top_level=True)) == ["bob-a"]
        assert ids_of(await store.list_runs(s.other_alice, agent_id="a")) == ["far-a"]
        assert ids_of(await store.list_runs(s.other_tenant, agent_id="b")) == []
        tenant_wide = ids_of(await store.list_runs(s.tenant, agent_id="a", top_level=True))
        assert sorted(tenant_wide) == ["bob-a", "r0", "r3", "r5", "r7"]
        # `top_level=False` (the default) is no filter.
        assert len(ids_of(await store.list_runs(s.alice, top_level=False))) == len(rows)
        with pytest.raises(InvalidInputError):
            await store.list_runs(s.alice, top_level="yes")  # type: ignore[arg-type]

    @pytest.mark.asyncio
    async def test_request_cancel(self, store: Store, conformance_scopes: StoreScopes) -> None:
        """`request_cancel` flags running and paused runs, leaves finished ones, 404s on missing.

        If this fails: set `cancel_requested` only when the status is `running` or `paused`
        and return whether you did; raise `NotFoundError` for an unknown run.
        """
        scope = conformance_scopes.alice
        await store.save_run(scope, Run(id="running", status=RunStatus.RUNNING))
        await store.save_run(scope, Run(id="paused", status=RunStatus.PAUSED))
        await store.save_run(scope, Run(id="done", status=RunStatus.COMPLETED))
        assert await store.request_cancel(scope, "running") is True
        assert await store.request_cancel(scope, "paused") is True
        assert await store.request_cancel(scope, "done") is False
        for run_id, flagged in (("running", True), ("paused", True), ("done", False)):
            got = await store.get_run(scope, run_id)
            assert got is not None
            assert got.cancel_requested is flagged, run_id
        with pytest.raises(NotFoundError):
            await store.request_cancel(scope, "missing")

    @pytest.mark.asyncio
    async def test_cancel_request_survives_a_later_save(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Once cancellation is requested, a save by the running process cannot clear it.

        If this fails: on save, store `cancel_requested = new OR stored` (e.g.
        `cancel_requested = excluded.cancel_requested OR runs.cancel_requested`).
        """
        scope = conformance_scopes.alice
        run = await store.save_run(scope, Run(id="r1"))
        assert await store.request_cancel(scope, "r1") is True
        await store.save_run(scope, run.model_copy(update={"output": "partial"}))
        got = await store.get_run(scope, "r1")
        assert got is not None
        assert got.cancel_requested is True
        assert got.output == "partial"

    @pytest.mark.asyncio
    async def test_heartbeat(self, store: Store, conformance_scopes: StoreScopes) -> None:
        """`heartbeat` sets `heartbeat_at` to now, reports cancellation, never goes backwards.

        If this fails: set `heartbeat_at` to the current time and return `cancel_requested`;
        on `save_run` keep the later of the stored and given `heartbeat_at`; raise
        `NotFoundError` for an unknown run.
        """
        scope = conformance_scopes.alice
        await store.save_run(scope, Run(id="r1"))
        before = utc_now()
        assert await store.heartbeat(scope, "r1") is False
        got = await store.get_run(scope, "r1")
        assert got is not None
        assert got.heartbeat_at is not None
        assert got.heartbeat_at >= before - timedelta(seconds=1)
        beat = got.heartbeat_at
        await store.save_run(scope, got.model_copy(update={"heartbeat_at": T0}))
        again = await store.get_run(scope, "r1")
        assert again is not None
        assert again.heartbeat_at == beat
        await store.request_cancel(scope, "r1")
        assert await store.heartbeat(scope, "r1") is True
        with pytest.raises(NotFoundError):
            await store.heartbeat(scope, "missing")
