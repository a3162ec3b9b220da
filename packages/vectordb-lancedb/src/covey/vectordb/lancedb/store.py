"""`LanceDBVectorStore`: a `VectorStore` in a local folder, on LanceDB's async API.

One collection is one Lance table: `id` (BTree index), `vector` (fixed-size float32), `text`
(LanceDB's native full-text index, BM25), `metadata` (the record's metadata as JSON text) and
`meta_pairs` / `meta_num` / `meta_str`, its top-level values apart by type for filters (see
`filters`). The embedder's name and dimensions are the table schema's metadata.

Writes to a table are serialised within the process (a lock per table) and each is one Lance
commit (`merge_insert`), so an upsert lands whole or not at all. Writers in other processes
commit optimistically; LanceDB retries a conflicting commit.
"""

from __future__ import annotations

import math
import os
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from covey.spec.errors import (
    ConfigurationError,
    CoveyError,
    EmbedderMismatchError,
    InvalidInputError,
    VectorStoreError,
)
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
    reciprocal_rank_fusion,
)
from covey.vectordb.lancedb.rows import (
    DIMENSIONS_KEY,
    EMBEDDER_KEY,
    FORMAT,
    FORMAT_KEY,
    arrow_records,
    columns,
    id_predicates,
    table_schema,
    to_record,
    where_clause,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from lancedb.db import AsyncConnection
    from lancedb.table import AsyncTable

__all__ = ["LanceDBVectorStore"]

# Hybrid search fuses this many candidates of each ranking (at least k of each).
_HYBRID_CANDIDATES = 100
# Each upsert is a Lance commit with its own small files; compact after this many.
_OPTIMIZE_AFTER_WRITES = 100
# Upserts of more records are checked and converted in a worker thread.
_INLINE_RECORDS = 256
_CREATE_LOCK = ".covey-create.lock"
"""The file table creations lock, in the store's folder (see `_creation_lock`)."""


@dataclass(slots=True)
class _Table:
    handle: AsyncTable
    info: CollectionInfo
    write_lock: anyio.Lock = field(default_factory=anyio.Lock)
    rows_since_optimize: int = 0
    writes_since_optimize: int = 0


class _ForeignTableError(VectorStoreError):
    """A table in the folder that this package did not make (or made in another layout)."""


@asynccontextmanager
async def _backend_errors(action: str) -> AsyncGenerator[None]:
    """Turn LanceDB's untyped failures into `VectorStoreError`; Covey's own errors pass."""
    try:
        yield
    except CoveyError:
        raise
    except (OSError, RuntimeError, ValueError) as e:
        raise VectorStoreError(f"LanceDB failed to {action}: {e}") from e


class LanceDBVectorStore(VectorStore):
    """A vector store in a local folder: cosine vector search, BM25 full-text search, hybrid.

    Nothing is opened (or imported) until the first call. Share one instance between the tasks
    of a process; it is safe to open the same folder from several processes too (each read sees
    the others' writes, see `read_consistency_interval`).

    Args:
        path: The folder holding the tables; created on first write. A relative path is taken
            from the current directory when the store is made.
        read_consistency_interval: Seconds between checks for writes made by other processes
            (0, the default: check on every read; `None`: never, fastest for a single writer).
        optimize_after_rows: Compact the table and fold new rows into the full-text index once
            this many rows were written since the last time (rows not yet indexed are still
            searched, by a slower scan).

    Example:
        ```python
        store = LanceDBVectorStore(".covey/lancedb")
        await store.ensure_collection("docs", embedder_name="test:hash", dimensions=3)
        await store.upsert("docs", [Record(id="a", vector=[1, 0, 0], text="hello")])
        hits = await store.query("docs", VectorQuery(vector=[1, 0, 0], k=1))
        ```
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        read_consistency_interval: float | None = 0.0,
        optimize_after_rows: int = 10_000,
    ) -> None:
        if read_consistency_interval is not None and not (
            math.isfinite(read_consistency_interval) and read_consistency_interval >= 0
        ):
            raise ConfigurationError(
                "read_consistency_interval must be a number of seconds >= 0 or None, got "
                f"{read_consistency_interval!r}"
            )
        if type(optimize_after_rows) is not int or optimize_after_rows < 1:
            raise ConfigurationError(
                f"optimize_after_rows must be a positive integer, got {optimize_after_rows!r}"
            )
        self._path = Path(path).absolute()
        self._read_consistency = read_consistency_interval
        self._optimize_after_rows = optimize_after_rows
        self._db: AsyncConnection | None = None
        self._tables: dict[str, _Table] = {}
        self._lock = anyio.Lock()
        self._closed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(path={str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The folder holding the tables."""
        return self._path

    # --- connection and tables -------------------------------------------------------------------

    async def _connection(self) -> AsyncConnection:
        if self._closed:
            raise VectorStoreError(f"{self!r} is closed")
        if self._db is None:
            import lancedb

            interval = (
                None
                if self._read_consistency is None
                else timedelta(seconds=self._read_consistency)
            )
            async with _backend_errors(f"open {self._path}"):
                self._db = await lancedb.connect_async(  # pyright: ignore[reportUnknownMemberType]
                    self._path, read_consistency_interval=interval
                )
        return self._db

    async def _open(self, name: str) -> _Table:
        """The cached table for collection `name` (callers hold `self._lock`)."""
        check_collection_name(name)
        cached = self._tables.get(name)
        if cached is not None:
            return cached
        db = await self._connection()
        try:
            handle = await db.open_table(name)
        except ValueError as e:
            if "was not found" in str(e):
                raise CollectionNotFoundError(name) from e
            raise VectorStoreError(f"LanceDB failed to open table {name!r}: {e}") from e
        async with _backend_errors(f"read the schema of {name!r}"):
            metadata = (await handle.schema()).metadata or {}
        if EMBEDDER_KEY not in metadata or DIMENSIONS_KEY not in metadata:
            raise _ForeignTableError(
                f"LanceDB table {name!r} in {self._path} was not made by covey-vectordb-lancedb "
                "(its schema records no embedder); use another collection name."
            )
        if metadata.get(FORMAT_KEY) != FORMAT:
            found = metadata.get(FORMAT_KEY, b"none").decode(errors="replace")
            raise _ForeignTableError(
                f"LanceDB table {name!r} in {self._path} has layout {found!r}; this version of "
                f"covey-vectordb-lancedb reads layout {FORMAT.decode()!r}. Drop the collection "
                "and ingest again, or use the covey-vectordb-lancedb version that wrote it."
            )
        info = CollectionInfo(
            name=name,
            embedder_name=metadata[EMBEDDER_KEY].decode(),
            dimensions=int(metadata[DIMENSIONS_KEY]),
        )
        table = _Table(handle, info)
        self._tables[name] = table
        return table

    async def _table(self, name: str) -> _Table:
        check_collection_name(name)
        cached = self._tables.get(name)
        if cached is not None:
            return cached
        async with self._lock:
            return await self._open(name)

    async def ensure_collection(
        self, name: str, *, embedder_name: str, dimensions: int
    ) -> CollectionInfo:
        """See `VectorStore.ensure_collection`."""
        check_collection_name(name)
        check_id(embedder_name, "embedder_name")
        if type(dimensions) is not int or dimensions < 1:
            raise InvalidInputError(f"dimensions must be a positive integer, got {dimensions!r}")
        async with self._lock:
            try:
                table = await self._open(name)
            except CollectionNotFoundError:
                async with self._creation_lock():
                    try:  # another process may have made it while we waited
                        table = await self._open(name)
                    except CollectionNotFoundError:
                        table = await self._create(name, embedder_name, dimensions)
            check_embedder(table.info, embedder_name, dimensions)
            return await self._info(table)

    @asynccontextmanager
    async def _creation_lock(self) -> AsyncGenerator[None]:
        """Creating a table, across every process that shares the folder, one at a time.

        Lance commits a table's creation and each index build as separate transactions; two
        processes creating one table at once conflict ("CreateIndex transaction is incompatible
        with concurrent transaction Overwrite"). An advisory `flock` on a file in the folder
        (released when the descriptor closes, so also when a process dies) serialises them.
        Without `fcntl` (Windows) creation is not serialised.
        """
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        self._path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path / _CREATE_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            await anyio.to_thread.run_sync(fcntl.flock, fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    async def _create(self, name: str, embedder_name: str, dimensions: int) -> _Table:
        from lancedb.index import FTS, BTree

        db = await self._connection()
        async with _backend_errors(f"create table {name!r}"):
            # exist_ok: another process may create it first; `_open` then reads its embedder.
            handle = await db.create_table(  # pyright: ignore[reportUnknownMemberType]
                name, schema=table_schema(embedder_name, dimensions), exist_ok=True
            )
            indexed = {tuple(index.columns) for index in await handle.list_indices()}
            if ("text",) not in indexed:
                # Rows written after the index are searched too (unindexed rows are scanned)
                # until `optimize` folds them in.
                await handle.create_index("text", config=FTS())
            if ("id",) not in indexed:
                # merge_insert joins on id: without an index every upsert scans the table.
                await handle.create_index("id", config=BTree())
            handle.close()
        return await self._open(name)

    async def _info(self, table: _Table) -> CollectionInfo:
        async with _backend_errors(f"count the rows of {table.info.name!r}"):
            count = await table.handle.count_rows()
        return table.info.model_copy(update={"count": count})

    async def list_collections(self) -> list[CollectionInfo]:
        """See `VectorStore.list_collections`; LanceDB tables made by other tools are skipped."""
        db = await self._connection()
        names: list[str] = []
        token: str | None = None
        async with _backend_errors(f"list the tables in {self._path}"):
            while True:
                page = await db.list_tables(page_token=token)
                names.extend(page.tables)
                token = page.page_token
                if not token:
                    break
        found: list[CollectionInfo] = []
        for name in sorted(names):
            try:
                table = await self._table(name)
                found.append(await self._info(table))
            except (CollectionNotFoundError, InvalidInputError, _ForeignTableError):
                continue  # dropped meanwhile, a name covey never gives, or not a covey table
        return found

    async def drop_collection(self, name: str) -> bool:
        """See `VectorStore.drop_collection`."""
        check_collection_name(name)
        async with self._lock:
            db = await self._connection()
            cached = self._tables.pop(name, None)
            if cached is not None:
                cached.handle.close()
            try:
                await db.drop_table(name)
            except ValueError as e:
                if "was not found" in str(e):
                    return False
                raise VectorStoreError(f"LanceDB failed to drop table {name!r}: {e}") from e
            return True

    async def close(self) -> None:
        """Close every table and the connection. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        for table in self._tables.values():
            table.handle.close()
        self._tables.clear()
        if self._db is not None:
            self._db.close()
            self._db = None

    # --- writes ----------------------------------------------------------------------------------

    async def upsert(self, collection: str, records: Sequence[Record]) -> None:
        """See `VectorStore.upsert`. One LanceDB `merge_insert` on `id`: all or nothing."""
        table = await self._table(collection)
        if len(records) > _INLINE_RECORDS:
            # Checking and converting thousands of vectors takes long enough to stall the loop.
            data = await anyio.to_thread.run_sync(self._prepare, table.info, records)
        else:
            data = self._prepare(table.info, records)
        if data is None:
            return
        async with table.write_lock:
            async with _backend_errors(f"upsert into {collection!r}"):
                await (
                    table.handle.merge_insert("id")
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .execute(data)  # pyright: ignore[reportUnknownMemberType]
                )
            table.rows_since_optimize += len(records)
            table.writes_since_optimize += 1
            if (
                table.rows_since_optimize >= self._optimize_after_rows
                or table.writes_since_optimize >= _OPTIMIZE_AFTER_WRITES
            ):
                await self._optimize_locked(table)

    def _prepare(self, info: CollectionInfo, records: Sequence[Record]) -> pa.Table | None:
        check_records(records, info)
        if not records:
            return None
        return arrow_records(
            records, table_schema(info.embedder_name, info.dimensions), info.dimensions
        )

    async def optimize(self, collection: str) -> None:
        """Compact the collection's files and fold new rows into its full-text index.

        Upserts do this on their own every `optimize_after_rows` rows; call it after a large
        ingestion to make the next searches fast at once.

        Raises:
            CollectionNotFoundError: no such collection.
        """
        table = await self._table(collection)
        async with table.write_lock:
            await self._optimize_locked(table)

    @staticmethod
    async def _optimize_locked(table: _Table) -> None:
        async with _backend_errors(f"optimize {table.info.name!r}"):
            await table.handle.optimize()
        table.rows_since_optimize = 0
        table.writes_since_optimize = 0

    async def delete(
        self,
        collection: str,
        *,
        ids: Sequence[str] | None = None,
        filter: Filter | None = None,
    ) -> int:
        """See `VectorStore.delete`."""
        check_delete(ids, filter)
        where = where_clause(filter)
        table = await self._table(collection)
        if ids is not None and not ids:
            return 0
        deleted = 0
        async with table.write_lock:
            for predicate in id_predicates(ids, where) if ids is not None else [where]:
                assert predicate is not None
                async with _backend_errors(f"delete from {collection!r}"):
                    result = await table.handle.delete(predicate)
                # lancedb's DeleteResult is a pyo3 class without stubs.
                deleted += int(result.num_deleted_rows)  # pyright: ignore
        return deleted

    # --- reads -----------------------------------------------------------------------------------

    async def count(self, collection: str, filter: Filter | None = None) -> int:
        """See `VectorStore.count`."""
        where = where_clause(filter)
        table = await self._table(collection)
        async with _backend_errors(f"count the rows of {collection!r}"):
            return await table.handle.count_rows(where)

    async def get(self, collection: str, ids: Sequence[str]) -> list[Record]:
        """See `VectorStore.get`."""
        for record_id in ids:
            check_id(record_id, "record id")
        table = await self._table(collection)
        found: dict[str, Record] = {}
        for predicate in id_predicates(ids, None):
            async with _backend_errors(f"read from {collection!r}"):
                rows = await table.handle.query().where(predicate).select(columns(True)).to_arrow()
            for row in rows.to_pylist():
                record = to_record(row)
                found[record.id] = record
        return [found[i] for i in dict.fromkeys(ids) if i in found]

    async def query(self, collection: str, query: VectorQuery) -> list[QueryHit]:
        """See `VectorStore.query`.

        `vector`: exact cosine search (score = cosine similarity); `text`: LanceDB's native
        BM25 full-text search; `hybrid`: `reciprocal_rank_fusion` of the two rankings. The
        filter runs before the top-k cut in all three.
        """
        where = where_clause(query.filter)
        table = await self._table(collection)
        info = table.info
        if query.vector is not None and len(query.vector) != info.dimensions:
            raise EmbedderMismatchError(
                f"The query vector has {len(query.vector)} dimensions, but collection "
                f"{collection!r} holds {info.dimensions}-dimensional vectors of embedder "
                f"{info.embedder_name!r}. Embed the query with that embedder."
            )
        if query.mode == "vector":
            scored = await self._vector(table, query, where, query.k)
        elif query.mode == "text":
            scored = await self._text(table, query, where, query.k)
        else:
            window = max(query.k, _HYBRID_CANDIDATES)
            by_vector: list[tuple[Record, float]] = []
            by_text: list[tuple[Record, float]] = []

            async def vector() -> None:
                by_vector.extend(await self._vector(table, query, where, window))

            async def text() -> None:
                by_text.extend(await self._text(table, query, where, window))

            async with anyio.create_task_group() as tg:
                tg.start_soon(vector)
                tg.start_soon(text)
            rows = {row.id: row for row, _ in (*by_vector, *by_text)}
            fused = reciprocal_rank_fusion(
                [[r.id for r, _ in by_vector], [r.id for r, _ in by_text]]
            )
            scored = [(rows[rid], score) for rid, score in fused]
        hits: list[QueryHit] = []
        for record, score in scored:
            if query.min_score is not None and score < query.min_score:
                continue
            hits.append(QueryHit(record=record, score=score))
            if len(hits) == query.k:
                break
        return hits

    async def _vector(
        self, table: _Table, query: VectorQuery, where: str | None, limit: int
    ) -> list[tuple[Record, float]]:
        assert query.vector is not None
        if not any(query.vector):
            # Cosine similarity with a zero vector is undefined; LanceDB drops such rows, the
            # reference store scores them 0. Keep the reference: any `limit` rows, scored 0.
            return [(r, 0.0) for r in await self._scan(table, where, limit, query.include_vectors)]
        search = (
            table.handle.query()
            .nearest_to(query.vector)  # pyright: ignore[reportUnknownMemberType]
            .distance_type("cosine")
            .select([*columns(query.include_vectors), "_distance"])
            .limit(limit)
        )
        if where is not None:
            search = search.where(where)
        async with _backend_errors(f"search {table.info.name!r}"):
            rows = (await search.to_arrow()).to_pylist()
        scored: list[tuple[Record, float]] = []
        for row in rows:
            distance = row["_distance"]
            score = 0.0 if distance is None or math.isnan(distance) else 1.0 - distance
            scored.append((to_record(row), score))
        return scored

    async def _text(
        self, table: _Table, query: VectorQuery, where: str | None, limit: int
    ) -> list[tuple[Record, float]]:
        assert query.text is not None
        search = (
            table.handle.query()
            .nearest_to_text(query.text, columns="text")
            .select([*columns(query.include_vectors), "_score"])
            .limit(limit)
        )
        if where is not None:
            search = search.where(where)
        async with _backend_errors(f"search the text of {table.info.name!r}"):
            rows = (await search.to_arrow()).to_pylist()
        return [(to_record(row), float(row["_score"])) for row in rows]

    @staticmethod
    async def _scan(
        table: _Table, where: str | None, limit: int, with_vectors: bool
    ) -> list[Record]:
        scan = table.handle.query().select(columns(with_vectors)).limit(limit)
        if where is not None:
            scan = scan.where(where)
        async with _backend_errors(f"read from {table.info.name!r}"):
            rows = (await scan.to_arrow()).to_pylist()
        return [to_record(row) for row in rows]
