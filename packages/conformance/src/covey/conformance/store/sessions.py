"""The sessions tests of `StoreSuite`.

Round trips, optimistic concurrency, listing and pages, user scoping, cascading deletes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio
import pytest

from covey.conformance.store.common import T0, StoreScopes, all_pages, ids_of, text_deltas
from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.store import (
    MAX_PAGE_SIZE,
    MAX_SEARCH_LENGTH,
    Approval,
    Memory,
    Run,
    Session,
    Store,
    UserProfile,
)


class SessionTests:
    """A part of `StoreSuite`: its tests run through `StoreSuite`, in every store's tests."""

    # --- sessions --------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_session_round_trip(self, store: Store, conformance_scopes: StoreScopes) -> None:
        """A saved session reads back equal, with version 1 and the scope's user.

        If this fails: store every field of `Session` (state and metadata as JSON, nested lists
        and floats included), return the stored row from `save_session`, and stamp the scope's
        user on a session saved with `user_id=None` under a user scope.
        """
        scope = conformance_scopes.alice
        session = Session(
            id="s1",
            agent_id="agent-1",
            state={"cart": [{"sku": "A1", "qty": 2}], "total": 12.5, "done": False, "n": None},
            summary="Talked about shoes. Ünïcode ✓",
            metadata={"source": "web", "tags": ["a", "b"]},
        )
        saved = await store.save_session(scope, session, expected_version=0)
        assert saved.id == "s1"
        assert saved.version == 1
        assert saved.user_id == "alice"
        assert saved.state == session.state
        assert saved.metadata == session.metadata
        assert saved.summary == session.summary
        assert saved.agent_id == "agent-1"
        got = await store.get_session(scope, "s1")
        assert got == saved

    @pytest.mark.asyncio
    async def test_get_missing_session_returns_none(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """`get_session` of an unknown id returns None.

        If this fails: return None instead of raising when no row matches.
        """
        assert await store.get_session(conformance_scopes.alice, "nope") is None

    @pytest.mark.asyncio
    async def test_returned_rows_are_copies(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Mutating a session passed in or handed out never changes the stored row.

        If this fails: copy data on the way in and out (serialise it, or deep-copy it).
        """
        scope = conformance_scopes.alice
        session = Session(id="s1", state={"items": [1]})
        saved = await store.save_session(scope, session, expected_version=None)
        session.state["items"].append(2)
        saved.state["items"].append(3)
        got = await store.get_session(scope, "s1")
        assert got is not None
        got.state["items"].append(4)
        again = await store.get_session(scope, "s1")
        assert again is not None
        assert again.state == {"items": [1]}

    @pytest.mark.asyncio
    async def test_save_session_optimistic_concurrency(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """`expected_version` must equal the stored version (0: must not exist), else conflict.

        If this fails: compare the stored version with `expected_version` in the same
        transaction as the write (e.g. `UPDATE ... WHERE version = :expected`), raise
        `ConflictError` when it differs, and bump the version by one on every save.
        """
        scope = conformance_scopes.alice
        v1 = await store.save_session(scope, Session(id="s1", summary="one"), expected_version=0)
        assert v1.version == 1
        v2 = await store.save_session(
            scope, v1.model_copy(update={"summary": "two"}), expected_version=1
        )
        assert v2.version == 2
        with pytest.raises(ConflictError):
            await store.save_session(
                scope, v1.model_copy(update={"summary": "stale"}), expected_version=1
            )
        with pytest.raises(ConflictError):
            await store.save_session(scope, Session(id="s1"), expected_version=0)
        with pytest.raises(ConflictError):
            await store.save_session(scope, Session(id="missing"), expected_version=3)
        assert await store.get_session(scope, "missing") is None
        got = await store.get_session(scope, "s1")
        assert got is not None
        assert (got.version, got.summary) == (2, "two")
        v3 = await store.save_session(
            scope, Session(id="s1", summary="three"), expected_version=None
        )
        assert (v3.version, v3.summary) == (3, "three")

    @pytest.mark.asyncio
    async def test_concurrent_session_saves_one_wins(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Of many concurrent saves expecting the same version, exactly one succeeds.

        If this fails: the version check and the write are not atomic. Do both in one
        statement or one transaction with a row lock.
        """
        scope = conformance_scopes.alice
        await store.save_session(scope, Session(id="s1"), expected_version=0)
        winners: list[int] = []
        conflicts: list[int] = []

        async def writer(i: int) -> None:
            try:
                await store.save_session(
                    scope, Session(id="s1", state={"writer": i}), expected_version=1
                )
                winners.append(i)
            except ConflictError:
                conflicts.append(i)

        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(writer, i)
        assert len(winners) == 1
        assert len(conflicts) == 9
        got = await store.get_session(scope, "s1")
        assert got is not None
        assert got.version == 2
        assert got.state == {"writer": winners[0]}

    @pytest.mark.asyncio
    async def test_save_session_keeps_created_at_and_sets_updated_at(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """`created_at` is kept from the first save; `updated_at` moves on every save.

        If this fails: never overwrite `created_at` on update, and set `updated_at` to the
        current time on each save (ignoring the value the caller passed).
        """
        scope = conformance_scopes.alice
        first = await store.save_session(
            scope, Session(id="s1", created_at=T0, updated_at=T0), expected_version=0
        )
        assert first.created_at == T0
        assert first.updated_at > T0
        await anyio.sleep(0.01)
        second = await store.save_session(
            scope,
            Session(id="s1", created_at=T0 + timedelta(days=5), updated_at=T0),
            expected_version=1,
        )
        assert second.created_at == T0
        assert second.updated_at > first.updated_at
        assert second.updated_at.utcoffset() == timedelta(0)

    @pytest.mark.asyncio
    async def test_list_sessions_newest_first_with_pages(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Sessions list by `updated_at` descending (ties: id descending), page by page.

        If this fails: order by `(updated_at DESC, id DESC)` and make `next_cursor` encode the
        last row's sort key (keyset pagination); return `next_cursor=None` on the last page.
        """
        scope = conformance_scopes.alice
        for i in range(1, 6):
            await store.save_session(scope, Session(id=f"s{i}"), expected_version=0)
        pages = await all_pages(lambda c: store.list_sessions(scope, limit=2, cursor=c))
        assert pages == [["s5", "s4"], ["s3", "s2"], ["s1"]]
        await anyio.sleep(0.01)
        await store.save_session(scope, Session(id="s2", summary="new"), expected_version=1)
        page = await store.list_sessions(scope, limit=MAX_PAGE_SIZE)
        assert ids_of(page) == ["s2", "s5", "s4", "s3", "s1"]
        assert page.next_cursor is None

    @pytest.mark.asyncio
    async def test_list_sessions_filters_by_agent(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """`list_sessions(agent_id=...)` returns only that agent's sessions.

        If this fails: add `agent_id = :agent_id` to the query when it is given.
        """
        scope = conformance_scopes.alice
        await store.save_session(scope, Session(id="a1", agent_id="a"), expected_version=0)
        await store.save_session(scope, Session(id="b1", agent_id="b"), expected_version=0)
        await store.save_session(scope, Session(id="a2", agent_id="a"), expected_version=0)
        assert sorted(ids_of(await store.list_sessions(scope, agent_id="a"))) == ["a1", "a2"]
        assert ids_of(await store.list_sessions(scope, agent_id="b")) == ["b1"]
        assert ids_of(await store.list_sessions(scope, agent_id="c")) == []

    @pytest.mark.asyncio
    async def test_list_sessions_search(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """`search=` keeps sessions whose id, agent id or summary contains the text in any case;
        `%`, `_` and `\\` are plain characters; pages stay full and never skip or repeat.

        If this fails: match `lower(column) LIKE lower(:pattern) ESCAPE '\\'` (or `ILIKE`) on
        `id`, `agent_id` and `summary` with `%`, `_` and `\\` escaped in the text, validate it
        with `covey.spec.store.check_search`, and keep the scope's visibility rule.
        """
        s = conformance_scopes
        sessions = [
            Session(id="Refund-1", agent_id="support", summary="order 7"),
            Session(id="s-2", agent_id="SALES", summary="A REFUND asked twice"),
            Session(id="s-3", agent_id="refunds-bot", summary=None),
            Session(id="s-4", agent_id=None, summary="nothing to see"),
            Session(id="s-5", agent_id="support", summary="50% off, user_name a\\b"),
            Session(id="s-6", agent_id="support", summary="50 percent, username ab"),
        ]
        for session in sessions:
            await store.save_session(s.alice, session, expected_version=0)
            await anyio.sleep(0.002)  # distinct updated_at: a known newest-first order
        await store.save_session(s.bob, Session(id="bob-refund"), expected_version=0)
        await store.save_session(s.other_alice, Session(id="far-refund"), expected_version=0)

        async def found(text: str | None, **kw: Any) -> list[str]:
            return ids_of(await store.list_sessions(s.alice, search=text, limit=100, **kw))

        assert await found("refund") == ["s-3", "s-2", "Refund-1"]
        assert await found("REFUND") == ["s-3", "s-2", "Refund-1"]
        assert await found("sales") == ["s-2"]
        assert await found("Order 7") == ["Refund-1"]
        assert await found("refund", agent_id="support") == ["Refund-1"]
        # LIKE's wildcards and escape are plain characters.
        assert await found("%") == ["s-5"]
        assert await found("50%") == ["s-5"]
        assert await found("_") == ["s-5"]
        assert await found("user_name") == ["s-5"]
        assert await found("\\") == ["s-5"]
        assert await found("a\\b") == ["s-5"]
        assert await found("%%") == []
        assert await found("nothing matches this") == []
        # Blank is no filter.
        every = ["s-6", "s-5", "s-4", "s-3", "s-2", "Refund-1"]
        assert await found(None) == every
        assert await found("") == every
        assert await found("   ") == every
        pages = await all_pages(
            lambda c: store.list_sessions(s.alice, search="s-", limit=2, cursor=c)
        )
        assert pages == [["s-6", "s-5"], ["s-4", "s-3"], ["s-2"]]
        # A search never reaches past the scope.
        assert ids_of(await store.list_sessions(s.bob, search="refund")) == ["bob-refund"]
        assert ids_of(await store.list_sessions(s.other_alice, search="refund")) == ["far-refund"]
        assert ids_of(await store.list_sessions(s.other_tenant, search="refund")) == ["far-refund"]
        assert sorted(ids_of(await store.list_sessions(s.tenant, search="REFUND"))) == [
            "Refund-1",
            "bob-refund",
            "s-2",
            "s-3",
        ]
        assert await found("x" * MAX_SEARCH_LENGTH) == []
        for bad in ("x" * (MAX_SEARCH_LENGTH + 1), "a\x00b", 7):
            with pytest.raises(InvalidInputError):
                await store.list_sessions(s.alice, search=bad)  # type: ignore[arg-type]

    @pytest.mark.asyncio
    async def test_list_rejects_bad_limit_and_cursor(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """A limit outside 1..MAX_PAGE_SIZE, or a cursor the store did not issue, is refused.

        If this fails: call `covey.spec.store.check_limit(limit)`, and raise
        `InvalidInputError` when a cursor cannot be decoded.
        """
        scope = conformance_scopes.alice
        for limit in (0, -1, MAX_PAGE_SIZE + 1):
            with pytest.raises(InvalidInputError):
                await store.list_sessions(scope, limit=limit)
            with pytest.raises(InvalidInputError):
                await store.list_runs(scope, limit=limit)
            with pytest.raises(InvalidInputError):
                await store.list_memories(scope, limit=limit)
        with pytest.raises(InvalidInputError):
            await store.list_sessions(scope, cursor="this is not a cursor")
        with pytest.raises(InvalidInputError):
            await store.list_runs(scope, cursor="%%%")

    @pytest.mark.asyncio
    async def test_tenant_wide_scope_sees_every_user(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """A tenant-wide scope lists every user's sessions of its tenant; a user scope its own.

        If this fails: filter by `user_id` only when the scope has one.
        """
        s = conformance_scopes
        await store.save_session(s.alice, Session(id="sa"), expected_version=0)
        await store.save_session(s.bob, Session(id="sb"), expected_version=0)
        await store.save_session(s.tenant, Session(id="sn"), expected_version=0)
        assert sorted(ids_of(await store.list_sessions(s.tenant))) == ["sa", "sb", "sn"]
        assert ids_of(await store.list_sessions(s.alice)) == ["sa"]
        assert ids_of(await store.list_sessions(s.bob)) == ["sb"]
        assert ids_of(await store.list_sessions(s.other_tenant)) == []
        # Reading one user's session by id takes that user's scope: tenant-wide is the
        # no-user namespace.
        assert await store.get_session(s.tenant, "sb") is None
        got = await store.get_session(s.tenant.for_user("bob"), "sb")
        assert got is not None
        assert got.user_id == "bob"
        sn = await store.get_session(s.tenant, "sn")
        assert sn is not None
        assert sn.user_id is None
        with pytest.raises(InvalidInputError):
            await store.save_session(s.tenant, Session(id="sx", user_id="bob"), expected_version=0)

    @pytest.mark.asyncio
    async def test_two_users_same_session_id_are_independent(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Two users of one tenant using one session id get two sessions; neither sees the other.

        If this fails: key sessions by `(tenant_id, user_id, id)` (`user_id=None` is a namespace
        of its own), so a save never conflicts with another user's session; filter
        `list_runs(session_id=...)` and `delete_session` by the scope's user too.
        """
        s = conformance_scopes
        a = await store.save_session(
            s.alice, Session(id="shared", state={"who": "alice"}), expected_version=0
        )
        b = await store.save_session(
            s.bob, Session(id="shared", state={"who": "bob"}), expected_version=0
        )
        n = await store.save_session(
            s.tenant, Session(id="shared", state={"who": "nobody"}), expected_version=0
        )
        assert (a.version, b.version, n.version) == (1, 1, 1)
        for scope, who in ((s.alice, "alice"), (s.bob, "bob"), (s.tenant, "nobody")):
            got = await store.get_session(scope, "shared")
            assert got is not None
            assert got.state == {"who": who}
        # Optimistic concurrency counts per namespace.
        await store.save_session(s.bob, b, expected_version=1)
        with pytest.raises(ConflictError):
            await store.save_session(s.alice, a, expected_version=2)
        await store.save_session(s.alice, a, expected_version=1)
        # Their runs: each lists its own.
        await store.save_run(s.alice, Run(id="ra", session_id="shared"))
        await store.save_run(s.bob, Run(id="rb", session_id="shared"))
        await store.save_run(s.tenant, Run(id="rn", session_id="shared"))
        assert ids_of(await store.list_runs(s.alice, session_id="shared")) == ["ra"]
        assert ids_of(await store.list_runs(s.bob, session_id="shared")) == ["rb"]
        assert ids_of(await store.list_runs(s.tenant, session_id="shared")) == ["rn"]
        assert sorted(ids_of(await store.list_runs(s.tenant))) == ["ra", "rb", "rn"]
        listed = (await store.list_sessions(s.tenant)).items
        assert sorted((x.id, x.user_id or "") for x in listed) == [
            ("shared", ""),
            ("shared", "alice"),
            ("shared", "bob"),
        ]
        pages = await all_pages(lambda c: store.list_sessions(s.tenant, limit=1, cursor=c))
        assert [len(p) for p in pages] == [1, 1, 1]
        # Deleting bob's takes bob's runs only.
        await store.delete_session(s.bob, "shared")
        assert await store.get_session(s.bob, "shared") is None
        assert await store.get_run(s.tenant, "rb") is None
        assert await store.get_session(s.alice, "shared") is not None
        assert await store.get_run(s.alice, "ra") is not None
        assert await store.get_run(s.tenant, "rn") is not None
        with pytest.raises(NotFoundError):
            await store.delete_session(s.bob, "shared")
        await store.delete_session(s.tenant, "shared")
        assert await store.get_run(s.tenant, "rn") is None
        assert await store.get_run(s.alice, "ra") is not None

    @pytest.mark.asyncio
    async def test_user_scope_cannot_write_for_another_user(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Under a user scope, a row carrying another user's id is refused.

        If this fails: raise `InvalidInputError` when a user scope writes a row whose
        `user_id` is set and differs from the scope's.
        """
        s = conformance_scopes
        with pytest.raises(InvalidInputError):
            await store.save_session(s.alice, Session(id="x", user_id="bob"), expected_version=0)
        with pytest.raises(InvalidInputError):
            await store.save_run(s.alice, Run(id="r", user_id="bob"))
        with pytest.raises(InvalidInputError):
            await store.add_memory(s.alice, Memory(user_id="bob", memory="m"))
        with pytest.raises(InvalidInputError):
            await store.save_user_profile(s.alice, UserProfile(user_id="bob"))
        assert await store.get_session(s.tenant, "x") is None
        assert await store.get_run(s.tenant, "r") is None

    @pytest.mark.asyncio
    async def test_delete_session_cascades_to_runs_events_and_approvals(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Deleting a session deletes its runs, their events and approvals; nothing else.

        If this fails: delete runs with that `session_id` (in the tenant), their event-log
        rows and approvals, in the same transaction as the session (or use ON DELETE CASCADE).
        """
        scope = conformance_scopes.alice
        await store.save_session(scope, Session(id="s1"), expected_version=0)
        await store.save_session(scope, Session(id="s2"), expected_version=0)
        for run_id, session_id in (("r1", "s1"), ("r2", "s1"), ("r3", "s2")):
            await store.save_run(scope, Run(id=run_id, session_id=session_id))
            await store.append_events(scope, run_id, text_deltas(run_id, [1, 2]))
            await store.save_approval(
                scope, Approval(id=f"ap-{run_id}", run_id=run_id, tool_call_id="c", tool_name="t")
            )
        await store.delete_session(scope, "s1")
        assert await store.get_session(scope, "s1") is None
        assert await store.get_run(scope, "r1") is None
        assert await store.get_run(scope, "r2") is None
        assert await store.get_approval(scope, "ap-r1") is None
        assert ids_of(await store.list_runs(scope)) == ["r3"]
        assert len(await store.list_events(scope, "r3")) == 2
        assert await store.get_approval(scope, "ap-r3") is not None
        # A new run under an old id starts with an empty log: the events are really gone.
        await store.save_run(scope, Run(id="r1"))
        assert await store.list_events(scope, "r1") == []
        with pytest.raises(NotFoundError):
            await store.delete_session(scope, "s1")
