"""The `list_memory_users` and `list_learning_namespaces` tests of `StoreSuite`.

Who has memories, and where agents filed learnings: counts, order, paging, scope.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from covey.conformance.store.common import T0, StoreScopes, all_pages, ids_of
from covey.spec.errors import InvalidInputError
from covey.spec.store import (
    RESERVED_NAMESPACE_PREFIX,
    Learning,
    LearningNamespace,
    Memory,
    MemoryUser,
    Page,
    Store,
    UserProfile,
)


def _users(page: Page[MemoryUser]) -> list[str]:
    return ids_of(page, "user_id")


def _names(page: Page[LearningNamespace]) -> list[str]:
    return ids_of(page, "namespace")


async def _learning(store: Store, scopes: StoreScopes, user: str | None, minute: int) -> None:
    await store.add_learning(
        scopes.tenant,
        Learning(
            id=f"l-{user}-{minute}",
            namespace="ns",
            content="x",
            user_id=user,
            created_at=T0 + timedelta(minutes=minute),
        ),
    )


class DirectoryTests:
    """A part of `StoreSuite`: its tests run through `StoreSuite`, in every store's tests."""

    @pytest.mark.asyncio
    async def test_list_memory_users_order_and_paging(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Users list by their latest change, newest first (ties: user id descending), in full
        pages whose concatenation is the whole listing, each user once.

        If this fails: group memories, profiles and the users' own learnings by `user_id`, take
        the greatest of their `updated_at` (learnings: `created_at`), order by
        `(latest DESC, user_id DESC)` and page on that key (a keyset cursor), after grouping.
        """
        s = conformance_scopes
        for minute, user in enumerate(["u1", "u2", "u3", "u4", "u5"], start=1):
            await _learning(store, s, user, minute)
        await _learning(store, s, "u1", 0)  # an older learning does not move u1
        for user in ("u6", "u7"):  # the same instant: the id decides
            await _learning(store, s, user, 10)
        await _learning(store, s, None, 20)  # shared: nobody's
        expected = ["u7", "u6", "u5", "u4", "u3", "u2", "u1"]
        whole = await store.list_memory_users(s.tenant)
        assert _users(whole) == expected
        assert whole.next_cursor is None
        assert [u.updated_at for u in whole.items][2:] == [
            T0 + timedelta(minutes=m) for m in (5, 4, 3, 2, 1)
        ]
        assert all(u.memories == 0 for u in whole.items)
        pages = await all_pages(
            lambda c: store.list_memory_users(s.tenant, limit=3, cursor=c), "user_id"
        )
        assert pages == [["u7", "u6", "u5"], ["u4", "u3", "u2"], ["u1"]]
        with pytest.raises(InvalidInputError):
            await store.list_memory_users(s.tenant, limit=0)
        with pytest.raises(InvalidInputError):
            await store.list_memory_users(s.tenant, cursor="not-a-cursor")

    @pytest.mark.asyncio
    async def test_list_memory_users_counts_and_deletes(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Each user counts their memories; a profile alone lists a user with 0; deleting
        lowers the count, and a user left with nothing is no longer listed.

        If this fails: count the memories that exist now (per tenant and user), include users
        with only a profile or learnings, and compute the listing from the rows at call time.
        """
        s = conformance_scopes
        await _learning(store, s, "bob", 1)
        for i in range(3):
            await store.add_memory(s.tenant, Memory(id=f"a{i}", user_id="alice", memory="m"))
        await store.add_memory(s.tenant, Memory(id="c0", user_id="carol", memory="m"))
        await store.save_user_profile(s.tenant, UserProfile(user_id="dave", data={"x": 1}))
        listed = await store.list_memory_users(s.tenant)
        counts = {u.user_id: u.memories for u in listed.items}
        assert counts == {"alice": 3, "carol": 1, "dave": 0, "bob": 0}
        assert _users(listed)[-1] == "bob"  # a day old; the others are from now
        alice = next(u for u in listed.items if u.user_id == "alice")
        stored = await store.get_memory(s.tenant, "a2")
        assert stored is not None
        assert alice.updated_at >= stored.updated_at
        await store.delete_memory(s.tenant, "a0")
        await store.delete_memory(s.alice, "a1")
        await store.delete_memory(s.tenant, "c0")
        await store.delete_user_profile(s.tenant, "dave")
        counts = {u.user_id: u.memories for u in (await store.list_memory_users(s.tenant)).items}
        assert counts == {"alice": 1, "bob": 0}

    @pytest.mark.asyncio
    async def test_list_memory_users_skips_covey_bookkeeping(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Learnings of `covey.` namespaces (eval reports, A2A task snapshots) make nobody a
        known user, nor do they move a known user's latest change.

        If this fails: leave learnings whose namespace starts with `RESERVED_NAMESPACE_PREFIX`
        out of `list_memory_users` (the prefix includes the dot: `coveyevals` is not reserved).
        """
        s = conformance_scopes

        async def learned(user: str, namespace: str, minute: int) -> None:
            await store.add_learning(
                s.tenant,
                Learning(
                    id=f"{user}-{namespace}",
                    namespace=namespace,
                    content="x",
                    user_id=user,
                    created_at=T0 + timedelta(minutes=minute),
                ),
            )

        await learned("only-bookkeeping", f"{RESERVED_NAMESPACE_PREFIX}evals", 9)
        await learned("both", "ns", 1)
        await learned("both", f"{RESERVED_NAMESPACE_PREFIX}a2a.tasks/x", 8)
        await learned("lookalike", "coveyevals", 2)
        listed = await store.list_memory_users(s.tenant)
        assert _users(listed) == ["lookalike", "both"]
        assert listed.items[1].updated_at == T0 + timedelta(minutes=1)

    @pytest.mark.asyncio
    async def test_list_memory_users_scope(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """A user scope lists only itself, and only when it has something; another tenant
        lists none of this tenant's users, even one with the same user id.

        If this fails: filter by tenant and, for a user scope, by `user_id` in every part of the
        query, before grouping and paging.
        """
        s = conformance_scopes
        await store.add_memory(s.alice, Memory(id="m1", user_id="alice", memory="m"))
        await store.add_memory(s.tenant, Memory(id="m2", user_id="carol", memory="m"))
        await store.save_user_profile(s.tenant, UserProfile(user_id="dave"))
        await _learning(store, s, "erin", 1)
        await _learning(store, s, None, 2)
        assert [
            (u.user_id, u.memories) for u in (await store.list_memory_users(s.alice)).items
        ] == [("alice", 1)]
        empty = await store.list_memory_users(s.bob)
        assert (empty.items, empty.next_cursor) == ([], None)
        assert (await store.list_memory_users(s.other_tenant)).items == []
        assert (await store.list_memory_users(s.other_alice)).items == []
        await store.add_memory(s.other_alice, Memory(id="m1", user_id="alice", memory="m"))
        assert [
            (u.user_id, u.memories) for u in (await store.list_memory_users(s.alice)).items
        ] == [("alice", 1)]
        assert sorted(_users(await store.list_memory_users(s.tenant))) == [
            "alice",
            "carol",
            "dave",
            "erin",
        ]
        assert _users(await store.list_memory_users(s.other_tenant)) == ["alice"]

    @pytest.mark.asyncio
    async def test_list_learning_namespaces(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Namespaces list by name, each with the count and the sorted kinds of the learnings
        the scope sees (a user: its own and the shared ones), in full pages; deleting a
        namespace's last learning drops it.

        If this fails: group the learnings visible to the scope (`user_id = :user OR user_id IS
        NULL`) by namespace, before paging; page on the namespace name.
        """
        s = conformance_scopes
        rows = [
            ("n1", "rule", None),
            ("n1", "insight", "alice"),
            ("n1", "rule", "bob"),
            ("n2", "rule", "bob"),
            ("n3", "tip", "alice"),
            ("n4", "rule", None),
            ("n5", "rule", "alice"),
            ("n5", "rule", "alice"),
        ]
        for i, (namespace, kind, user) in enumerate(rows):
            await store.add_learning(
                s.tenant,
                Learning(id=f"l{i}", namespace=namespace, kind=kind, content="x", user_id=user),
            )
        every = await store.list_learning_namespaces(s.tenant)
        assert [(n.namespace, n.learnings, n.kinds) for n in every.items] == [
            ("n1", 3, ["insight", "rule"]),
            ("n2", 1, ["rule"]),
            ("n3", 1, ["tip"]),
            ("n4", 1, ["rule"]),
            ("n5", 2, ["rule"]),
        ]
        alice = await store.list_learning_namespaces(s.alice)
        assert [(n.namespace, n.learnings, n.kinds) for n in alice.items] == [
            ("n1", 2, ["insight", "rule"]),
            ("n3", 1, ["tip"]),
            ("n4", 1, ["rule"]),
            ("n5", 2, ["rule"]),
        ]
        pages = await all_pages(
            lambda c: store.list_learning_namespaces(s.alice, limit=2, cursor=c), "namespace"
        )
        assert pages == [["n1", "n3"], ["n4", "n5"]]
        assert _names(await store.list_learning_namespaces(s.bob)) == ["n1", "n2", "n4"]
        assert (await store.list_learning_namespaces(s.other_tenant)).items == []
        assert (await store.list_learning_namespaces(s.other_alice)).items == []
        await store.delete_learning(s.tenant, "l3")
        assert _names(await store.list_learning_namespaces(s.bob)) == ["n1", "n4"]
        with pytest.raises(InvalidInputError):
            await store.list_learning_namespaces(s.tenant, limit=0)
        with pytest.raises(InvalidInputError):
            await store.list_learning_namespaces(s.tenant, cursor="not-a-cursor")
