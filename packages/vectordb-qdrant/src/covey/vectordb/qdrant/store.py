"""`QdrantVectorStore`: the spec's `VectorStore` on a Qdrant server or qdrant-client's local mode."""

from __future__ import annotations

import math
import os
import uuid
import warnings
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

import anyio
from pydantic import SecretStr, ValidationError
from pydantic_core import PydanticSerializationError

from covey.spec.errors import EmbedderMismatchError, InvalidInputError, VectorStoreError
from covey.spec.store import check_id
from covey.spec.vectors import (
    CollectionInfo,
    CollectionNotFoundError,
    Filter,
    QueryHit,
    Record,
    VectorQuery,
    VectorStore,
    check_collection_name,
    check_delete,
    check_embedder,
    check_records,
)
from covey.vectordb.qdrant.bm25 import BM25Params, document_vector, query_vector
from covey.vectordb.qdrant.connection import API_KEY_ENV, Connection, NotFoundAnswerError
from covey.vectordb.qdrant.payload import typed_copies

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient, models

    from covey.vectordb.qdrant.filters import Compiled

__all__ = ["API_KEY_ENV", "QdrantVectorStore"]

DENSE = "dense"
"""The name of the dense (cosine) vector in every collection."""
SPARSE = "text"
"""The name of the sparse BM25 vector in every collection."""
_META_KEY = "covey"
# Qdrant scores rank r (from 0) by 1/(k + r); the spec ranks from 1 with k=60: 1/(60 + r + 1).
_RRF_K = 61
# A uuid5 namespace of Covey's own: point ids are uuid5(namespace, record id).
_ID_NAMESPACE = uuid.UUID("6f7c2b5e-2d1a-5c8e-9a43-0c0be7c0ffee")
_SCROLL_PAGE = 1000
# The keys `covey.knowledge` filters every query on (scope, content): indexed on a server so its
# filtered search plans well; `_tenant` is marked as the tenant key for Qdrant's multitenancy.
_INDEXED = ("_tenant", "_user", "_knowledge", "_content_id")

T = TypeVar("T")


def point_id(record_id: str) -> str:
    """The Qdrant point id of a record id (Qdrant takes only UUIDs and integers)."""
    return str(uuid.uuid5(_ID_NAMESPACE, record_id))


@dataclass(frozen=True, slots=True)
class _Meta:
    info: CollectionInfo
    bm25: BM25Params


class QdrantVectorStore(VectorStore):
    """A `VectorStore` on Qdrant: cosine dense vectors, BM25 sparse vectors, RRF hybrid search.

    Works against a Qdrant server (1.16 or later) over HTTP, or in qdrant-client's local mode,
    in memory or in a folder: the same requests either way. Local mode is brute force and
    single-process (one store per folder); it runs in a worker thread so the event loop stays
    free.

    Example:
        ```python
        store = QdrantVectorStore(":memory:")  # or "http://localhost:6333", or a folder
        await store.ensure_collection("docs", embedder_name="test:hash", dimensions=3)
        ```

    Args:
        location: `":memory:"`, a folder for local mode, or a server URL `http(s)://host:port`.
            `resolve_vector_store("qdrant://...")` builds one from a `qdrant://` URL.
        api_key: The server's API key; defaults to the `QDRANT_API_KEY` environment variable.
            Stored as a `SecretStr`, never shown.
        timeout: Seconds to wait for the server on each request.
        bm25: BM25 parameters for collections this store creates (existing collections keep
            their own).
    """

    def __init__(
        self,
        location: str | os.PathLike[str] = ":memory:",
        *,
        api_key: str | SecretStr | None = None,
        timeout: float | None = None,
        bm25: BM25Params | None = None,
    ) -> None:
        location = os.fspath(location)
        if not location:
            raise InvalidInputError(
                "QdrantVectorStore needs a location: ':memory:', a folder or a URL"
            )
        if isinstance(api_key, str):
            api_key = SecretStr(api_key)
        self._connection = Connection(location, api_key=api_key, timeout=timeout)
        self._bm25 = bm25 or BM25Params()
        self._meta: dict[str, _Meta] = {}
        self._lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"

    @property
    def location(self) -> str:
        """Where the records live: a server URL, `":memory:"` or a folder."""
        return self._connection.location

    async def _call(self, make: Callable[[AsyncQdrantClient], Coroutine[Any, Any, T]]) -> T:
        return await self._connection.call(make)

    async def close(self) -> None:
        """Close the client (and, in local mode, flush the folder). Safe to call twice."""
        await self._connection.close()
        self._meta.clear()

    # --- collections -----------------------------------------------------------------------------

    async def _exists(self, name: str) -> bool:
        return await self._call(lambda c: c.collection_exists(name))

    async def _load(self, name: str) -> _Meta | None:
        """The collection's recorded embedder, or None when it does not exist."""
        try:
            found = await self._call(lambda c: c.get_collection(name))
        except (NotFoundAnswerError, ValueError) as e:
            if await self._exists(name):
                raise _refused(name, e) from None
            return None
        stored = (found.config.metadata or {}).get(_META_KEY)
        if not isinstance(stored, dict):
            raise VectorStoreError(
                f"Qdrant collection {name!r} exists but was not made by Covey (it has no "
                f"'{_META_KEY}' metadata). Use another collection name."
            )
        try:
            info = CollectionInfo.model_validate(
                {
                    "name": name,
                    "embedder_name": stored["embedder"],
                    "dimensions": stored["dimensions"],
                }
            )
            bm25 = BM25Params.model_validate(stored["bm25"])
        except (KeyError, TypeError, ValidationError) as e:
            raise VectorStoreError(
                f"Qdrant collection {name!r} has malformed Covey metadata: {e}"
            ) from None
        return _Meta(info, bm25)

    async def _get(self, name: str) -> _Meta:
        check_collection_name(name)
        meta = self._meta.get(name)
        if meta is None:
            meta = await self._load(name)
            if meta is None:
                raise CollectionNotFoundError(name)
            self._meta[name] = meta
        return meta

    async def _on(
        self, name: str, make: Callable[[AsyncQdrantClient], Coroutine[Any, Any, T]]
    ) -> T:
        """Run a call on collection `name`, mapping a vanished collection to not-found."""
        try:
            return await self._call(make)
        except (NotFoundAnswerError, ValueError) as e:
            if await self._exists(name):
                raise _refused(name, e) from None
            self._meta.pop(name, None)
            raise CollectionNotFoundError(name) from None

    async def _count(self, name: str, compiled: Compiled = True) -> int:
        if compiled is False:
            return 0
        flt = None if compiled is True else compiled
        result = await self._on(name, lambda c: c.count(name, count_filter=flt, exact=True))
        return result.count

    async def ensure_collection(
        self, name: str, *, embedder_name: str, dimensions: int
    ) -> CollectionInfo:
        """See `VectorStore.ensure_collection`."""
        from qdrant_client import models

        check_collection_name(name)
        check_id(embedder_name, "embedder_name")
        if type(dimensions) is not int or dimensions < 1:
            raise InvalidInputError(f"dimensions must be a positive integer, got {dimensions!r}")
        async with self._lock:
            meta = await self._load(name)
            if meta is None:
                stored = {
                    "embedder": embedder_name,
                    "dimensions": dimensions,
                    "bm25": self._bm25.model_dump(),
                }
                try:
                    await self._call(
                        lambda c: c.create_collection(
                            name,
                            vectors_config={
                                DENSE: models.VectorParams(
                                    size=dimensions, distance=models.Distance.COSINE
                                )
                            },
                            sparse_vectors_config={
                                SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                            },
                            metadata={_META_KEY: stored},
                        )
                    )
                except (VectorStoreError, ValueError):
                    # Another process may have created it first: then check that one.
                    meta = await self._load(name)
                    if meta is None:
                        raise
                else:
                    await self._index_reserved_keys(name)
                    meta = _Meta(
                        CollectionInfo(
                            name=name, embedder_name=embedder_name, dimensions=dimensions
                        ),
                        self._bm25,
                    )
            check_embedder(meta.info, embedder_name, dimensions)
            self._meta[name] = meta
        count = await self._count(name)
        return meta.info.model_copy(update={"count": count})

    async def _index_reserved_keys(self, name: str) -> None:
        from qdrant_client import models

        for key in _INDEXED:
            schema = models.KeywordIndexParams(
                type=models.KeywordIndexType.KEYWORD, is_tenant=key == "_tenant" or None
            )
            with warnings.catch_warnings():
                # Local mode says, once, that it has no use for indexes: true, and harmless.
                warnings.filterwarnings("ignore", "Payload indexes have no effect")
                await self._call(
                    lambda c, field=f"str.{key}", schema=schema: c.create_payload_index(
                        name, field, field_schema=schema, wait=True
                    )
                )

    async def list_collections(self) -> list[CollectionInfo]:
        """See `VectorStore.list_collections`. Qdrant collections not made by Covey are left out."""
        listed = await self._call(lambda c: c.get_collections())
        infos: list[CollectionInfo] = []
        for name in sorted(c.name for c in listed.collections):
            try:
                meta = await self._load(name)
                if meta is None:
                    continue
                count = await self._count(name)
            except (CollectionNotFoundError, VectorStoreError):
                continue  # dropped meanwhile, or not Covey's
            infos.append(meta.info.model_copy(update={"count": count}))
        return infos

    async def drop_collection(self, name: str) -> bool:
        """See `VectorStore.drop_collection`."""
        check_collection_name(name)
        async with self._lock:
            self._meta.pop(name, None)
            if not await self._exists(name):
                return False
            return await self._call(lambda c: c.delete_collection(name))

    # --- records ---------------------------------------------------------------------------------

    async def upsert(self, collection: str, records: Sequence[Record]) -> None:
        """See `VectorStore.upsert`. One request, applied by Qdrant as one batch."""
        from qdrant_client import models

        meta = await self._get(collection)
        check_records(records, meta.info)
        if not records:
            return
        try:
            copies = [Record.model_validate_json(r.model_dump_json()) for r in records]
        except PydanticSerializationError as e:
            raise InvalidInputError(f"record metadata is not JSON-serialisable: {e}") from None
        points: list[models.PointStruct] = []
        for record in copies:
            assert record.vector is not None
            vectors: dict[str, Any] = {DENSE: record.vector}
            indices, values = document_vector(record.text or "", meta.bm25)
            if indices:
                vectors[SPARSE] = models.SparseVector(indices=indices, values=values)
            payload: dict[str, Any] = {
                "id": record.id,
                "text": record.text,
                "metadata": record.metadata,
                "norm": math.sqrt(sum(x * x for x in record.vector)),
                **typed_copies(record.metadata),
            }
            points.append(
                models.PointStruct(id=point_id(record.id), vector=vectors, payload=payload)
            )
        await self._on(collection, lambda c: c.upsert(collection, points=points, wait=True))

    async def get(self, collection: str, ids: Sequence[str]) -> list[Record]:
        """See `VectorStore.get`."""
        for record_id in ids:
            check_id(record_id, "record id")
        await self._get(collection)
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        points = await self._on(
            collection,
            lambda c: c.retrieve(
                collection,
                ids=[point_id(i) for i in wanted],
                with_payload=True,
                with_vectors=[DENSE],
            ),
        )
        by_id = {r.id: r for r in (_record(p.payload, p.vector, True) for p in points)}
        return [by_id[i] for i in wanted if i in by_id]

    async def delete(
        self,
        collection: str,
        *,
        ids: Sequence[str] | None = None,
        filter: Filter | None = None,
    ) -> int:
        """See `VectorStore.delete`. Deletes exactly the points it counted."""
        from qdrant_client import models

        check_delete(ids, filter)
        await self._get(collection)
        compiled = _compile(filter)
        if ids is not None:
            by_id = models.HasIdCondition(has_id=[point_id(i) for i in dict.fromkeys(ids)])
            compiled = _both(compiled, models.Filter(must=[by_id])) if ids else False
        if compiled is False:
            return 0
        selector = None if compiled is True else compiled
        doomed: list[models.ExtendedPointId] = []
        offset: Any = None
        while True:
            page, offset = await self._on(
                collection,
                lambda c, start=offset: c.scroll(
                    collection,
                    scroll_filter=selector,
                    limit=_SCROLL_PAGE,
                    offset=start,
                    with_payload=False,
                    with_vectors=False,
                ),
            )
            doomed.extend(p.id for p in page)
            if offset is None:
                break
        if doomed:
            await self._on(
                collection,
                lambda c: c.delete(
                    collection, points_selector=models.PointIdsList(points=doomed), wait=True
                ),
            )
        return len(doomed)

    async def count(self, collection: str, filter: Filter | None = None) -> int:
        """See `VectorStore.count`."""
        await self._get(collection)
        return await self._count(collection, _compile(filter))

    # --- queries ---------------------------------------------------------------------------------

    async def query(self, collection: str, query: VectorQuery) -> list[QueryHit]:
        """See `VectorStore.query`.

        `vector` ranks by cosine similarity, `text` by BM25 over the sparse vectors, and
        `hybrid` fuses the two (each cut at `max(3k, 50)` candidates) by Qdrant's RRF, scored
        exactly as `covey.spec.vectors.reciprocal_rank_fusion` scores them.
        """
        from qdrant_client import models

        meta = await self._get(collection)
        if query.vector is not None and len(query.vector) != meta.info.dimensions:
            raise EmbedderMismatchError(
                f"The query vector has {len(query.vector)} dimensions, but collection "
                f"{collection!r} holds {meta.info.dimensions}-dimensional vectors of "
                f"embedder {meta.info.embedder_name!r}. Embed the query with that embedder."
            )
        compiled = _compile(query.filter)
        if compiled is False:
            await self._count(collection)  # still: not-found when it vanished
            return []
        flt = None if compiled is True else compiled
        sparse: models.SparseVector | None = None
        if query.mode != "vector":
            indices, values = query_vector(query.text or "")
            if indices:
                sparse = models.SparseVector(indices=indices, values=values)
            elif query.mode == "text":
                await self._count(collection)
                return []
        with_vectors: list[str] | bool = [DENSE] if query.include_vectors else False
        main: models.Query | list[float] | models.SparseVector | None
        using: str | None = None
        prefetch: list[models.Prefetch] | None = None
        if query.mode == "vector":
            main, using = query.vector, DENSE
        elif query.mode == "text":
            main, using = sparse, SPARSE
        else:
            depth = max(3 * query.k, 50)
            prefetch = [models.Prefetch(query=query.vector, using=DENSE, filter=flt, limit=depth)]
            if sparse is not None:
                prefetch.append(
                    models.Prefetch(query=sparse, using=SPARSE, filter=flt, limit=depth)
                )
            main = models.RrfQuery(rrf=models.Rrf(k=_RRF_K))
            flt = None  # the prefetches are filtered: fusing them needs no second pass
        response = await self._on(
            collection,
            lambda c: c.query_points(
                collection,
                query=main,
                using=using,
                prefetch=prefetch,
                query_filter=flt,
                limit=query.k,
                with_payload=True,
                with_vectors=with_vectors,
            ),
        )
        hits: list[QueryHit] = []
        for point in response.points:
            # Hits come best first, so dropping low scores after the k cut loses nothing.
            if query.min_score is not None and point.score < query.min_score:
                continue
            record = _record(point.payload, point.vector, query.include_vectors)
            hits.append(QueryHit(record=record, score=point.score))
        return hits


def _refused(name: str, error: Exception) -> VectorStoreError:
    # Local mode raises ValueError for what a server answers with a 4xx.
    return VectorStoreError(f"Qdrant refused a request on collection {name!r}: {error}")


def _compile(flt: Filter | None) -> Compiled:
    from covey.vectordb.qdrant.filters import compile_filter

    return compile_filter(flt)


def _both(a: Compiled, b: models.Filter) -> Compiled:
    from qdrant_client import models

    if a is False:
        return False
    return b if a is True else models.Filter(must=[a, b])


def _record(payload: dict[str, Any] | None, vector: Any, with_vector: bool) -> Record:
    payload = payload or {}
    dense: list[float] | None = None
    if with_vector and isinstance(vector, dict):
        raw: object = cast("dict[str, object]", vector).get(DENSE)
        if isinstance(raw, list):
            dense = [float(x) for x in cast("list[float]", raw)]
            # Qdrant keeps cosine vectors normalised; scale back to the length written.
            length = math.sqrt(sum(x * x for x in dense))
            norm = float(payload.get("norm") or 0.0)
            if length > 0 and norm > 0:
                dense = [x * norm / length for x in dense]
    return Record(
        id=payload["id"],
        vector=dense,
        text=payload.get("text"),
        metadata=payload.get("metadata") or {},
    )
