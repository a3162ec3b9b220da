"""Sessions namespaced per user, and `list_runs` in both orders."""

from __future__ import annotations

from datetime import timedelta

import pytest

from covey.db.memory import MemoryStore
from covey.spec.errors import InvalidInputError, NotFoundError
from covey.spec.store import Run, Scope, Session, utc_now

TENANT = Scope("t")
ALICE = Scope("t", "alice")
BOB = Scope("t", "bob")


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


async def test_user_sessions_are_namespaced(store: MemoryStore) -> None:
    a = await store.save_session(ALICE, Session(id="s1", summary="alice's"), expected_version=0)
    b = await store.save_session(BOB, Session(id="s1", summary="bob's"), expected_version=0)
    n = await store.save_session(TENANT, Session(id="s1", summary="nobody's"), expected_version=0)
    assert (a.version, b.version, n.version) == (1, 1, 1)
    assert (a.user_id, b.user_id, n.user_id) == ("alice", "bob", None)
    assert await store.get_session(ALICE, "s1") == a
    assert await store.get_session(BOB, "s1") == b
    # A tenant-wide scope reaches the no-user namespace only...
    assert await store.get_session(TENANT, "s1") == n
    # ...but lists every user's sessions of the tenant.
    listed = (await store.list_sessions(TENANT)).items
    assert sorted((s.user_id or "-", s.summary) for s in listed) == [
        ("-", "nobody's"),
        ("alice", "alice's"),
        ("bob", "bob's"),
    ]
    assert [s.summary for s in (await store.list_sessions(ALICE)).items] == ["alice's"]
    # An admin writes a user's session through that user's scope, never tenant-wide.
    with pytest.raises(InvalidInputError):
        await store.save_session(TENANT, Session(id="s2", user_id="bob"), expected_version=0)
    await store.save_session(TENANT.for_user("bob"), Session(id="s2"), expected_version=0)
    assert await store.get_session(BOB, "s2") is not None
    assert await store.get_session(TENANT, "s2") is None
    await store.delete_session(BOB, "s1")
    assert await store.get_session(ALICE, "s1") == a
    assert await store.get_session(TENANT, "s1") == n
    with pytest.raises(NotFoundError):
        await store.delete_session(BOB, "s1")


async def test_sessions_with_one_id_page_through_without_loss(store: MemoryStore) -> None:
    for user in ("alice", "bob", "carol", None):
        await store.save_session(Scope("t", user), Session(id="same"), expected_version=0)
    seen: list[str | None] = []
    cursor = None
    while True:
        page = await store.list_sessions(TENANT, limit=1, cursor=cursor)
        seen.extend(s.user_id for s in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen, key=str) == sorted(["alice", "bob", "carol", None], key=str)


async def test_runs_of_a_session_are_those_of_its_namespace(store: MemoryStore) -> None:
    await store.save_run(ALICE, Run(id="ra", session_id="s1"))
    await store.save_run(BOB, Run(id="rb", session_id="s1"))
    await store.save_run(TENANT, Run(id="rn", session_id="s1"))
    assert [r.id for r in (await store.list_runs(ALICE, session_id="s1")).items] == ["ra"]
    assert [r.id for r in (await store.list_runs(BOB, session_id="s1")).items] == ["rb"]
    assert [r.id for r in (await store.list_runs(TENANT, session_id="s1")).items] == ["rn"]
    assert sorted(r.id for r in (await store.list_runs(TENANT)).items) == ["ra", "rb", "rn"]
    # Deleting alice's session takes only alice's runs with it.
    await store.save_session(ALICE, Session(id="s1"), expected_version=0)
    await store.delete_session(ALICE, "s1")
    assert await store.get_run(TENANT, "ra") is None
    assert {r.id for r in (await store.list_runs(TENANT)).items} == {"rb", "rn"}


async def test_a_run_moved_to_another_session_leaves_the_old_one(store: MemoryStore) -> None:
    await store.save_run(ALICE, Run(id="r", session_id="s1"))
    await store.save_run(ALICE, Run(id="r", session_id="s2"))
    assert (await store.list_runs(ALICE, session_id="s1")).items == []
    assert [r.id for r in (await store.list_runs(ALICE, session_id="s2")).items] == ["r"]


async def test_list_runs_newest_first_with_cursors_both_ways(store: MemoryStore) -> None:
    t0 = utc_now() - timedelta(hours=1)
    for i in range(7):
        await store.save_run(
            ALICE, Run(id=f"r{i}", session_id="s", created_at=t0 + timedelta(seconds=i))
        )

    async def pages(order: str) -> list[list[str]]:
        out: list[list[str]] = []
        cursor = None
        while True:
            page = await store.list_runs(
                ALICE,
                session_id="s",
                limit=3,
                cursor=cursor,
                order=order,  # type: ignore[arg-type]
            )
            out.append([r.id for r in page.items])
            cursor = page.next_cursor
            if cursor is None:
                return out

    assert await pages("asc") == [["r0", "r1", "r2"], ["r3", "r4", "r5"], ["r6"]]
    assert await pages("desc") == [["r6", "r5", "r4"], ["r3", "r2", "r1"], ["r0"]]
    asc_cursor = (await store.list_runs(ALICE, limit=1)).next_cursor
    with pytest.raises(InvalidInputError):
        await store.list_runs(ALICE, limit=1, cursor=asc_cursor, order="desc")
    with pytest.raises(InvalidInputError):
        await store.list_runs(ALICE, order="newest")  # type: ignore[arg-type]
