"""`recall` and `render`: relevance, recency, the token budget, and the embedder's vector cache."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta

import pytest

from covey.learn import MemoryManager, estimate_tokens
from covey.learn._recall import VectorCache, rank
from covey.spec.embeddings import Embedder, InputType
from covey.spec.errors import InvalidInputError
from covey.spec.store import Memory, Scope, Store, utc_now

from .conftest import OpsModel

ALICE = Scope("acme", "alice")

CONCEPTS = {
    "dog": 0, "puppy": 0, "canine": 0, "rex": 0,
    "vegetarian": 1, "dinner": 1, "cook": 1, "meal": 1,
    "paris": 2, "city": 2, "live": 2,
}  # fmt: skip


class ConceptEmbedder(Embedder):
    """Words of one concept share a dimension: "puppy" is close to "dog" with no shared word."""

    def __init__(self) -> None:
        self.embedded: list[str] = []

    @property
    def model_name(self) -> str:
        return "concepts-4"

    @property
    def dimensions(self) -> int:
        return 4

    async def embed(
        self, texts: Sequence[str], *, input_type: InputType = "document"
    ) -> list[list[float]]:
        self.embedded.extend(texts)
        out: list[list[float]] = []
        for text in texts:
            vector = [0.0] * 4
            for word in text.lower().replace(".", " ").replace("?", " ").split():
                vector[CONCEPTS.get(word, 3)] += 1.0
            norm = math.sqrt(sum(x * x for x in vector)) or 1.0
            out.append([x / norm for x in vector])
        return out


async def seed(store: Store, *texts: tuple[str, list[str]]) -> list[Memory]:
    return [
        await store.add_memory(ALICE, Memory(user_id="alice", memory=text, topics=topics))
        for text, topics in texts
    ]


def manager(store: Store, **kwargs: object) -> MemoryManager:
    return MemoryManager(OpsModel(lambda p, i: []).model, store=store, **kwargs)  # type: ignore[arg-type]


async def test_relevant_memories_come_first(store: Store) -> None:
    await seed(
        store,
        ("The user is vegetarian", ["food"]),
        ("The user lives in Paris", ["home"]),
        ("The user plays the cello", ["music"]),
        ("The user prefers short answers", ["style"]),
    )
    recalled = await manager(store).recall(ALICE, "Suggest some food for a vegetarian dinner")
    assert recalled[0].memory == "The user is vegetarian"
    assert len(recalled) == 4  # the rest still qualify, behind
    music = await manager(store).recall(ALICE, "music")  # a topic alone is enough
    assert music[0].memory == "The user plays the cello"


def test_recency_breaks_ties_and_fades() -> None:
    now = utc_now()
    old = Memory(user_id="a", memory="The user likes jazz", updated_at=now - timedelta(days=300))
    new = Memory(user_id="a", memory="The user likes rock", updated_at=now - timedelta(days=1))
    ordered = [m for _, m in _rank("what music", [old, new], now)]
    assert [m.memory for m in ordered] == ["The user likes rock", "The user likes jazz"]
    # Relevance outweighs age.
    ordered = [m for _, m in _rank("jazz", [old, new], now)]
    assert ordered[0].memory == "The user likes jazz"


def _rank(query: str, memories: list[Memory], now: object) -> list[tuple[float, Memory]]:
    import anyio

    async def go() -> list[tuple[float, Memory]]:
        return await rank(
            query, memories, now=now, half_life_days=30, embedder=None, cache=VectorCache()
        )  # type: ignore[arg-type]

    return anyio.run(go)


async def test_the_budget_and_the_limit_cut_the_list(store: Store) -> None:
    await seed(store, *((f"The user fact number {i} " + "x" * 60, ["facts"]) for i in range(40)))
    mgr = manager(store)
    for budget in (60, 100, 300):
        recalled = await mgr.recall(ALICE, "facts", budget_tokens=budget, limit=100)
        assert recalled
        assert estimate_tokens(mgr.render(recalled)) <= budget
        assert estimate_tokens(mgr.render(recalled)) > budget - 25  # close to full
    assert len(await mgr.recall(ALICE, "facts", budget_tokens=10_000, limit=7)) == 7
    # A budget too small for the header yields nothing rather than overflowing.
    assert await mgr.recall(ALICE, "facts", budget_tokens=5) == []
    with pytest.raises(InvalidInputError):
        await mgr.recall(ALICE, "facts", budget_tokens=0)


async def test_render_is_empty_without_memories(store: Store) -> None:
    mgr = manager(store)
    assert mgr.render(await mgr.recall(ALICE, "anything")) == ""


async def test_another_users_memories_are_never_recalled(store: Store) -> None:
    await store.add_memory(Scope("acme", "bob"), Memory(user_id="bob", memory="Bob likes cats"))
    await store.add_memory(Scope("globex", "alice"), Memory(user_id="alice", memory="cats"))
    assert await manager(store).recall(ALICE, "cats") == []


async def test_an_embedder_finds_what_keywords_miss_and_vectors_are_cached(store: Store) -> None:
    await seed(
        store,
        ("The user has a dog named Rex", ["pets"]),
        ("The user lives in Paris", ["home"]),
        ("The user prefers short answers", ["style"]),
    )
    plain = await manager(store).recall(ALICE, "puppy")
    assert plain[0].memory != "The user has a dog named Rex"  # no shared word
    embedder = ConceptEmbedder()
    mgr = manager(store, embedder=embedder)
    first = await mgr.recall(ALICE, "puppy")
    assert first[0].memory == "The user has a dog named Rex"
    assert len(embedder.embedded) == 4  # three memories and the query
    await mgr.recall(ALICE, "canine")
    assert embedder.embedded[4:] == ["canine"]  # memories came from the cache
    # A changed memory is embedded again (the cache key includes its text).
    dog = first[0]
    await store.update_memory(ALICE, dog.model_copy(update={"memory": "The user has two dogs"}))
    await mgr.recall(ALICE, "puppy")
    assert embedder.embedded[5:] == ["The user has two dogs", "puppy"]


def test_the_vector_cache_is_bounded() -> None:
    import anyio

    cache = VectorCache(max_entries=3)
    embedder = ConceptEmbedder()
    memories = [Memory(user_id="a", memory=f"m {i}") for i in range(5)]
    anyio.run(cache.vectors, embedder, memories)
    assert len(cache) == 3
