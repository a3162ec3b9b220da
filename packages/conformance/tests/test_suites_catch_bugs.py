"""Each suite fails an implementation with a typical bug: the suites test what they claim."""

from __future__ import annotations

import pytest

_PRELUDE = """
from __future__ import annotations
from typing import Any
import pytest
from covey.conformance import (
    ChatModelSuite, EmbedderSuite, StoreSuite, ToolsetSuite, VectorStoreSuite,
)
from covey.spec.store import Scope
from covey.testing import EchoChatModel, HashEmbedder, InMemoryStore, InMemoryVectorStore
from covey.spec.tools import ToolResult, ToolDefinition, Toolset
"""

CASES: dict[str, tuple[str, list[str]]] = {
    "store-leaks-sessions-to-other-users": (
        """
class Leaky(InMemoryStore):
    async def get_session(self, scope, session_id):
        for user_id in (scope.user_id, "alice", "bob", None):
            found = await super().get_session(scope.for_user(user_id), session_id)
            if found is not None:
                return found
        return None

class TestBroken(StoreSuite):
    @pytest.fixture
    def store(self):
        return Leaky()
""",
        [
            "test_isolation_sessions[bob]",
            "test_tenant_wide_scope_sees_every_user",
            "test_two_users_same_session_id_are_independent",
        ],
    ),
    "store-keys-session-ids-per-tenant-only": (
        """
from covey.spec.errors import ConflictError

class TenantKeyed(InMemoryStore):
    async def save_session(self, scope, session, *, expected_version):
        for user_id in ("alice", "bob", None):
            if user_id != scope.user_id and await super().get_session(
                scope.for_user(user_id), session.id
            ):
                raise ConflictError(f"Session id {session.id!r} is taken outside this scope")
        return await super().save_session(scope, session, expected_version=expected_version)

class TestBroken(StoreSuite):
    @pytest.fixture
    def store(self):
        return TenantKeyed()
""",
        [
            "test_isolation_sessions[bob]",
            "test_two_users_same_session_id_are_independent",
        ],
    ),
    "store-ignores-the-run-id-of-a-stale-run-claim": (
        """
class Sweeping(InMemoryStore):
    async def mark_stale_runs_interrupted(self, scope, *, older_than, run_id=None, error=None):
        return await super().mark_stale_runs_interrupted(
            scope, older_than=older_than, error=error
        )

class TestBroken(StoreSuite):
    @pytest.fixture
    def store(self):
        return Sweeping()
""",
        ["test_mark_one_stale_run_is_a_compare_and_set"],
    ),
    "store-without-optimistic-concurrency": (
        """
class Careless(InMemoryStore):
    async def save_session(self, scope, session, *, expected_version):
        return await super().save_session(scope, session, expected_version=None)

class TestBroken(StoreSuite):
    @pytest.fixture
    def store(self):
        return Careless()
""",
        [
            "test_save_session_optimistic_concurrency",
            "test_concurrent_session_saves_one_wins",
            "test_two_users_same_session_id_are_independent",
        ],
    ),
    "store-ignores-expected-run-status": (
        """
class Unchecked(InMemoryStore):
    async def save_run(self, scope, run, *, expected_status=None):
        return await super().save_run(scope, run)

class TestBroken(StoreSuite):
    @pytest.fixture
    def store(self):
        return Unchecked()
""",
        [
            "test_save_run_with_expected_status",
            "test_concurrent_claims_of_a_paused_run_one_wins",
        ],
    ),
    "store-appends-events-one-by-one": (
        """
class Piecemeal(InMemoryStore):
    async def append_events(self, scope, run_id, events):
        for event in events:
            await super().append_events(scope, run_id, [event])

class TestBroken(StoreSuite):
    @pytest.fixture
    def store(self):
        return Piecemeal()
""",
        [
            "test_duplicate_seq_rejects_the_whole_batch",
            "test_events_need_a_visible_run_and_a_valid_seq",
        ],
    ),
    "store-lists-sessions-oldest-first": (
        """
class Backwards(InMemoryStore):
    async def list_sessions(self, scope, **kwargs):
        page = await super().list_sessions(scope, **kwargs)
        page.items.reverse()
        return page

class TestBroken(StoreSuite):
    @pytest.fixture
    def store(self):
        return Backwards()
""",
        ["test_list_sessions_newest_first_with_pages", "test_list_sessions_search"],
    ),
    "store-ignores-the-parent-run-filter": (
        """
class Orphaning(InMemoryStore):
    async def list_runs(self, scope, *, parent_run_id=None, **kwargs):
        return await super().list_runs(scope, **kwargs)

class TestBroken(StoreSuite):
    @pytest.fixture
    def store(self):
        return Orphaning()
""",
        [
            "test_list_runs_by_parent_run",
            "test_list_runs_by_agent_and_top_level",
            "test_invalid_ids_are_refused[list_runs.parent_run_id]",
        ],
    ),
    "store-filters-runs-by-agent-after-paging": (
        """
class PostFilter(InMemoryStore):
    async def list_runs(self, scope, *, agent_id=None, top_level=False, **kwargs):
        page = await super().list_runs(scope, **kwargs)
        page.items[:] = [
            r for r in page.items
            if (agent_id is None or r.agent_id == agent_id)
            and not (top_level and r.parent_run_id)
        ]
        return page

class TestBroken(StoreSuite):
    @pytest.fixture
    def store(self):
        return PostFilter()
""",
        [
            "test_list_runs_by_agent_and_top_level",
            "test_invalid_ids_are_refused[list_runs.agent_id]",
        ],
    ),
    "store-search-treats-like-wildcards-as-wildcards": (
        """
import re
from covey.spec.store import Page

class Wildcards(InMemoryStore):
    async def list_sessions(self, scope, *, search=None, **kwargs):
        page = await super().list_sessions(scope, **kwargs)
        if not search or not search.strip():
            return page
        parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in search]
        pattern = re.compile("".join(parts), re.IGNORECASE)
        fields = lambda s: (s.id, s.agent_id or "", s.summary or "")
        kept = [s for s in page.items if any(pattern.search(f) for f in fields(s))]
        return Page(items=kept, next_cursor=page.next_cursor)

class TestBroken(StoreSuite):
    @pytest.fixture
    def store(self):
        return Wildcards()
""",
        ["test_list_sessions_search"],
    ),
    "store-lists-every-user-to-a-user-scope": (
        """
class Nosy(InMemoryStore):
    async def list_memory_users(self, scope, **kwargs):
        return await super().list_memory_users(Scope(scope.tenant_id), **kwargs)

class TestBroken(StoreSuite):
    @pytest.fixture
    def store(self):
        return Nosy()
""",
        ["test_list_memory_users_scope"],
    ),
    "store-pages-memory-users-before-grouping": (
        """
from covey.spec.store import MemoryUser, Page

class Ungrouped(InMemoryStore):
    # Pages the memories, then summarises each page: users split across pages, short pages,
    # and users with only a profile or learnings never listed.
    async def list_memory_users(self, scope, *, limit=50, cursor=None):
        page = await self.list_memories(scope, limit=limit, cursor=cursor)
        users = {}
        for m in page.items:
            n, at = users.get(m.user_id, (0, m.updated_at))
            users[m.user_id] = (n + 1, max(at, m.updated_at))
        rows = [MemoryUser(user_id=u, memories=n, updated_at=at) for u, (n, at) in users.items()]
        return Page(items=rows, next_cursor=page.next_cursor)

class TestBroken(StoreSuite):
    @pytest.fixture
    def store(self):
        return Ungrouped()
""",
        [
            "test_list_memory_users_order_and_paging",
            "test_list_memory_users_counts_and_deletes",
            "test_list_memory_users_scope",
            "test_list_memory_users_skips_covey_bookkeeping",
        ],
    ),
    "store-counts-covey-bookkeeping-as-users": (
        """
class Bookkeeping(InMemoryStore):
    # The reference listing, blind to Covey's own `covey.` namespaces: each A2A caller and
    # eval runner would show up as a user with nothing known about them.
    async def list_memory_users(self, scope, **kwargs):
        kept = self._learnings
        self._learnings = {
            key: r.model_copy(update={"namespace": "not-" + r.namespace}) for key, r in kept.items()
        }
        try:
            return await super().list_memory_users(scope, **kwargs)
        finally:
            self._learnings = kept

class TestBroken(StoreSuite):
    @pytest.fixture
    def store(self):
        return Bookkeeping()
""",
        ["test_list_memory_users_skips_covey_bookkeeping"],
    ),
    "store-lists-tenants-of-paused-schedules": (
        """
class Paused(InMemoryStore):
    # Forgets the `enabled` filter: a tenant whose schedules are all paused is polled forever,
    # and a store that names it would make every process read that tenant's rows for nothing.
    async def list_due_tenants(self, now, *, limit=1000):
        async with self._lock:
            tenants = {
                tenant
                for (tenant, _), r in self._schedules.items()
                if r.next_run_at is not None and r.next_run_at <= now
            }
        return sorted(tenants)[:limit]

class TestBroken(StoreSuite):
    @pytest.fixture
    def store(self):
        return Paused()
""",
        ["test_list_due_tenants"],
    ),
    "store-filters-learning-namespaces-after-paging": (
        """
from covey.spec.store import Page

class PostFilter(InMemoryStore):
    # Reuses the tenant-wide listing and drops what the user cannot see: short pages, and
    # counts that include other users' learnings.
    async def list_learning_namespaces(self, scope, *, limit=50, cursor=None):
        page = await super().list_learning_namespaces(
            Scope(scope.tenant_id), limit=limit, cursor=cursor
        )
        if scope.user_id is None:
            return page
        kept = [n for n in page.items if (await self.list_learnings(scope, n.namespace)).items]
        return Page(items=kept, next_cursor=page.next_cursor)

class TestBroken(StoreSuite):
    @pytest.fixture
    def store(self):
        return PostFilter()
""",
        ["test_list_learning_namespaces"],
    ),
    "vector-store-filters-after-k": (
        """
class PostFilter(InMemoryVectorStore):
    async def query(self, collection, query):
        from covey.spec.vectors import matches
        hits = await super().query(collection, query.model_copy(update={"filter": None}))
        if query.filter is None:
            return hits
        return [h for h in hits if matches(query.filter, h.record.metadata)]

class TestBroken(VectorStoreSuite):
    @pytest.fixture
    def vector_store(self):
        return PostFilter()
""",
        ["test_filter_applies_before_k"],
    ),
    "vector-store-scores-by-dot-product": (
        """
class Dot(InMemoryVectorStore):
    @staticmethod
    def _vector_scores(records, query):
        scored = [(r.id, sum(a * b for a, b in zip(query.vector, r.vector))) for r in records]
        scored.sort(key=lambda p: (-p[1], p[0]))
        return scored

class TestBroken(VectorStoreSuite):
    @pytest.fixture
    def vector_store(self):
        return Dot()
""",
        ["test_vector_query_orders_by_cosine"],
    ),
    "embedder-reverses-batches": (
        """
class Reversed(HashEmbedder):
    async def embed(self, texts, *, input_type="document"):
        return list(reversed(await super().embed(texts, input_type=input_type)))

class TestBroken(EmbedderSuite):
    @pytest.fixture
    def embedder(self):
        return Reversed()
""",
        [
            "test_batch_keeps_input_order",
            "test_embed_batched",
            "test_query_and_document_input_types",
            "test_similar_texts_are_closer",
        ],
    ),
    "chat-model-stream-without-final-event": (
        """
from covey.spec.models import FinalResponseEvent

class NoFinal(EchoChatModel):
    async def request_stream(self, messages, settings, params):
        async for event in super().request_stream(messages, settings, params):
            if not isinstance(event, FinalResponseEvent):
                yield event

class TestBroken(ChatModelSuite):
    @pytest.fixture
    def chat_model(self):
        return NoFinal()
""",
        ["test_stream_event_order", "test_stream_deltas_add_up_to_the_final_text"],
    ),
    "chat-model-repr-shows-key": (
        """
class Leaky(EchoChatModel):
    def __repr__(self):
        return "Leaky(api_key='sk-abcdefghijklmnopqrstuvwxyz')"

class TestBroken(ChatModelSuite):
    @pytest.fixture
    def chat_model(self):
        return Leaky()
""",
        ["test_repr_has_no_secrets"],
    ),
    "toolset-without-validation": (
        """
class Lax(Toolset):
    async def list_tools(self, ctx):
        schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
        return [ToolDefinition(name="echo", parameters_json_schema=schema)]

    async def call_tool(self, name, args, ctx):
        return ToolResult(content=args)

class TestBroken(ToolsetSuite):
    @pytest.fixture
    def toolset(self):
        return Lax()
""",
        ["test_unknown_tool", "test_invalid_arguments"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_suite_fails_a_broken_implementation(pytester: pytest.Pytester, case: str) -> None:
    source, expected = CASES[case]
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_broken=_PRELUDE + source)
    reprec = pytester.inline_run("-p", "no:cacheprovider")
    failed = sorted(r.nodeid.split("::")[-1] for r in reprec.getfailures() if r.when == "call")
    assert failed == sorted(expected)
