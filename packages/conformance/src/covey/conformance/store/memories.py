"""The memories, user profiles and learnings tests of `StoreSuite`.

Their lifecycles, listing, shared learnings.
"""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest

from covey.conformance.store.common import T0, StoreScopes, all_pages, ids_of
from covey.spec.errors import ConflictError, NotFoundError
from covey.spec.store import Learning, Memory, Store, UserProfile, utc_now


class MemoryTests:
    """A part of `StoreSuite`: its tests run through `StoreSuite`, in every store's tests."""

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
                created_at=T0,
            ),
        )
        assert (added.memory, added.topics, added.created_at) == (
            "Likes green tea",
            ["drinks"],
            T0,
        )
        assert await store.get_memory(scope, "m1") == added
        with pytest.raises(ConflictError):
            await store.add_memory(scope, Memory(id="m1", user_id="alice", memory="dup"))
        await anyio.sleep(0.01)
        updated = await store.update_memory(
            scope, added.model_copy(update={"memory": "Likes black tea", "created_at": utc_now()})
        )
        assert updated.memory == "Likes black tea"
        assert updated.created_at == T0
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
        pages = await all_pages(lambda c: store.list_memories(scope, limit=3, cursor=c))
        assert pages == [["m4", "m3", "m2"], ["m1"]]
        assert ids_of(await store.list_memories(scope, topic="food")) == ["m2", "m1"]
        assert ids_of(await store.list_memories(scope, topic="work")) == ["m3", "m2"]
        assert ids_of(await store.list_memories(scope, topic="fo")) == []

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
                    created_at=T0 + timedelta(minutes=i),
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
        pages = await all_pages(lambda c: store.list_learnings(scope, "ns", limit=2, cursor=c))
        assert pages == [["l4", "l2"], ["l1"]]
        assert ids_of(await store.list_learnings(scope, "ns", kind="rule")) == ["l4", "l1"]
        assert ids_of(await store.list_learnings(scope, "other")) == ["l3"]
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
        assert sorted(ids_of(await store.list_learnings(s.alice, "ns"))) == ["mine", "shared"]
        assert ids_of(await store.list_learnings(s.bob, "ns")) == ["shared"]
        assert await store.get_learning(s.bob, "shared") is not None
        assert await store.get_learning(s.bob, "mine") is None
        assert ids_of(await store.list_learnings(s.other_tenant, "ns")) == []
        with pytest.raises(NotFoundError):
            await store.delete_learning(s.bob, "shared")
        assert await store.get_learning(s.alice, "shared") is not None
        await store.delete_learning(s.tenant, "shared")
        assert await store.get_learning(s.alice, "shared") is None
