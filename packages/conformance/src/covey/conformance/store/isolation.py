"""The isolation tests of `StoreSuite`.

No user or tenant reads or writes another's rows.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from covey.conformance.store.common import (
    INTRUDERS,
    T0,
    StoreScopes,
    ids_of,
    intruder_scope,
    same_tenant,
    text_deltas,
)
from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.runs import RunStatus
from covey.spec.store import (
    Approval,
    KnowledgeContent,
    Learning,
    Memory,
    Run,
    Schedule,
    Session,
    Store,
    TraceSpan,
    UserProfile,
    utc_now,
)


class IsolationTests:
    """A part of `StoreSuite`: its tests run through `StoreSuite`, in every store's tests."""

    # --- isolation -------------------------------------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.parametrize("intruder_name", INTRUDERS)
    async def test_isolation_sessions(
        self, store: Store, conformance_scopes: StoreScopes, intruder_name: str
    ) -> None:
        """Another user or tenant cannot read, list, change or delete a session.

        If this fails: add `tenant_id = :tenant` (and `user_id = :user` for user scopes) to
        every session query, including the ones behind updates and deletes.
        """
        s = conformance_scopes
        intruder = intruder_scope(s, intruder_name)
        original = await store.save_session(
            s.alice, Session(id="s1", agent_id="a", state={"secret": 1}), expected_version=0
        )
        assert await store.get_session(intruder, "s1") is None
        assert "s1" not in ids_of(await store.list_sessions(intruder))
        assert "s1" not in ids_of(await store.list_sessions(intruder, agent_id="a"))
        assert "s1" not in ids_of(await store.list_sessions(intruder, search="s1"))
        with pytest.raises(NotFoundError):
            await store.delete_session(intruder, "s1")
        # The same id is free in the intruder's own namespace: a session of its own.
        theirs = await store.save_session(
            intruder, Session(id="s1", state={"theirs": 1}), expected_version=0
        )
        assert theirs.version == 1
        assert await store.get_session(s.alice, "s1") == original
        assert await store.get_session(s.tenant.for_user("alice"), "s1") == original
        assert await store.get_session(intruder, "s1") == theirs

    @pytest.mark.asyncio
    @pytest.mark.parametrize("intruder_name", INTRUDERS)
    async def test_isolation_runs_and_events(
        self, store: Store, conformance_scopes: StoreScopes, intruder_name: str
    ) -> None:
        """Another user or tenant cannot see, cancel, beat, interrupt or log to a run.

        If this fails: scope every run and run-event query by tenant (and user for user
        scopes); check the run's scope before appending or listing events.
        """
        s = conformance_scopes
        intruder = intruder_scope(s, intruder_name)
        old = utc_now() - timedelta(hours=1)
        await store.save_run(s.alice, Run(id="r1", session_id="s1", heartbeat_at=old))
        await store.append_events(s.alice, "r1", text_deltas("r1", [1, 2]))
        original = await store.get_run(s.alice, "r1")
        assert await store.get_run(intruder, "r1") is None
        assert "r1" not in ids_of(await store.list_runs(intruder))
        assert "r1" not in ids_of(await store.list_runs(intruder, session_id="s1"))
        await store.save_run(s.alice, Run(id="r1-child", parent_run_id="r1"))
        assert ids_of(await store.list_runs(intruder, parent_run_id="r1")) == []
        await store.save_run(s.alice, Run(id="r1-agent", agent_id="agent-a"))
        assert ids_of(await store.list_runs(intruder, agent_id="agent-a")) == []
        assert ids_of(await store.list_runs(intruder, agent_id="agent-a", top_level=True)) == []
        with pytest.raises(NotFoundError):
            await store.request_cancel(intruder, "r1")
        with pytest.raises(NotFoundError):
            await store.heartbeat(intruder, "r1")
        assert "r1" not in await store.mark_stale_runs_interrupted(
            intruder, older_than=timedelta(minutes=1)
        )
        with pytest.raises(NotFoundError):
            await store.append_events(intruder, "r1", text_deltas("r1", [3]))
        assert await store.list_events(intruder, "r1") == []
        if same_tenant(s, intruder):
            with pytest.raises(ConflictError):
                await store.save_run(intruder, Run(id="r1", status=RunStatus.FAILED))
        else:
            await store.save_run(intruder, Run(id="r1", status=RunStatus.FAILED))
            await store.append_events(intruder, "r1", text_deltas("r1", [1]))
            assert len(await store.list_events(intruder, "r1")) == 1
        assert await store.get_run(s.alice, "r1") == original
        assert [e.seq for e in await store.list_events(s.alice, "r1")] == [1, 2]
        assert [e.seq for e in await store.list_events(s.tenant, "r1")] == [1, 2]

    @pytest.mark.asyncio
    @pytest.mark.parametrize("intruder_name", INTRUDERS)
    async def test_isolation_memories_and_profiles(
        self, store: Store, conformance_scopes: StoreScopes, intruder_name: str
    ) -> None:
        """Another user or tenant cannot read, list, change or delete memories and profiles.

        If this fails: scope every memory and profile query by tenant (and user for user
        scopes), including updates and deletes.
        """
        s = conformance_scopes
        intruder = intruder_scope(s, intruder_name)
        memory = await store.add_memory(
            s.alice, Memory(id="m1", user_id="alice", memory="secret", topics=["t"])
        )
        profile = await store.save_user_profile(
            s.alice, UserProfile(user_id="alice", data={"secret": True})
        )
        assert await store.get_memory(intruder, "m1") is None
        assert "m1" not in ids_of(await store.list_memories(intruder))
        assert "m1" not in ids_of(await store.list_memories(intruder, topic="t"))
        intruder_user = intruder.user_id or "alice"
        with pytest.raises(NotFoundError):
            await store.update_memory(
                intruder, Memory(id="m1", user_id=intruder_user, memory="changed")
            )
        with pytest.raises(NotFoundError):
            await store.delete_memory(intruder, "m1")
        assert await store.get_user_profile(intruder, "alice") is None
        with pytest.raises(NotFoundError):
            await store.delete_user_profile(intruder, "alice")
        if same_tenant(s, intruder):
            with pytest.raises(ConflictError):
                await store.add_memory(intruder, Memory(id="m1", user_id="bob", memory="x"))
            with pytest.raises(InvalidInputError):
                await store.save_user_profile(intruder, UserProfile(user_id="alice"))
        else:
            await store.add_memory(intruder, Memory(id="m1", user_id="alice", memory="theirs"))
            await store.save_user_profile(intruder, UserProfile(user_id="alice", data={"t": 1}))
        assert await store.get_memory(s.alice, "m1") == memory
        assert await store.get_user_profile(s.alice, "alice") == profile
        assert await store.get_user_profile(s.tenant, "alice") == profile

    @pytest.mark.asyncio
    @pytest.mark.parametrize("intruder_name", INTRUDERS)
    async def test_isolation_learnings_and_knowledge(
        self, store: Store, conformance_scopes: StoreScopes, intruder_name: str
    ) -> None:
        """Another user or tenant cannot read, list, overwrite or delete a user's own
        learnings and knowledge contents.

        If this fails: scope learning and knowledge queries by tenant, and by user for user
        scopes (shared rows aside).
        """
        s = conformance_scopes
        intruder = intruder_scope(s, intruder_name)
        learning = await store.add_learning(
            s.alice, Learning(id="l1", namespace="ns", content="secret")
        )
        content = await store.save_knowledge_content(
            s.alice, KnowledgeContent(id="k1", name="secret.pdf")
        )
        assert await store.get_learning(intruder, "l1") is None
        assert "l1" not in ids_of(await store.list_learnings(intruder, "ns"))
        with pytest.raises(NotFoundError):
            await store.delete_learning(intruder, "l1")
        assert await store.get_knowledge_content(intruder, "k1") is None
        assert "k1" not in ids_of(await store.list_knowledge_contents(intruder))
        with pytest.raises(NotFoundError):
            await store.delete_knowledge_content(intruder, "k1")
        if same_tenant(s, intruder):
            with pytest.raises(ConflictError):
                await store.add_learning(intruder, Learning(id="l1", namespace="ns", content="x"))
            with pytest.raises(ConflictError):
                await store.save_knowledge_content(intruder, KnowledgeContent(id="k1", name="x"))
        else:
            await store.add_learning(intruder, Learning(id="l1", namespace="ns", content="x"))
            await store.save_knowledge_content(intruder, KnowledgeContent(id="k1", name="x"))
        assert await store.get_learning(s.alice, "l1") == learning
        assert await store.get_knowledge_content(s.alice, "k1") == content
        assert await store.get_knowledge_content(s.tenant, "k1") == content

    @pytest.mark.asyncio
    @pytest.mark.parametrize("intruder_name", INTRUDERS)
    async def test_isolation_approvals_schedules_and_spans(
        self, store: Store, conformance_scopes: StoreScopes, intruder_name: str
    ) -> None:
        """Another user or tenant cannot read, list, resolve, change or delete approvals,
        schedules or trace spans.

        If this fails: scope approval, schedule and span queries by tenant (and user for user
        scopes), including `resolve_approval`, `list_due` and `add_spans` overwrites.
        """
        s = conformance_scopes
        intruder = intruder_scope(s, intruder_name)
        approval = await store.save_approval(
            s.alice, Approval(id="a1", run_id="r1", tool_call_id="c1", tool_name="pay")
        )
        schedule = await store.save_schedule(
            s.alice,
            Schedule(
                id="sc1",
                name="n",
                target_id="agent",
                trigger="interval",
                spec="60",
                next_run_at=T0,
            ),
        )
        span = TraceSpan(trace_id="t1", span_id="sp1", name="secret", start=T0)
        await store.add_spans(s.alice, [span])
        assert await store.get_approval(intruder, "a1") is None
        assert "a1" not in ids_of(await store.list_approvals(intruder))
        assert "a1" not in ids_of(await store.list_approvals(intruder, run_id="r1"))
        with pytest.raises(NotFoundError):
            await store.resolve_approval(intruder, "a1", status="approved")
        assert await store.get_schedule(intruder, "sc1") is None
        assert "sc1" not in ids_of(await store.list_schedules(intruder))
        assert "sc1" not in ids_of(await store.list_due(intruder, utc_now()))
        with pytest.raises(NotFoundError):
            await store.delete_schedule(intruder, "sc1")
        assert await store.list_spans(intruder, "t1") == []
        if same_tenant(s, intruder):
            with pytest.raises(ConflictError):
                await store.save_approval(
                    intruder, Approval(id="a1", run_id="r1", tool_call_id="c1", tool_name="x")
                )
            with pytest.raises(ConflictError):
                await store.save_schedule(intruder, schedule.model_copy(update={"user_id": None}))
            with pytest.raises(ConflictError):
                await store.add_spans(intruder, [span.model_copy(update={"name": "hijack"})])
        else:
            await store.save_approval(
                intruder, Approval(id="a1", run_id="r1", tool_call_id="c1", tool_name="x")
            )
            await store.save_schedule(intruder, schedule.model_copy(update={"user_id": None}))
            await store.add_spans(intruder, [span.model_copy(update={"name": "theirs"})])
        assert await store.get_approval(s.alice, "a1") == approval
        assert await store.get_schedule(s.alice, "sc1") == schedule
        [mine] = await store.list_spans(s.alice, "t1")
        assert mine.name == "secret"
        assert [x.name for x in await store.list_spans(s.tenant, "t1")] == ["secret"]

    @pytest.mark.asyncio
    async def test_same_ids_in_two_tenants_are_independent(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Two tenants can use the same ids; each sees only its own row.

        If this fails: make the tenant part of every primary key (`(tenant_id, id)`).
        """
        s = conformance_scopes
        await store.save_session(s.tenant, Session(id="same", summary="A"), expected_version=0)
        await store.save_session(
            s.other_tenant, Session(id="same", summary="B"), expected_version=0
        )
        a = await store.get_session(s.tenant, "same")
        b = await store.get_session(s.other_tenant, "same")
        assert a is not None
        assert b is not None
        assert (a.summary, b.summary) == ("A", "B")
        await store.delete_session(s.other_tenant, "same")
        assert await store.get_session(s.tenant, "same") is not None
