"""Local mode on a folder keeps records, the embedder and BM25 settings across a reopen."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from covey.spec.errors import EmbedderMismatchError, VectorStoreError
from covey.spec.vectors import Eq, Range, Record, VectorQuery
from covey.vectordb.qdrant import BM25Params, QdrantVectorStore


async def test_records_and_embedder_survive_a_reopen(tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    async with QdrantVectorStore(folder, bm25=BM25Params(avg_len=7)) as store:
        await store.ensure_collection("docs", embedder_name="test:e", dimensions=3)
        await store.upsert(
            "docs",
            [
                Record(id="a", vector=[1, 0, 0], text="solar power", metadata={"d": "2024-05-01"}),
                Record(id="b", vector=[0, 2, 0], text="wind power", metadata={"d": "2023-01-09"}),
            ],
        )

    async with QdrantVectorStore(folder) as reopened:
        [info] = await reopened.list_collections()
        assert (info.name, info.embedder_name, info.dimensions, info.count) == (
            "docs",
            "test:e",
            3,
            2,
        )
        with pytest.raises(EmbedderMismatchError, match="test:e"):
            await reopened.ensure_collection("docs", embedder_name="test:other", dimensions=3)
        [b] = await reopened.get("docs", ["b"])
        assert (b.text, b.metadata, b.vector) == ("wind power", {"d": "2023-01-09"}, [0, 2, 0])
        text = await reopened.query("docs", VectorQuery(text="solar", k=5))
        assert [h.record.id for h in text] == ["a"]
        dated = await reopened.count("docs", Range("d", gte="2024-01-01"))
        assert dated == 1
        # The collection keeps the BM25 settings it was made with, not the reopening store's.
        meta = await reopened._get("docs")
        assert meta.bm25 == BM25Params(avg_len=7)
        assert await reopened.delete("docs", filter=Eq("d", "2024-05-01")) == 1

    async with QdrantVectorStore(folder) as third:
        assert await third.count("docs") == 1
        assert await third.drop_collection("docs") is True

    async with QdrantVectorStore(folder) as fourth:
        assert await fourth.list_collections() == []


async def test_memory_stores_share_nothing() -> None:
    async with QdrantVectorStore() as one, QdrantVectorStore(":memory:") as two:
        await one.ensure_collection("docs", embedder_name="test:e", dimensions=2)
        assert await two.list_collections() == []


async def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    store = QdrantVectorStore(tmp_path / "q")
    await store.ensure_collection("docs", embedder_name="test:e", dimensions=2)
    await store.close()
    await store.close()
    with pytest.raises(VectorStoreError, match="closed"):
        await store.count("docs")


async def test_local_mode_runs_off_the_event_loop_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qdrant_client.local.async_qdrant_local import AsyncQdrantLocal

    threads: set[int] = set()
    original = AsyncQdrantLocal.query_points

    async def spy(self: AsyncQdrantLocal, *args: object, **kwargs: object) -> object:
        threads.add(threading.get_ident())
        return await original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(AsyncQdrantLocal, "query_points", spy)
    async with QdrantVectorStore(tmp_path / "q") as store:
        await store.ensure_collection("docs", embedder_name="test:e", dimensions=2)
        await store.upsert("docs", [Record(id="a", vector=[1, 0], text="hello")])
        for mode in ("vector", "text", "hybrid"):
            query = VectorQuery(vector=[1, 0], text="hello", mode=mode)
            assert [h.record.id for h in await store.query("docs", query)] == ["a"]
    assert threads
    assert threading.get_ident() not in threads
