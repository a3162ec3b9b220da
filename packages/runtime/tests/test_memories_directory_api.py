"""`GET /v1/memories/users` and `GET /v1/learnings/namespaces` over real HTTP, with JWTs of two
tenants and several users, on the in-process store and on SQLite files: an admin discovers the
tenant's users and namespaces, anyone else only their own, and Covey's `covey.` namespaces are
never listed."""

from __future__ import annotations

from typing import Any

import httpx
from test_memories_api import (
    ADMIN,
    ADMIN_GLOBEX,
    ALICE,
    ALICE_GLOBEX,
    BOB,
    Backend,
    backend,  # noqa: F401 - the fixture, shared with the neighbouring routes' tests
    problem,
    who,
)

from covey.spec.store import Learning, Scope, Store, UserProfile

USERS = "/v1/memories/users"
NAMESPACES = "/v1/learnings/namespaces"


def listed(api: httpx.Client, path: str, headers: dict[str, str], **params: Any) -> list[Any]:
    response = api.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def every_page(api: httpx.Client, path: str, headers: dict[str, str], limit: int) -> list[Any]:
    pages: list[list[Any]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        body = api.get(path, params=params, headers=headers).json()
        pages.append(body["items"])
        if body["next_cursor"] is None:
            break
        assert len(pages) < 50
        params["cursor"] = body["next_cursor"]
    assert all(len(page) == limit for page in pages[:-1]), pages  # full pages
    return pages


def test_an_admin_discovers_the_tenants_users_and_a_user_only_themselves(
    backend: Backend,  # noqa: F811
) -> None:
    api = backend.client
    for text in ("likes tea", "lives in Lyon"):
        assert api.post("/v1/memories", json={"memory": text}, headers=ALICE).status_code == 201
    assert api.post("/v1/memories", json={"memory": "x"}, headers=ALICE_GLOBEX).status_code == 201

    async def seed(store: Store) -> None:
        acme = Scope("acme")
        await store.save_user_profile(acme, UserProfile(user_id="bob", data={"lang": "fr"}))
        await store.add_learning(acme, Learning(namespace="support", content="c", user_id="carol"))
        await store.add_learning(acme, Learning(namespace="faq", content="shared"))

    backend.with_store(seed)
    users = listed(api, USERS, ADMIN)
    assert {u["user_id"]: u["memories"] for u in users} == {"alice": 2, "bob": 0, "carol": 0}
    times = [u["updated_at"] for u in users]
    assert times == sorted(times, reverse=True)  # the most recently changed first
    assert [u["user_id"] for u in listed(api, USERS, ALICE)] == ["alice"]
    # Naming someone else (a parameter the route does not take) widens nothing.
    assert [u["user_id"] for u in listed(api, USERS, ALICE, user_id="bob")] == ["alice"]
    assert [(u["user_id"], u["memories"]) for u in listed(api, USERS, BOB)] == [("bob", 0)]
    assert listed(api, USERS, who("dan")) == []  # nothing known about dan: not even dan
    assert [(u["user_id"], u["memories"]) for u in listed(api, USERS, ALICE_GLOBEX)] == [
        ("alice", 1)
    ]
    assert [u["user_id"] for u in listed(api, USERS, ADMIN_GLOBEX)] == ["alice"]

    pages = every_page(api, USERS, ADMIN, limit=1)
    assert [u["user_id"] for page in pages for u in page] == [u["user_id"] for u in users]

    first = listed(api, "/v1/memories", ALICE)[0]
    assert api.delete(f"/v1/memories/{first['id']}", headers=ALICE).status_code == 204
    assert [(u["user_id"], u["memories"]) for u in listed(api, USERS, ALICE)] == [("alice", 1)]


def test_namespaces_are_listed_as_the_caller_sees_them_without_coveys_own(
    backend: Backend,  # noqa: F811
) -> None:
    api = backend.client

    async def seed(store: Store) -> None:
        acme = Scope("acme")
        rows = [
            ("a-support", "rule", "alice"),
            ("a-support", "insight", "bob"),
            ("d-faq", "insight", None),
            ("z-bob", "tip", "bob"),
        ]
        # Covey's own bookkeeping, sorting between the others: pages must still come back full.
        rows += [(f"covey.learn.calls{i}", "counter", "alice") for i in range(5)]
        rows += [("covey.evals", "report", None)]
        for namespace, kind, user in rows:
            learning = Learning(namespace=namespace, kind=kind, content="x", user_id=user)
            await store.add_learning(acme, learning)
        await store.add_learning(Scope("globex"), Learning(namespace="g-only", content="x"))

    backend.with_store(seed)
    admin = listed(api, NAMESPACES, ADMIN)
    assert [(n["namespace"], n["learnings"], n["kinds"]) for n in admin] == [
        ("a-support", 2, ["insight", "rule"]),
        ("d-faq", 1, ["insight"]),
        ("z-bob", 1, ["tip"]),
    ]
    pages = every_page(api, NAMESPACES, ADMIN, limit=1)
    assert [[n["namespace"] for n in page] for page in pages] == [
        ["a-support"],
        ["d-faq"],
        ["z-bob"],
    ]
    assert [(n["namespace"], n["learnings"]) for n in listed(api, NAMESPACES, ALICE)] == [
        ("a-support", 1),
        ("d-faq", 1),
    ]
    assert [n["namespace"] for n in listed(api, NAMESPACES, BOB)] == [
        "a-support",
        "d-faq",
        "z-bob",
    ]
    as_bob = listed(api, NAMESPACES, ADMIN, user_id="bob")  # an admin narrows to one user
    assert as_bob == listed(api, NAMESPACES, BOB)
    problem(api.get(NAMESPACES, params={"user_id": "bob"}, headers=ALICE), 403, "forbidden")
    assert listed(api, NAMESPACES, ALICE, user_id="alice") == listed(api, NAMESPACES, ALICE)
    assert [n["namespace"] for n in listed(api, NAMESPACES, ALICE_GLOBEX)] == ["g-only"]
    assert listed(api, NAMESPACES, ADMIN_GLOBEX) == listed(api, NAMESPACES, ALICE_GLOBEX)
    every = str(api.get(NAMESPACES, params={"limit": 1000}, headers=ADMIN).json())
    assert "covey." not in every


def test_the_listings_need_memories_read_and_refuse_bad_paging(
    backend: Backend,  # noqa: F811
) -> None:
    api = backend.client
    write_only = who("alice", scope="memories:write")
    for path in (USERS, NAMESPACES):
        problem(api.get(path, headers=write_only), 403, "forbidden")
        problem(api.get(path), 401, "unauthorized")
        problem(api.get(path, params={"limit": 0}, headers=ADMIN), 400, "validation-error")
        problem(api.get(path, params={"limit": 1001}, headers=ADMIN), 400, "validation-error")
        problem(api.get(path, params={"cursor": "forged"}, headers=ADMIN), 400, "invalid-input")
    # A cursor of one listing is no cursor of the other.
    api.post("/v1/memories", json={"memory": "m"}, headers=ALICE)
    api.post("/v1/memories", json={"memory": "m"}, headers=BOB)
    cursor = api.get(USERS, params={"limit": 1}, headers=ADMIN).json()["next_cursor"]
    assert cursor
    problem(api.get(NAMESPACES, params={"cursor": cursor}, headers=ADMIN), 400, "invalid-input")


def test_the_openapi_document_lists_the_directory_routes(api: httpx.Client) -> None:
    paths = api.get("/schema/openapi.json").json()["paths"]
    assert set(paths["/v1/memories/users"]) == {"get"}
    assert set(paths["/v1/learnings/namespaces"]) == {"get"}
