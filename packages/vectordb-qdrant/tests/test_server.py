"""Server mode over real HTTP: the suite against `FakeQdrantServer`, API keys, errors.

`FakeQdrantServer` answers Qdrant's REST API from qdrant-client's local mode, so these tests run
the same requests a real server would get through qdrant-client's REST path.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import anyio
import pytest

from covey.conformance import VectorStoreSuite
from covey.spec.errors import EmbedderMismatchError, VectorStoreError
from covey.spec.plugins import resolve_vector_store
from covey.spec.vectors import CollectionNotFoundError, Eq, Record, VectorQuery
from covey.vectordb.qdrant import QdrantVectorStore
from covey.vectordb.qdrant.testing import FakeQdrantServer

KEY = "qk-9f8e7d6c5b4a"
# qdrant-client rightly warns about a key sent over plain HTTP; loopback is fine.
pytestmark = pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")


@pytest.fixture
def server() -> Iterator[FakeQdrantServer]:
    with FakeQdrantServer(api_key=KEY) as server:
        yield server


class TestQdrantServer(VectorStoreSuite):
    @pytest.fixture
    async def vector_store(self, server: FakeQdrantServer) -> AsyncIterator[QdrantVectorStore]:
        async with QdrantVectorStore(server.url, api_key=KEY) as store:
            yield store


async def test_the_key_is_sent_from_the_environment_and_never_shown(
    server: FakeQdrantServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QDRANT_API_KEY", KEY)
    port = server.url.rsplit(":", 1)[1]
    store = resolve_vector_store(f"qdrant://127.0.0.1:{port}")
    assert isinstance(store, QdrantVectorStore)
    assert KEY not in repr(store)
    assert KEY not in str(vars(store))
    async with store:
        await store.ensure_collection("docs", embedder_name="test:e", dimensions=2)
        await store.upsert("docs", [Record(id="a", vector=[1, 0], text="hi", metadata={"k": 1})])
        [hit] = await store.query("docs", VectorQuery(vector=[1, 0], text="hi", filter=Eq("k", 1)))
        assert hit.record.id == "a"
    assert {r.headers.get("api-key") for r in server.requests} == {KEY}


async def test_a_wrong_key_is_a_vector_store_error_without_the_key(
    server: FakeQdrantServer,
) -> None:
    async with QdrantVectorStore(server.url, api_key="wrong-key-123") as store:
        with pytest.raises(VectorStoreError, match="401") as caught:
            await store.ensure_collection("docs", embedder_name="test:e", dimensions=2)
    assert "wrong-key-123" not in str(caught.value)
    assert not isinstance(caught.value, CollectionNotFoundError)


async def test_an_unreachable_server_is_a_clear_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with QdrantVectorStore(f"http://127.0.0.1:{port}", api_key=KEY, timeout=2) as store:
        with pytest.raises(VectorStoreError, match="Could not reach Qdrant") as caught:
            await store.count("docs")
    assert KEY not in str(caught.value)


async def test_a_collection_dropped_behind_the_stores_back_is_not_found(
    server: FakeQdrantServer,
) -> None:
    async with (
        QdrantVectorStore(server.url, api_key=KEY) as one,
        QdrantVectorStore(server.url, api_key=KEY) as two,
    ):
        await one.ensure_collection("docs", embedder_name="test:e", dimensions=2)
        await one.upsert("docs", [Record(id="a", vector=[1, 0])])
        assert await two.drop_collection("docs") is True
        with pytest.raises(CollectionNotFoundError):
            await one.query("docs", VectorQuery(vector=[1, 0]))
        with pytest.raises(CollectionNotFoundError):
            await one.get("docs", ["a"])


async def test_a_collection_not_made_by_covey_is_left_alone(server: FakeQdrantServer) -> None:
    from qdrant_client import AsyncQdrantClient, models

    client = AsyncQdrantClient(url=server.url, api_key=KEY, check_compatibility=False)
    await client.create_collection(
        "foreign", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT)
    )
    await client.close()
    async with QdrantVectorStore(server.url, api_key=KEY) as store:
        assert await store.list_collections() == []
        with pytest.raises(VectorStoreError, match="not made by Covey"):
            await store.ensure_collection("foreign", embedder_name="test:e", dimensions=2)


async def test_scope_keys_are_indexed_on_the_server(server: FakeQdrantServer) -> None:
    async with QdrantVectorStore(server.url, api_key=KEY) as store:
        await store.ensure_collection("docs", embedder_name="test:e", dimensions=2)
        await store.ensure_collection("docs", embedder_name="test:e", dimensions=2)
    indexes = server.indexes["docs"]
    assert sorted(indexes) == ["str._content_id", "str._knowledge", "str._tenant", "str._user"]
    assert indexes["str._tenant"].is_tenant is True
    assert {i.type for i in indexes.values()} == {"keyword"}
    creates = [r for r in server.requests if r.method == "PUT" and "/index" in r.path]
    assert len(creates) == 4  # once, when the collection is made


async def test_two_stores_creating_one_collection_at_once_agree(server: FakeQdrantServer) -> None:
    async with (
        QdrantVectorStore(server.url, api_key=KEY) as one,
        QdrantVectorStore(server.url, api_key=KEY) as two,
    ):
        results: list[object] = []

        async def ensure(store: QdrantVectorStore) -> None:
            results.append(await store.ensure_collection("kb", embedder_name="t:e", dimensions=3))

        async with anyio.create_task_group() as tg:
            tg.start_soon(ensure, one)
            tg.start_soon(ensure, two)
        assert [(i.name, i.embedder_name, i.dimensions) for i in results] == [("kb", "t:e", 3)] * 2
        with pytest.raises(EmbedderMismatchError):
            await two.ensure_collection("kb", embedder_name="t:other", dimensions=3)
