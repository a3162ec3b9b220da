"""`StoreSuite`: what every `covey.spec.store.Store` implementation must do.

Subclass it in your plugin's tests and supply one fixture, `store`, returning a ready store::

    class TestSQLiteStore(StoreSuite):
        @pytest.fixture
        async def store(self, tmp_path):
            async with SQLStore(f"sqlite+aiosqlite:///{tmp_path}/covey.db") as store:
                yield store

Every test works in tenants with random names, so the store need not be empty, but it must
not be shared with tests running at the same time. Tests are marked `@pytest.mark.asyncio`; in
pytest-asyncio's strict mode declare the fixture with `@pytest_asyncio.fixture`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, cast

import anyio
import pytest

from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.events import (
    BaseEvent,
    ModelRequestCompleted,
    RequirementCreated,
    RunCompleted,
    RunStarted,
    TextDelta,
    ToolCallCompleted,
    ToolCallStarted,
)
from covey.spec.messages import (
    ImageContent,
    ModelRequest,
    ModelResponse,
    SystemPart,
    TextContent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
)
from covey.spec.runs import ErrorInfo, Requirement, RunResult, RunStatus, ToolCallRecord
from covey.spec.store import (
    MAX_ID_LENGTH,
    MAX_PAGE_SIZE,
    Approval,
    KnowledgeContent,
    Learning,
    Memory,
    Page,
    Run,
    Schedule,
    Scope,
    Session,
    Store,
    TraceSpan,
    UserProfile,
    utc_now,
)
from covey.spec.usage import Usage

__all__ = ["StoreScopes", "StoreSuite"]

_T0 = utc_now().replace(microsecond=0) - timedelta(days=1)
"""A fixed past instant; rows given explicit times are spaced from it."""


@dataclass(frozen=True, slots=True)
class StoreScopes:
    """The scopes a `StoreSuite` test uses: two users of one tenant, and a second tenant."""

    tenant: Scope
    """Tenant A, tenant-wide."""
    alice: Scope
    """Tenant A, user `alice`."""
    bob: Scope
    """Tenant A, user `bob`."""
    other_tenant: Scope
    """Tenant B, tenant-wide."""
    other_alice: Scope
    """Tenant B, a user also called `alice`."""


_INTRUDERS = ["bob", "other_tenant", "other_alice"]


def _intruder(scopes: StoreScopes, name: str) -> Scope:
    scope: Scope = getattr(scopes, name)
    return scope


def _same_tenant(scopes: StoreScopes, intruder: Scope) -> bool:
    return intruder.tenant_id == scopes.tenant.tenant_id


def _ids(page: Page[Any] | list[Any], attr: str = "id") -> list[str]:
    items = page.items if isinstance(page, Page) else page
    return [getattr(item, attr) for item in items]


async def _all_pages(fetch: Callable[[str | None], Awaitable[Page[Any]]]) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        pages.append(_ids(page))
        if page.next_cursor is None:
            return pages
        assert len(pages) < 100, "pagination never ends: next_cursor keeps coming back"
        cursor = page.next_cursor


def _rich_messages(run_id: str) -> list[ModelRequest | ModelResponse]:
    return [
        ModelRequest(
            parts=[
                SystemPart(content="Be brief."),
                UserPart(
                    content=[
                        TextContent(text="What is in this picture?"),
                        ImageContent(data=b"\x89PNG\r\n\x1a\n\x00\xff", media_type="image/png"),
                        ImageContent(url="https://example.com/cat.png", detail="low"),
                    ]
                ),
            ],
            run_id=run_id,
        ),
        ModelResponse(
            parts=[
                ThinkingPart(content="Look closely.", signature="sig-123"),
                ToolCallPart(
                    tool_name="zoom", args={"factor": 2, "area": [0, 0]}, tool_call_id="c1"
                ),
            ],
            usage=Usage(input_tokens=120, output_tokens=30, cache_read_tokens=100, requests=1),
            model_name="model-x",
            provider_name="provider-y",
            finish_reason="tool_calls",
            run_id=run_id,
        ),
        ModelRequest(
            parts=[ToolReturnPart(tool_name="zoom", content={"ok": True}, tool_call_id="c1")],
            run_id=run_id,
        ),
        ModelResponse(
            parts=[TextPart(content="A cat. 🐈", provider_details={"item_id": "msg_1"})],
            usage=Usage(input_tokens=160, output_tokens=5, requests=1),
            run_id=run_id,
        ),
    ]


def _rich_run(run_id: str, **changes: Any) -> Run:
    fields: dict[str, Any] = {
        "id": run_id,
        "session_id": "sess-1",
        "agent_id": "agent-1",
        "status": RunStatus.COMPLETED,
        "input": {"prompt": "What is in this picture?", "n": 1},
        "output": {"answer": "A cat", "confidence": 0.75, "tags": ["cat", None]},
        "usage": Usage(input_tokens=280, output_tokens=35, requests=2, tool_calls=1),
        "messages": _rich_messages(run_id),
        "tool_calls": [
            ToolCallRecord(
                tool_call_id="c1", tool_name="zoom", args={"factor": 2}, result={"ok": True}
            )
        ],
        "requirements": [
            Requirement(tool_call_id="c2", tool_name="pay", kind="approval", args={"eur": 5})
        ],
        "error": ErrorInfo(type="ModelRetry", message="try again", details={"retry": 1}),
        "started_at": _T0,
        "finished_at": _T0 + timedelta(seconds=3),
        "created_at": _T0,
        "metadata": {"trace_id": "t-1", "nested": {"a": [1, 2.5, "x"]}},
    }
    fields.update(changes)
    return Run(**fields)


def _events(run_id: str, seqs: list[int]) -> list[BaseEvent]:
    return [TextDelta(run_id=run_id, seq=s, delta=f"chunk {s} ") for s in seqs]


_BAD_IDS = ["", "x" * (MAX_ID_LENGTH + 1), "nul\x00byte", "line\nbreak", "tab\there", "del\x7f"]

_IdTaker = Callable[[Store, Scope, str], Awaitable[object]]

_ID_TAKERS: dict[str, _IdTaker] = {
    "get_session": lambda st, sc, bad: st.get_session(sc, bad),
    "save_session.id": lambda st, sc, bad: st.save_session(
        sc, Session(id=bad), expected_version=None
    ),
    "save_session.agent_id": lambda st, sc, bad: st.save_session(
        sc, Session(id="ok", agent_id=bad), expected_version=None
    ),
    "list_sessions.agent_id": lambda st, sc, bad: st.list_sessions(sc, agent_id=bad),
    "delete_session": lambda st, sc, bad: st.delete_session(sc, bad),
    "save_run.id": lambda st, sc, bad: st.save_run(sc, Run(id=bad)),
    "save_run.session_id": lambda st, sc, bad: st.save_run(sc, Run(id="ok", session_id=bad)),
    "get_run": lambda st, sc, bad: st.get_run(sc, bad),
    "list_runs.session_id": lambda st, sc, bad: st.list_runs(sc, session_id=bad),
    "list_runs.parent_run_id": lambda st, sc, bad: st.list_runs(sc, parent_run_id=bad),
    "request_cancel": lambda st, sc, bad: st.request_cancel(sc, bad),
    "heartbeat": lambda st, sc, bad: st.heartbeat(sc, bad),
    "append_events": lambda st, sc, bad: st.append_events(sc, bad, _events("r", [1])),
    "list_events": lambda st, sc, bad: st.list_events(sc, bad),
    "add_memory.id": lambda st, sc, bad: st.add_memory(sc, Memory(id=bad, user_id="u", memory="m")),
    "add_memory.user_id": lambda st, sc, bad: st.add_memory(sc, Memory(user_id=bad, memory="m")),
    "get_memory": lambda st, sc, bad: st.get_memory(sc, bad),
    "update_memory": lambda st, sc, bad: st.update_memory(
        sc, Memory(id=bad, user_id="u", memory="m")
    ),
    "delete_memory": lambda st, sc, bad: st.delete_memory(sc, bad),
    "get_user_profile": lambda st, sc, bad: st.get_user_profile(sc, bad),
    "save_user_profile": lambda st, sc, bad: st.save_user_profile(sc, UserProfile(user_id=bad)),
    "delete_user_profile": lambda st, sc, bad: st.delete_user_profile(sc, bad),
    "add_learning.id": lambda st, sc, bad: st.add_learning(
        sc, Learning(id=bad, namespace="ns", content="c")
    ),
    "add_learning.namespace": lambda st, sc, bad: st.add_learning(
        sc, Learning(namespace=bad, content="c")
    ),
    "get_learning": lambda st, sc, bad: st.get_learning(sc, bad),
    "list_learnings": lambda st, sc, bad: st.list_learnings(sc, bad),
    "delete_learning": lambda st, sc, bad: st.delete_learning(sc, bad),
    "save_knowledge_content": lambda st, sc, bad: st.save_knowledge_content(
        sc, KnowledgeContent(id=bad, name="n")
    ),
    "get_knowledge_content": lambda st, sc, bad: st.get_knowledge_content(sc, bad),
    "delete_knowledge_content": lambda st, sc, bad: st.delete_knowledge_content(sc, bad),
    "save_approval.id": lambda st, sc, bad: st.save_approval(
        sc, Approval(id=bad, run_id="r", tool_call_id="c", tool_name="t")
    ),
    "save_approval.run_id": lambda st, sc, bad: st.save_approval(
        sc, Approval(run_id=bad, tool_call_id="c", tool_name="t")
    ),
    "get_approval": lambda st, sc, bad: st.get_approval(sc, bad),
    "list_approvals.run_id": lambda st, sc, bad: st.list_approvals(sc, run_id=bad),
    "resolve_approval": lambda st, sc, bad: st.resolve_approval(sc, bad, status="approved"),
    "save_schedule": lambda st, sc, bad: st.save_schedule(
        sc, Schedule(id=bad, name="n", target_id="a", trigger="interval", spec="60")
    ),
    "get_schedule": lambda st, sc, bad: st.get_schedule(sc, bad),
    "delete_schedule": lambda st, sc, bad: st.delete_schedule(sc, bad),
    "add_spans.trace_id": lambda st, sc, bad: st.add_spans(
        sc, [TraceSpan(trace_id=bad, span_id="s", name="n", start=_T0)]
    ),
    "add_spans.span_id": lambda st, sc, bad: st.add_spans(
        sc, [TraceSpan(trace_id="t", span_id=bad, name="n", start=_T0)]
    ),
    "list_spans": lambda st, sc, bad: st.list_spans(sc, bad),
}


class StoreSuite:
    """Conformance tests for a `Store`. Supply the `store` fixture; see the module docs."""

    __covey_conformance_suite__: ClassVar[bool] = True

    @pytest.fixture
    def store(self) -> Store:
        """The store under test: override this fixture in your subclass."""
        pytest.fail(
            "StoreSuite needs a `store` fixture: define `store` in your subclass, returning (or "
            "yielding) a Store ready to use.",
            pytrace=False,
        )

    @pytest.fixture
    def conformance_scopes(self) -> StoreScopes:
        """Fresh tenants for one test, so tests never see each other's rows."""
        suffix = uuid.uuid4().hex[:12]
        a, b = f"tenant-a-{suffix}", f"tenant-b-{suffix}"
        return StoreScopes(
            tenant=Scope(a),
            alice=Scope(a, "alice"),
            bob=Scope(a, "bob"),
            other_tenant=Scope(b),
            other_alice=Scope(b, "alice"),
        )

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
            scope, Session(id="s1", created_at=_T0, updated_at=_T0), expected_version=0
        )
        assert first.created_at == _T0
        assert first.updated_at > _T0
        await anyio.sleep(0.01)
        second = await store.save_session(
            scope,
            Session(id="s1", created_at=_T0 + timedelta(days=5), updated_at=_T0),
            expected_version=1,
        )
        assert second.created_at == _T0
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
        pages = await _all_pages(lambda c: store.list_sessions(scope, limit=2, cursor=c))
        assert pages == [["s5", "s4"], ["s3", "s2"], ["s1"]]
        await anyio.sleep(0.01)
        await store.save_session(scope, Session(id="s2", summary="new"), expected_version=1)
        page = await store.list_sessions(scope, limit=MAX_PAGE_SIZE)
        assert _ids(page) == ["s2", "s5", "s4", "s3", "s1"]
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
        assert sorted(_ids(await store.list_sessions(scope, agent_id="a"))) == ["a1", "a2"]
        assert _ids(await store.list_sessions(scope, agent_id="b")) == ["b1"]
        assert _ids(await store.list_sessions(scope, agent_id="c")) == []

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
        assert sorted(_ids(await store.list_sessions(s.tenant))) == ["sa", "sb", "sn"]
        assert _ids(await store.list_sessions(s.alice)) == ["sa"]
        assert _ids(await store.list_sessions(s.bob)) == ["sb"]
        assert _ids(await store.list_sessions(s.other_tenant)) == []
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
        assert _ids(await store.list_runs(s.alice, session_id="shared")) == ["ra"]
        assert _ids(await store.list_runs(s.bob, session_id="shared")) == ["rb"]
        assert _ids(await store.list_runs(s.tenant, session_id="shared")) == ["rn"]
        assert sorted(_ids(await store.list_runs(s.tenant))) == ["ra", "rb", "rn"]
        listed = (await store.list_sessions(s.tenant)).items
        assert sorted((x.id, x.user_id or "") for x in listed) == [
            ("shared", ""),
            ("shared", "alice"),
            ("shared", "bob"),
        ]
        pages = await _all_pages(lambda c: store.list_sessions(s.tenant, limit=1, cursor=c))
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
            await store.append_events(scope, run_id, _events(run_id, [1, 2]))
            await store.save_approval(
                scope, Approval(id=f"ap-{run_id}", run_id=run_id, tool_call_id="c", tool_name="t")
            )
        await store.delete_session(scope, "s1")
        assert await store.get_session(scope, "s1") is None
        assert await store.get_run(scope, "r1") is None
        assert await store.get_run(scope, "r2") is None
        assert await store.get_approval(scope, "ap-r1") is None
        assert _ids(await store.list_runs(scope)) == ["r3"]
        assert len(await store.list_events(scope, "r3")) == 2
        assert await store.get_approval(scope, "ap-r3") is not None
        # A new run under an old id starts with an empty log: the events are really gone.
        await store.save_run(scope, Run(id="r1"))
        assert await store.list_events(scope, "r1") == []
        with pytest.raises(NotFoundError):
            await store.delete_session(scope, "s1")

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
        run = _rich_run("r1")
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
            messages=_rich_messages("r1"),
            requirements=[Requirement(tool_call_id="c9", tool_name="pay", kind="approval")],
            started_at=_T0,
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
        first = await store.save_run(scope, Run(id="r1", status=RunStatus.RUNNING, created_at=_T0))
        await anyio.sleep(0.01)
        second = await store.save_run(
            scope,
            Run(
                id="r1",
                status=RunStatus.COMPLETED,
                output="done",
                created_at=_T0 + timedelta(hours=1),
            ),
        )
        assert second.created_at == _T0
        assert second.updated_at > first.updated_at
        got = await store.get_run(scope, "r1")
        assert got is not None
        assert (got.status, got.output, got.created_at) == (RunStatus.COMPLETED, "done", _T0)
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
                    created_at=_T0 + timedelta(minutes=i),
                ),
            )
        pages = await _all_pages(lambda c: store.list_runs(scope, limit=2, cursor=c))
        assert pages == [["r0", "r1"], ["r2", "r3"], ["r4"]]
        assert _ids(await store.list_runs(scope, session_id="even")) == ["r0", "r2", "r4"]
        assert _ids(await store.list_runs(scope, status=RunStatus.FAILED)) == ["r3", "r4"]
        assert _ids(await store.list_runs(scope, session_id="odd", status=RunStatus.COMPLETED)) == [
            "r1"
        ]
        assert _ids(await store.list_runs(scope, status=RunStatus.PAUSED)) == []

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
                    created_at=_T0 + timedelta(minutes=i),
                ),
            )
        # Two runs created at the same instant: ties break by id, reversed too.
        await store.save_run(scope, Run(id="r5b", created_at=_T0 + timedelta(minutes=5)))
        await store.save_run(scope, Run(id="r5a", created_at=_T0 + timedelta(minutes=5)))
        pages = await _all_pages(lambda c: store.list_runs(scope, limit=2, cursor=c, order="desc"))
        assert pages == [["r5b", "r5a"], ["r4", "r3"], ["r2", "r1"], ["r0"]]
        newest = await store.list_runs(scope, session_id="even", order="desc", limit=2)
        assert _ids(newest) == ["r4", "r2"]
        assert newest.next_cursor is not None
        rest = await store.list_runs(
            scope, session_id="even", order="desc", limit=2, cursor=newest.next_cursor
        )
        assert _ids(rest) == ["r0"]
        assert _ids(await store.list_runs(scope, session_id="odd", order="asc")) == ["r1", "r3"]
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
        await store.save_run(s.alice, Run(id="parent", created_at=_T0))
        children = [("c3", 3, "s1"), ("c0", 0, "s1"), ("c2", 2, None), ("c1", 1, "s1")]
        for run_id, minute, session_id in children:
            await store.save_run(
                s.alice,
                Run(
                    id=run_id,
                    parent_run_id="parent",
                    session_id=session_id,
                    status=RunStatus.FAILED if minute == 3 else RunStatus.COMPLETED,
                    created_at=_T0 + timedelta(minutes=minute + 1),
                ),
            )
        # Runs of another parent, and a grandchild: not children of `parent`.
        await store.save_run(s.alice, Run(id="x", parent_run_id="other", created_at=_T0))
        await store.save_run(s.alice, Run(id="g", parent_run_id="c1", created_at=_T0))
        await store.save_run(s.bob, Run(id="bob-child", parent_run_id="parent", created_at=_T0))
        pages = await _all_pages(
            lambda c: store.list_runs(s.alice, parent_run_id="parent", limit=3, cursor=c)
        )
        assert pages == [["c0", "c1", "c2"], ["c3"]]
        newest = await store.list_runs(s.alice, parent_run_id="parent", order="desc")
        assert _ids(newest) == ["c3", "c2", "c1", "c0"]
        assert _ids(
            await store.list_runs(s.alice, parent_run_id="parent", status=RunStatus.FAILED)
        ) == ["c3"]
        assert _ids(await store.list_runs(s.alice, parent_run_id="parent", session_id="s1")) == [
            "c0",
            "c1",
            "c3",
        ]
        assert _ids(await store.list_runs(s.alice, parent_run_id="c1")) == ["g"]
        assert _ids(await store.list_runs(s.alice, parent_run_id="nobody")) == []
        # A tenant-wide scope sees every user's children; a user scope only its own.
        assert sorted(_ids(await store.list_runs(s.tenant, parent_run_id="parent"))) == [
            "bob-child",
            "c0",
            "c1",
            "c2",
            "c3",
        ]
        assert _ids(await store.list_runs(s.bob, parent_run_id="parent")) == ["bob-child"]
        # Re-parenting a run moves it between listings.
        moved = await store.get_run(s.alice, "c2")
        assert moved is not None
        await store.save_run(s.alice, moved.model_copy(update={"parent_run_id": "other"}))
        assert _ids(await store.list_runs(s.alice, parent_run_id="parent")) == ["c0", "c1", "c3"]
        assert _ids(await store.list_runs(s.alice, parent_run_id="other")) == ["x", "c2"]

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
        await store.save_run(scope, got.model_copy(update={"heartbeat_at": _T0}))
        again = await store.get_run(scope, "r1")
        assert again is not None
        assert again.heartbeat_at == beat
        await store.request_cancel(scope, "r1")
        assert await store.heartbeat(scope, "r1") is True
        with pytest.raises(NotFoundError):
            await store.heartbeat(scope, "missing")

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
            s.alice, Run(id="r1", status=RunStatus.PAUSED, heartbeat_at=beat, created_at=_T0)
        )
        assert await store.request_cancel(s.alice, "r1") is True
        claimed = await store.save_run(
            s.alice,
            paused.model_copy(
                update={"status": RunStatus.RUNNING, "output": "mine", "heartbeat_at": _T0}
            ),
            expected_status=RunStatus.PAUSED,
        )
        assert (claimed.status, claimed.output) == (RunStatus.RUNNING, "mine")
        assert claimed.cancel_requested is True
        assert claimed.heartbeat_at == beat
        assert claimed.created_at == _T0
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
            Run(id="stale-2", heartbeat_at=old, created_at=_T0 + timedelta(seconds=2)),
            Run(id="stale-1", heartbeat_at=old, created_at=_T0 + timedelta(seconds=1)),
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

    # --- run events ------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_events_round_trip_as_typed_events(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Events come back as their own classes, equal to what was appended.

        If this fails: store each event's JSON (`event.model_dump_json()`) and read it back
        with `covey.spec.events.load_event`.
        """
        scope = conformance_scopes.alice
        await store.save_run(scope, Run(id="r1"))
        result = RunResult[Any](
            run_id="r1", status=RunStatus.COMPLETED, output={"a": 1}, messages=_rich_messages("r1")
        )
        response = _rich_messages("r1")[1]
        assert isinstance(response, ModelResponse)
        events: list[BaseEvent] = [
            RunStarted(run_id="r1", seq=1, session_id="s1", input={"q": "hi"}),
            ModelRequestCompleted(
                run_id="r1",
                seq=2,
                model_name="m",
                step=1,
                response=response,
                usage=response.usage,
            ),
            ToolCallStarted(run_id="r1", seq=3, tool_call_id="c1", tool_name="zoom", args={"x": 1}),
            ToolCallCompleted(run_id="r1", seq=4, tool_call_id="c1", tool_name="zoom", result=[1]),
            RequirementCreated(
                run_id="r1",
                seq=5,
                requirement=Requirement(tool_call_id="c2", tool_name="pay", kind="approval"),
            ),
            TextDelta(run_id="r1", seq=6, delta="A cat. 🐈", parent_run_id="parent"),
            RunCompleted(run_id="r1", seq=7, result=result),
        ]
        await store.append_events(scope, "r1", events)
        got = await store.list_events(scope, "r1")
        assert [type(e) for e in got] == [type(e) for e in events]
        assert got == events

    @pytest.mark.asyncio
    async def test_events_ordered_by_seq_with_after_and_limit(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Events list by `seq` whatever the append order; `after_seq` and `limit` page them.

        If this fails: `ORDER BY seq`, filter `seq > after_seq`, and apply `limit`.
        """
        scope = conformance_scopes.alice
        await store.save_run(scope, Run(id="r1"))
        await store.append_events(scope, "r1", _events("r1", [3, 1]))
        await store.append_events(scope, "r1", _events("r1", [2, 5, 4]))
        await store.append_events(scope, "r1", [])
        assert [e.seq for e in await store.list_events(scope, "r1")] == [1, 2, 3, 4, 5]
        assert [e.seq for e in await store.list_events(scope, "r1", after_seq=2)] == [3, 4, 5]
        assert [e.seq for e in await store.list_events(scope, "r1", after_seq=1, limit=2)] == [
            2,
            3,
        ]
        assert await store.list_events(scope, "r1", after_seq=5) == []
        got = await store.list_events(scope, "r1")
        assert [e.delta for e in got if isinstance(e, TextDelta)] == [
            f"chunk {i} " for i in range(1, 6)
        ]

    @pytest.mark.asyncio
    async def test_save_run_and_events_keeps_record_and_log(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """`save_run_and_events` saves the record and appends the events, for a new run (its
        start) and for an existing one (its end); a refused batch raises like `append_events`.

        If this fails: save the run, then append the events (or the events first when the run
        exists), or do both in one transaction.
        """
        scope = conformance_scopes.alice
        await store.save_run_and_events(scope, Run(id="r0"), [])  # a new run, no events yet
        assert await store.get_run(scope, "r0") is not None
        await store.save_run_and_events(
            scope, Run(id="r1", input="hi"), [RunStarted(run_id="r1", seq=1, input="hi")]
        )
        stored = await store.get_run(scope, "r1")
        assert stored is not None
        assert stored.status is RunStatus.RUNNING
        assert stored.input == "hi"
        done = Run(id="r1", input="hi", status=RunStatus.COMPLETED, output="bye")
        await store.save_run_and_events(scope, done, _events("r1", [2, 3]))
        stored = await store.get_run(scope, "r1")
        assert stored is not None
        assert stored.status is RunStatus.COMPLETED
        assert stored.output == "bye"
        assert [e.seq for e in await store.list_events(scope, "r1")] == [1, 2, 3]
        with pytest.raises(ConflictError):
            await store.save_run_and_events(scope, done, _events("r1", [3]))
        assert [e.seq for e in await store.list_events(scope, "r1")] == [1, 2, 3]
        await store.save_run_and_events(scope, done.model_copy(update={"output": "again"}), [])
        stored = await store.get_run(scope, "r1")
        assert stored is not None
        assert stored.output == "again"

    @pytest.mark.asyncio
    async def test_duplicate_seq_rejects_the_whole_batch(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """A seq already in the log, or twice in a batch, raises `ConflictError`; none is written.

        If this fails: make `(tenant, run_id, seq)` unique and insert the batch in one
        transaction, rolling back on the violation.
        """
        scope = conformance_scopes.alice
        await store.save_run(scope, Run(id="r1"))
        await store.append_events(scope, "r1", _events("r1", [1, 2]))
        with pytest.raises(ConflictError):
            await store.append_events(scope, "r1", _events("r1", [3, 2]))
        with pytest.raises(ConflictError):
            await store.append_events(scope, "r1", _events("r1", [4, 4]))
        assert [e.seq for e in await store.list_events(scope, "r1")] == [1, 2]

    @pytest.mark.asyncio
    async def test_concurrent_appends_keep_every_event_once(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Many tasks appending distinct seqs to one run store each event once, in seq order.

        If this fails: appends from concurrent tasks must not lose, duplicate or reorder rows;
        check connection-pool use and transaction isolation.
        """
        scope = conformance_scopes.alice
        await store.save_run(scope, Run(id="r1"))
        batches = [[i] for i in range(1, 31)] + [[i, i + 1] for i in range(31, 51, 2)]

        async with anyio.create_task_group() as tg:
            for batch in reversed(batches):
                tg.start_soon(store.append_events, scope, "r1", _events("r1", batch))
        got = await store.list_events(scope, "r1")
        assert [e.seq for e in got] == list(range(1, 51))
        assert [e.delta for e in got if isinstance(e, TextDelta)] == [
            f"chunk {i} " for i in range(1, 51)
        ]

    @pytest.mark.asyncio
    async def test_concurrent_duplicate_seq_only_one_wins(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """When tasks race to append the same seq, exactly one succeeds.

        If this fails: enforce uniqueness of `(tenant, run_id, seq)` in the database, not by
        reading first and writing after.
        """
        scope = conformance_scopes.alice
        await store.save_run(scope, Run(id="r1"))
        outcomes: list[str] = []

        async def append(i: int) -> None:
            try:
                await store.append_events(
                    scope, "r1", [TextDelta(run_id="r1", seq=1, delta=f"writer {i}")]
                )
                outcomes.append("ok")
            except ConflictError:
                outcomes.append("conflict")

        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(append, i)
        assert sorted(outcomes) == ["conflict"] * 7 + ["ok"]
        assert len(await store.list_events(scope, "r1")) == 1

    @pytest.mark.asyncio
    async def test_events_need_a_visible_run_and_a_valid_seq(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Appending to an unknown run raises `NotFoundError`; seq below 1 `InvalidInputError`.

        If this fails: look the run up in the scope before appending (save the run first), and
        refuse `seq < 1`. `list_events` of an unknown run returns an empty list.
        """
        scope = conformance_scopes.alice
        with pytest.raises(NotFoundError):
            await store.append_events(scope, "missing", _events("missing", [1]))
        assert await store.list_events(scope, "missing") == []
        await store.save_run(scope, Run(id="r1"))
        for seq in (0, -3):
            with pytest.raises(InvalidInputError):
                await store.append_events(scope, "r1", _events("r1", [seq]))
        with pytest.raises(InvalidInputError):
            await store.append_events(
                scope, "r1", [*_events("r1", [1]), BaseEvent(type="made.up", run_id="r1", seq=2)]
            )
        assert await store.list_events(scope, "r1") == []

    # --- memories --------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_memory_lifecycle(self, store: Store, conformance_scopes: StoreScopes) -> None:
        """Memories are added, read, updated (keeping `created_at`) and deleted.

        If this fails: `add_memory` refuses an existing id with `ConflictError`;
        `update_memory` and `delete_memory` raise `NotFoundError` for a missing memory.
        """
        scope = conformance_scopes.alice
        added = await store.add_memory(
            scope,
            Memory(
                id="m1",
                user_id="alice",
                memory="Likes green tea",
                topics=["drinks"],
                metadata={"k": 1},
                created_at=_T0,
            ),
        )
        assert (added.memory, added.topics, added.created_at) == (
            "Likes green tea",
            ["drinks"],
            _T0,
        )
        assert await store.get_memory(scope, "m1") == added
        with pytest.raises(ConflictError):
            await store.add_memory(scope, Memory(id="m1", user_id="alice", memory="dup"))
        await anyio.sleep(0.01)
        updated = await store.update_memory(
            scope, added.model_copy(update={"memory": "Likes black tea", "created_at": utc_now()})
        )
        assert updated.memory == "Likes black tea"
        assert updated.created_at == _T0
        assert updated.updated_at > added.updated_at
        assert await store.get_memory(scope, "m1") == updated
        with pytest.raises(NotFoundError):
            await store.update_memory(scope, Memory(id="m2", user_id="alice", memory="x"))
        await store.delete_memory(scope, "m1")
        assert await store.get_memory(scope, "m1") is None
        with pytest.raises(NotFoundError):
            await store.delete_memory(scope, "m1")

    @pytest.mark.asyncio
    async def test_list_memories_by_topic_newest_first(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Memories list by `updated_at` descending, optionally by topic, page by page.

        If this fails: order by `(updated_at DESC, id DESC)`; match `topic` against the
        memory's topics list exactly.
        """
        scope = conformance_scopes.alice
        for i, topics in enumerate([["food"], ["food", "work"], ["work"], []], start=1):
            await store.add_memory(
                scope, Memory(id=f"m{i}", user_id="alice", memory=f"fact {i}", topics=topics)
            )
        pages = await _all_pages(lambda c: store.list_memories(scope, limit=3, cursor=c))
        assert pages == [["m4", "m3", "m2"], ["m1"]]
        assert _ids(await store.list_memories(scope, topic="food")) == ["m2", "m1"]
        assert _ids(await store.list_memories(scope, topic="work")) == ["m3", "m2"]
        assert _ids(await store.list_memories(scope, topic="fo")) == []

    # --- user profiles ---------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_user_profile_lifecycle(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """A profile is created, replaced, read and deleted, one per user.

        If this fails: key profiles by `(tenant, user_id)`, upsert on save, and raise
        `NotFoundError` when deleting a missing profile.
        """
        scope = conformance_scopes.alice
        assert await store.get_user_profile(scope, "alice") is None
        first = await store.save_user_profile(
            scope, UserProfile(user_id="alice", data={"name": "Alice", "langs": ["en", "fr"]})
        )
        assert await store.get_user_profile(scope, "alice") == first
        await anyio.sleep(0.01)
        second = await store.save_user_profile(
            scope, UserProfile(user_id="alice", data={"name": "Alice B."})
        )
        assert second.updated_at > first.updated_at
        got = await store.get_user_profile(scope, "alice")
        assert got is not None
        assert got.data == {"name": "Alice B."}
        await store.save_user_profile(conformance_scopes.tenant, UserProfile(user_id="bob"))
        await store.delete_user_profile(scope, "alice")
        assert await store.get_user_profile(scope, "alice") is None
        assert await store.get_user_profile(conformance_scopes.tenant, "bob") is not None
        with pytest.raises(NotFoundError):
            await store.delete_user_profile(scope, "alice")

    # --- learnings -------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_learning_lifecycle(self, store: Store, conformance_scopes: StoreScopes) -> None:
        """Learnings are added, read, listed per namespace and kind (newest first), deleted.

        If this fails: filter by namespace (and kind), order by `(created_at DESC, id DESC)`,
        refuse an existing id with `ConflictError`, and raise `NotFoundError` on deleting a
        missing learning.
        """
        scope = conformance_scopes.alice
        for i, (namespace, kind) in enumerate(
            [("ns", "rule"), ("ns", "insight"), ("other", "rule"), ("ns", "rule")], start=1
        ):
            await store.add_learning(
                scope,
                Learning(
                    id=f"l{i}",
                    namespace=namespace,
                    kind=kind,
                    content=f"learned {i}",
                    metadata={"i": i},
                    created_at=_T0 + timedelta(minutes=i),
                ),
            )
        got = await store.get_learning(scope, "l2")
        assert got is not None
        assert (got.content, got.kind, got.user_id, got.metadata) == (
            "learned 2",
            "insight",
            "alice",
            {"i": 2},
        )
        pages = await _all_pages(lambda c: store.list_learnings(scope, "ns", limit=2, cursor=c))
        assert pages == [["l4", "l2"], ["l1"]]
        assert _ids(await store.list_learnings(scope, "ns", kind="rule")) == ["l4", "l1"]
        assert _ids(await store.list_learnings(scope, "other")) == ["l3"]
        with pytest.raises(ConflictError):
            await store.add_learning(scope, Learning(id="l1", namespace="ns", content="dup"))
        await store.delete_learning(scope, "l1")
        assert await store.get_learning(scope, "l1") is None
        with pytest.raises(NotFoundError):
            await store.delete_learning(scope, "l1")

    @pytest.mark.asyncio
    async def test_shared_learnings(self, store: Store, conformance_scopes: StoreScopes) -> None:
        """A learning with `user_id=None` is read by every user, deleted only tenant-wide.

        If this fails: make user scopes match `user_id = :user OR user_id IS NULL` when reading
        learnings, but only `user_id = :user` when deleting.
        """
        s = conformance_scopes
        await store.add_learning(s.tenant, Learning(id="shared", namespace="ns", content="all"))
        await store.add_learning(s.alice, Learning(id="mine", namespace="ns", content="alice"))
        assert sorted(_ids(await store.list_learnings(s.alice, "ns"))) == ["mine", "shared"]
        assert _ids(await store.list_learnings(s.bob, "ns")) == ["shared"]
        assert await store.get_learning(s.bob, "shared") is not None
        assert await store.get_learning(s.bob, "mine") is None
        assert _ids(await store.list_learnings(s.other_tenant, "ns")) == []
        with pytest.raises(NotFoundError):
            await store.delete_learning(s.bob, "shared")
        assert await store.get_learning(s.alice, "shared") is not None
        await store.delete_learning(s.tenant, "shared")
        assert await store.get_learning(s.alice, "shared") is None

    # --- knowledge contents ----------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_knowledge_content_lifecycle(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Knowledge contents are saved (upserted), read, listed by status and deleted.

        If this fails: upsert by `(tenant, id)` keeping `created_at`, order lists by
        `(updated_at DESC, id DESC)`, and raise `NotFoundError` on deleting a missing content.
        """
        scope = conformance_scopes.alice
        first = await store.save_knowledge_content(
            scope,
            KnowledgeContent(
                id="k1",
                name="handbook.pdf",
                source="upload",
                content_type="application/pdf",
                size=1234,
                metadata={"pages": 10},
                created_at=_T0,
            ),
        )
        assert (first.status, first.user_id, first.created_at) == ("pending", "alice", _T0)
        await store.save_knowledge_content(scope, KnowledgeContent(id="k2", name="b.txt"))
        await anyio.sleep(0.01)
        done = await store.save_knowledge_content(
            scope, first.model_copy(update={"status": "completed", "created_at": utc_now()})
        )
        assert done.created_at == _T0
        assert done.updated_at > first.updated_at
        assert await store.get_knowledge_content(scope, "k1") == done
        assert _ids(await store.list_knowledge_contents(scope)) == ["k1", "k2"]
        assert _ids(await store.list_knowledge_contents(scope, status="completed")) == ["k1"]
        assert _ids(await store.list_knowledge_contents(scope, status="pending")) == ["k2"]
        pages = await _all_pages(lambda c: store.list_knowledge_contents(scope, limit=1, cursor=c))
        assert pages == [["k1"], ["k2"]]
        await store.delete_knowledge_content(scope, "k1")
        assert await store.get_knowledge_content(scope, "k1") is None
        with pytest.raises(NotFoundError):
            await store.delete_knowledge_content(scope, "k1")

    @pytest.mark.asyncio
    async def test_knowledge_contents_by_knowledge_base(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Contents belong to a knowledge base, listed by its name, with hash and chunk count.

        If this fails: store `knowledge`, `content_hash` and `chunk_count`, and filter
        `list_knowledge_contents(knowledge=...)` on the knowledge base's name.
        """
        scope = conformance_scopes.alice
        await store.save_knowledge_content(
            scope,
            KnowledgeContent(
                id="d1", knowledge="docs", name="a.md", content_hash="sha256:ab", chunk_count=7
            ),
        )
        await store.save_knowledge_content(
            scope, KnowledgeContent(id="f1", knowledge="faq", name="q.md")
        )
        await store.save_knowledge_content(scope, KnowledgeContent(id="n1", name="plain.txt"))
        got = await store.get_knowledge_content(scope, "d1")
        assert got is not None
        assert (got.knowledge, got.content_hash, got.chunk_count) == ("docs", "sha256:ab", 7)
        assert _ids(await store.list_knowledge_contents(scope, knowledge="docs")) == ["d1"]
        assert _ids(await store.list_knowledge_contents(scope, knowledge="faq")) == ["f1"]
        assert _ids(await store.list_knowledge_contents(scope, knowledge="default")) == ["n1"]
        assert _ids(await store.list_knowledge_contents(scope, knowledge="none")) == []
        with pytest.raises(InvalidInputError):
            await store.list_knowledge_contents(scope, knowledge="")
        with pytest.raises(InvalidInputError):
            await store.save_knowledge_content(
                scope, KnowledgeContent(id="bad", knowledge="a\x00b", name="x")
            )
        assert await store.get_knowledge_content(scope, "bad") is None

    @pytest.mark.asyncio
    async def test_shared_knowledge_contents(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """A content with `user_id=None` is read by every user, written only tenant-wide.

        If this fails: user scopes read `user_id = :user OR user_id IS NULL`, but write and
        delete only their own rows; a user saving a shared content's id gets `ConflictError`.
        """
        s = conformance_scopes
        await store.save_knowledge_content(s.tenant, KnowledgeContent(id="kb", name="shared"))
        await store.save_knowledge_content(s.alice, KnowledgeContent(id="ka", name="alice's"))
        assert sorted(_ids(await store.list_knowledge_contents(s.bob))) == ["kb"]
        assert sorted(_ids(await store.list_knowledge_contents(s.alice))) == ["ka", "kb"]
        with pytest.raises(ConflictError):
            await store.save_knowledge_content(s.bob, KnowledgeContent(id="kb", name="hijack"))
        with pytest.raises(NotFoundError):
            await store.delete_knowledge_content(s.bob, "kb")
        got = await store.get_knowledge_content(s.alice, "kb")
        assert got is not None
        assert (got.name, got.user_id) == ("shared", None)

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
                    created_at=_T0 + timedelta(minutes=i),
                ),
            )
        pages = await _all_pages(lambda c: store.list_approvals(scope, limit=2, cursor=c))
        assert pages == [["a1", "a2"], ["a3"]]
        assert _ids(await store.list_approvals(scope, run_id="r1")) == ["a1", "a2"]
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
        assert _ids(await store.list_approvals(scope, status="pending")) == ["a1", "a3"]
        assert _ids(await store.list_approvals(scope, status="rejected")) == ["a2"]
        assert _ids(await store.list_approvals(scope, status="pending", run_id="r2")) == ["a3"]
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
        assert _ids(await store.list_approvals(scope, run_id="r1")) == ["a1", "a2"]

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
                next_run_at=_T0,
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
        assert _ids(await store.list_schedules(scope)) == ["a-poll", "b-nightly"]
        assert _ids(await store.list_schedules(scope, enabled=True)) == ["b-nightly"]
        assert _ids(await store.list_schedules(scope, enabled=False)) == ["a-poll"]
        pages = await _all_pages(lambda c: store.list_schedules(scope, limit=1, cursor=c))
        assert pages == [["a-poll"], ["b-nightly"]]
        moved = await store.save_schedule(
            scope, nightly.model_copy(update={"last_run_at": _T0, "next_run_at": None})
        )
        assert moved.created_at == nightly.created_at
        got = await store.get_schedule(scope, "b-nightly")
        assert got is not None
        assert (got.last_run_at, got.next_run_at) == (_T0, None)
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
            first.model_copy(update={"last_run_at": _T0 + timedelta(seconds=i)}) for i in (1, 2)
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
                expected_updated_at=_T0,
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
        now = _T0 + timedelta(hours=1)

        def schedule(sid: str, next_run_at: Any, enabled: bool = True) -> Schedule:
            return Schedule(
                id=sid,
                name=sid,
                target_id="agent",
                trigger="interval",
                spec="60",
                next_run_at=next_run_at,
                enabled=enabled,
            )

        for item in (
            schedule("late", now - timedelta(minutes=1)),
            schedule("early", now - timedelta(minutes=30)),
            schedule("exactly-now", now),
            schedule("future", now + timedelta(seconds=1)),
            schedule("never", None),
            schedule("disabled", now - timedelta(hours=2), enabled=False),
        ):
            await store.save_schedule(scope, item)
        due = await store.list_due(scope, now)
        assert _ids(due) == ["early", "late", "exactly-now"]
        assert await store.list_due(conformance_scopes.other_tenant, now) == []

    # --- traces ----------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_trace_spans(self, store: Store, conformance_scopes: StoreScopes) -> None:
        """Spans are stored per trace, listed by start time, and replaced when re-sent.

        If this fails: key spans by `(tenant, trace_id, span_id)`, upsert them, and order a
        trace's spans by `(start, span_id)`.
        """
        scope = conformance_scopes.alice
        spans = [
            TraceSpan(
                trace_id="t1",
                span_id="child",
                parent_span_id="root",
                name="tool zoom",
                start=_T0 + timedelta(milliseconds=5),
                end=_T0 + timedelta(milliseconds=9),
                attributes={"tool": "zoom", "n": 2},
            ),
            TraceSpan(
                trace_id="t1",
                span_id="root",
                name="run",
                start=_T0,
                end=None,
                status="unset",
            ),
            TraceSpan(trace_id="t2", span_id="other", name="run", start=_T0),
        ]
        await store.add_spans(scope, spans)
        got = await store.list_spans(scope, "t1")
        assert _ids(got, "span_id") == ["root", "child"]
        assert got[1].attributes == {"tool": "zoom", "n": 2}
        assert got[1].parent_span_id == "root"
        assert got[0].user_id == "alice"
        await store.add_spans(
            scope,
            [spans[1].model_copy(update={"end": _T0 + timedelta(seconds=1), "status": "error"})],
        )
        root = (await store.list_spans(scope, "t1"))[0]
        assert (root.end, root.status) == (_T0 + timedelta(seconds=1), "error")
        assert len(await store.list_spans(scope, "t1")) == 2
        assert await store.list_spans(scope, "missing") == []

    # --- isolation -------------------------------------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.parametrize("intruder_name", _INTRUDERS)
    async def test_isolation_sessions(
        self, store: Store, conformance_scopes: StoreScopes, intruder_name: str
    ) -> None:
        """Another user or tenant cannot read, list, change or delete a session.

        If this fails: add `tenant_id = :tenant` (and `user_id = :user` for user scopes) to
        every session query, including the ones behind updates and deletes.
        """
        s = conformance_scopes
        intruder = _intruder(s, intruder_name)
        original = await store.save_session(
            s.alice, Session(id="s1", agent_id="a", state={"secret": 1}), expected_version=0
        )
        assert await store.get_session(intruder, "s1") is None
        assert "s1" not in _ids(await store.list_sessions(intruder))
        assert "s1" not in _ids(await store.list_sessions(intruder, agent_id="a"))
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
    @pytest.mark.parametrize("intruder_name", _INTRUDERS)
    async def test_isolation_runs_and_events(
        self, store: Store, conformance_scopes: StoreScopes, intruder_name: str
    ) -> None:
        """Another user or tenant cannot see, cancel, beat, interrupt or log to a run.

        If this fails: scope every run and run-event query by tenant (and user for user
        scopes); check the run's scope before appending or listing events.
        """
        s = conformance_scopes
        intruder = _intruder(s, intruder_name)
        old = utc_now() - timedelta(hours=1)
        await store.save_run(s.alice, Run(id="r1", session_id="s1", heartbeat_at=old))
        await store.append_events(s.alice, "r1", _events("r1", [1, 2]))
        original = await store.get_run(s.alice, "r1")
        assert await store.get_run(intruder, "r1") is None
        assert "r1" not in _ids(await store.list_runs(intruder))
        assert "r1" not in _ids(await store.list_runs(intruder, session_id="s1"))
        await store.save_run(s.alice, Run(id="r1-child", parent_run_id="r1"))
        assert _ids(await store.list_runs(intruder, parent_run_id="r1")) == []
        with pytest.raises(NotFoundError):
            await store.request_cancel(intruder, "r1")
        with pytest.raises(NotFoundError):
            await store.heartbeat(intruder, "r1")
        assert "r1" not in await store.mark_stale_runs_interrupted(
            intruder, older_than=timedelta(minutes=1)
        )
        with pytest.raises(NotFoundError):
            await store.append_events(intruder, "r1", _events("r1", [3]))
        assert await store.list_events(intruder, "r1") == []
        if _same_tenant(s, intruder):
            with pytest.raises(ConflictError):
                await store.save_run(intruder, Run(id="r1", status=RunStatus.FAILED))
        else:
            await store.save_run(intruder, Run(id="r1", status=RunStatus.FAILED))
            await store.append_events(intruder, "r1", _events("r1", [1]))
            assert len(await store.list_events(intruder, "r1")) == 1
        assert await store.get_run(s.alice, "r1") == original
        assert [e.seq for e in await store.list_events(s.alice, "r1")] == [1, 2]
        assert [e.seq for e in await store.list_events(s.tenant, "r1")] == [1, 2]

    @pytest.mark.asyncio
    @pytest.mark.parametrize("intruder_name", _INTRUDERS)
    async def test_isolation_memories_and_profiles(
        self, store: Store, conformance_scopes: StoreScopes, intruder_name: str
    ) -> None:
        """Another user or tenant cannot read, list, change or delete memories and profiles.

        If this fails: scope every memory and profile query by tenant (and user for user
        scopes), including updates and deletes.
        """
        s = conformance_scopes
        intruder = _intruder(s, intruder_name)
        memory = await store.add_memory(
            s.alice, Memory(id="m1", user_id="alice", memory="secret", topics=["t"])
        )
        profile = await store.save_user_profile(
            s.alice, UserProfile(user_id="alice", data={"secret": True})
        )
        assert await store.get_memory(intruder, "m1") is None
        assert "m1" not in _ids(await store.list_memories(intruder))
        assert "m1" not in _ids(await store.list_memories(intruder, topic="t"))
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
        if _same_tenant(s, intruder):
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
    @pytest.mark.parametrize("intruder_name", _INTRUDERS)
    async def test_isolation_learnings_and_knowledge(
        self, store: Store, conformance_scopes: StoreScopes, intruder_name: str
    ) -> None:
        """Another user or tenant cannot read, list, overwrite or delete a user's own
        learnings and knowledge contents.

        If this fails: scope learning and knowledge queries by tenant, and by user for user
        scopes (shared rows aside).
        """
        s = conformance_scopes
        intruder = _intruder(s, intruder_name)
        learning = await store.add_learning(
            s.alice, Learning(id="l1", namespace="ns", content="secret")
        )
        content = await store.save_knowledge_content(
            s.alice, KnowledgeContent(id="k1", name="secret.pdf")
        )
        assert await store.get_learning(intruder, "l1") is None
        assert "l1" not in _ids(await store.list_learnings(intruder, "ns"))
        with pytest.raises(NotFoundError):
            await store.delete_learning(intruder, "l1")
        assert await store.get_knowledge_content(intruder, "k1") is None
        assert "k1" not in _ids(await store.list_knowledge_contents(intruder))
        with pytest.raises(NotFoundError):
            await store.delete_knowledge_content(intruder, "k1")
        if _same_tenant(s, intruder):
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
    @pytest.mark.parametrize("intruder_name", _INTRUDERS)
    async def test_isolation_approvals_schedules_and_spans(
        self, store: Store, conformance_scopes: StoreScopes, intruder_name: str
    ) -> None:
        """Another user or tenant cannot read, list, resolve, change or delete approvals,
        schedules or trace spans.

        If this fails: scope approval, schedule and span queries by tenant (and user for user
        scopes), including `resolve_approval`, `list_due` and `add_spans` overwrites.
        """
        s = conformance_scopes
        intruder = _intruder(s, intruder_name)
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
                next_run_at=_T0,
            ),
        )
        span = TraceSpan(trace_id="t1", span_id="sp1", name="secret", start=_T0)
        await store.add_spans(s.alice, [span])
        assert await store.get_approval(intruder, "a1") is None
        assert "a1" not in _ids(await store.list_approvals(intruder))
        assert "a1" not in _ids(await store.list_approvals(intruder, run_id="r1"))
        with pytest.raises(NotFoundError):
            await store.resolve_approval(intruder, "a1", status="approved")
        assert await store.get_schedule(intruder, "sc1") is None
        assert "sc1" not in _ids(await store.list_schedules(intruder))
        assert "sc1" not in _ids(await store.list_due(intruder, utc_now()))
        with pytest.raises(NotFoundError):
            await store.delete_schedule(intruder, "sc1")
        assert await store.list_spans(intruder, "t1") == []
        if _same_tenant(s, intruder):
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

    # --- validation and lifecycle ----------------------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", sorted(_ID_TAKERS))
    async def test_invalid_ids_are_refused(
        self, store: Store, conformance_scopes: StoreScopes, operation: str
    ) -> None:
        """Empty, over-long, or control-character ids raise `InvalidInputError`.

        If this fails: call `covey.spec.store.check_id` on every id a method receives, before
        touching the database.
        """
        call = _ID_TAKERS[operation]
        for bad in _BAD_IDS:
            with pytest.raises(InvalidInputError):
                await call(store, conformance_scopes.tenant, bad)

    @pytest.mark.asyncio
    async def test_longest_valid_id_is_accepted(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """An id of exactly `MAX_ID_LENGTH` characters, with non-ASCII letters, works.

        If this fails: size id columns for 255 characters (not bytes) of Unicode.
        """
        scope = conformance_scopes.alice
        long_id = "é" * MAX_ID_LENGTH
        await store.save_session(scope, Session(id=long_id), expected_version=0)
        got = await store.get_session(scope, long_id)
        assert got is not None
        assert got.id == long_id

    @pytest.mark.asyncio
    async def test_close_is_idempotent_and_context_manager_works(self, store: Store) -> None:
        """`async with store` returns the store; `close` may be called twice.

        If this fails: return `self` from `__aenter__` and make `close` a no-op once closed.
        """
        async with store as entered:
            assert entered is store
        await store.close()
