"""Scope: a search never sees another tenant's chunks, nor another user's private ones."""

from __future__ import annotations

import pytest

from covey.db.memory import MemoryStore
from covey.knowledge import Knowledge
from covey.spec.errors import NotFoundError
from covey.spec.store import Scope
from covey.spec.vectors import Eq
from covey.testing import HashEmbedder, InMemoryVectorStore

ACME = Scope("acme")
ACME_ANN = Scope("acme", "ann")
ACME_BOB = Scope("acme", "bob")
GLOBEX = Scope("globex")
GLOBEX_ANN = Scope("globex", "ann")

QUERY = "secret plan"


@pytest.fixture
async def kb() -> Knowledge:
    kb = Knowledge(
        "docs", vector_store=InMemoryVectorStore(), embedder=HashEmbedder(), store=MemoryStore()
    )
    await kb.ingest_text("acme shared secret plan", name="plan.txt", scope=ACME)
    await kb.ingest_text("ann private secret plan", name="plan.txt", scope=ACME_ANN)
    await kb.ingest_text("bob private secret plan", name="plan.txt", scope=ACME_BOB)
    await kb.ingest_text("globex shared secret plan", name="plan.txt", scope=GLOBEX)
    await kb.ingest_text("globex ann secret plan", name="plan.txt", scope=GLOBEX_ANN)
    return kb


async def texts(kb: Knowledge, scope: Scope, mode: str = "hybrid") -> set[str]:
    return {h.text for h in await kb.search(QUERY, k=20, scope=scope, mode=mode)}  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["vector", "text", "hybrid"])
async def test_each_scope_sees_its_own_and_its_tenants_shared_chunks(
    kb: Knowledge, mode: str
) -> None:
    assert await texts(kb, ACME_ANN, mode) == {"acme shared secret plan", "ann private secret plan"}
    assert await texts(kb, ACME_BOB, mode) == {"acme shared secret plan", "bob private secret plan"}
    assert await texts(kb, GLOBEX_ANN, mode) == {
        "globex shared secret plan",
        "globex ann secret plan",
    }
    # Tenant-wide: every user of the tenant, never another tenant.
    assert await texts(kb, ACME, mode) == {
        "acme shared secret plan",
        "ann private secret plan",
        "bob private secret plan",
    }
    assert await texts(kb, Scope(), mode) == set()


async def test_a_filter_cannot_widen_the_scope(kb: Knowledge) -> None:
    hits = await kb.search(QUERY, k=20, scope=ACME_ANN, filter=Eq("_tenant", "globex"))
    assert hits == []


async def test_the_same_name_in_two_scopes_is_two_contents(kb: Knowledge) -> None:
    ann = (await kb.list_contents(ACME_ANN)).items
    bob = (await kb.list_contents(ACME_BOB)).items
    assert {c.user_id for c in ann} == {"ann", None}
    assert {c.user_id for c in bob} == {"bob", None}
    assert len({c.id for c in ann} | {c.id for c in bob}) == 3


async def test_a_user_cannot_remove_shared_or_other_content(kb: Knowledge) -> None:
    shared = next(c for c in (await kb.list_contents(ACME_ANN)).items if c.user_id is None)
    bobs = next(c for c in (await kb.list_contents(ACME_BOB)).items if c.user_id == "bob")

    with pytest.raises(NotFoundError):
        await kb.remove(shared.id, ACME_ANN)
    with pytest.raises(NotFoundError):
        await kb.remove(bobs.id, ACME_ANN)
    with pytest.raises(NotFoundError):
        await kb.remove(bobs.id, GLOBEX)
    assert await kb.get_content(bobs.id, GLOBEX) is None

    await kb.remove(bobs.id, ACME_BOB)
    assert await texts(kb, ACME) == {"acme shared secret plan", "ann private secret plan"}
    await kb.remove(shared.id, ACME)
    assert await texts(kb, ACME_ANN) == {"ann private secret plan"}
