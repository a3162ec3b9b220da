"""`PgVectorStore`: a `VectorStore` on PostgreSQL with the pgvector extension.

Vector search orders by pgvector's cosine distance (`<=>`) through an HNSW index and scores
`1 - distance`. HNSW searches a bounded candidate list (`hnsw.ef_search`, set per query to at
least `k`) and filters after the index, so a selective filter can leave fewer than `k` hits
although more records match: whenever the index returns fewer than `k`, the query runs again as
an exact scan (the filter then served by the `metadata` GIN index), so `k` matching records
always give `k` hits. pgvector 0.8's iterative scans would do the same inside the index; this
works on every pgvector from 0.5.

Text search is PostgreSQL's own: a generated `tsvector` column (GIN index), the query's words
OR-ed into a `tsquery` (a record matching any word is a hit), ranked by `ts_rank`. Hybrid
search fuses the two rankings, each taken `hybrid_depth(k)` deep, with
`reciprocal_rank_fusion`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
from pydantic_core import PydanticSerializationError, to_json
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from covey.spec.errors import ConfigurationError, EmbedderMismatchError, InvalidInputError
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
from covey.vectordb.pgvector.errors import sqlstate, translate_error
from covey.vectordb.pgvector.filters import compile_filter
from covey.vectordb.pgvector.schema import (
    HNSW_MAX_DIMENSIONS,
    LOCK_KEY,
    MAX_DIMENSIONS,
    REGISTRY,
    create_collection_statements,
    create_registry_statement,
    new_table_name,
)
from covey.vectordb.pgvector.urls import check_text_search_config, parse_url

__all__ = ["PgVectorStore", "hybrid_depth"]

_MAX_EF_SEARCH = 1000  # pgvector's upper bound for hnsw.ef_search
_INSTALL_PGVECTOR = (
    "Install pgvector on the server (Debian/Ubuntu: apt install postgresql-<version>-pgvector "
    "from the PostgreSQL apt repository; Docker: the pgvector/pgvector image; managed services: "
    "enable the 'vector' extension), then run CREATE EXTENSION vector as a superuser (or let "
    "this store run it on first use)."
)
_TSQUERY = (
    "CAST(replace(CAST(plainto_tsquery(CAST(:config AS regconfig), :query_text) AS text),"
    " ' & ', ' | ') AS tsquery)"
)


def hybrid_depth(k: int) -> int:
    """How deep each ranking is taken before a hybrid query fuses them: `4k`, 40 to 1000."""
    return min(_MAX_EF_SEARCH, max(40, 4 * k))


@dataclass(frozen=True, slots=True)
class _Collection:
    table: str
    info: CollectionInfo
    config: str


def _vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in vector) + "]"


def _metadata_json(record: Record) -> str:
    try:
        return to_json(record.metadata, inf_nan_mode="null").decode()
    except PydanticSerializationError as e:
        raise InvalidInputError(
            f"Record {record.id!r} has metadata that is not JSON-serialisable: {e}"
        ) from None


def _score(distance: float | None) -> float:
    # A zero vector has no direction: pgvector says NaN, the reference store says 0.
    if distance is None or distance != distance:
        return 0.0
    return 1.0 - distance


class PgVectorStore(VectorStore):
    """A `VectorStore` on PostgreSQL + pgvector: HNSW cosine search, full text, hybrid (RRF).

    Construction does no I/O: the first call connects, creates the `vector` extension if it
    is missing (it must be installed on the server) and the registry table. Safe to share
    between tasks; each call runs in one transaction on a pooled connection.

    Args:
        url: `postgresql+pgvector://user:password@host:5432/database` (see
            `covey.vectordb.pgvector.urls`). The password is never shown.
        text_search_config: The PostgreSQL text search configuration new collections index
            their text with: `simple` (default: lower-cased words, any language, no stemming)
            or a language such as `english` (stemming and stop words). Each collection keeps
            the one it was made with. Overrides the URL's `text_search_config` parameter.
        pool_size: Connections kept open.
        max_overflow: Extra connections allowed under load.
        connect_timeout: Seconds to wait for a new connection.

    Example:
        ```python
        store = PgVectorStore("postgresql+pgvector://covey@localhost:5432/covey")
        await store.ensure_collection("docs", embedder_name="local:all-minilm-l6-v2", dimensions=384)
        ```
    """

    def __init__(
        self,
        url: str,
        *,
        text_search_config: str | None = None,
        pool_size: int = 5,
        max_overflow: int = 10,
        connect_timeout: float = 10.0,
    ) -> None:
        self._url = parse_url(url)
        self._config = check_text_search_config(
            text_search_config or self._url.text_search_config or "simple"
        )
        self._pool_size = pool_size
        self._max_overflow = max_overflow
        self._connect_timeout = connect_timeout
        self._engine: AsyncEngine | None = None
        self._ready = False
        self._ready_lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._url.masked!r})"

    @property
    def text_search_config(self) -> str:
        """The text search configuration new collections use."""
        return self._config

    # --- connections -----------------------------------------------------------------------------

    def _get_engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_async_engine(
                self._url.sqlalchemy_url,
                pool_size=self._pool_size,
                max_overflow=self._max_overflow,
                pool_pre_ping=True,
                pool_recycle=1800,
                hide_parameters=True,
                connect_args={
                    "timeout": self._connect_timeout,
                    "server_settings": {"application_name": "covey-vectordb-pgvector"},
                },
            )
        return self._engine

    async def close(self) -> None:
        """Close every pooled connection. Safe to call twice; a later call reconnects."""
        engine, self._engine = self._engine, None
        if engine is not None:
            await engine.dispose()

    @asynccontextmanager
    async def _transaction(
        self, action: str, collection: str | None = None
    ) -> AsyncGenerator[AsyncConnection]:
        try:
            if not self._ready:
                await self._prepare()
            async with self._get_engine().begin() as conn:
                yield conn
        except CollectionNotFoundError:
            raise
        except (sa_exc.SQLAlchemyError, OSError, TimeoutError, UnicodeEncodeError) as e:
            if collection is not None and sqlstate(e) == "42P01":
                # The table went between the registry lookup and its use: dropped meanwhile.
                raise CollectionNotFoundError(collection) from None
            raise translate_error(
                e, action=action, where=self._url.masked, password=self._url.sqlalchemy_url.password
            ) from None

    async def _prepare(self) -> None:
        async with self._ready_lock:
            if self._ready:
                return
            async with self._get_engine().begin() as conn:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
                installed = await conn.scalar(
                    text("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
                )
                if not installed:
                    await self._create_extension(conn)
                if await conn.scalar(text(f"SELECT to_regclass('{REGISTRY}')")) is None:
                    await conn.execute(text(create_registry_statement()))
            self._ready = True

    async def _create_extension(self, conn: AsyncConnection) -> None:
        try:
            async with conn.begin_nested():
                await conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        except sa_exc.DBAPIError as e:
            code = sqlstate(e) or ""
            reason = str(e.orig).strip().splitlines()[0] if e.orig else type(e).__name__
            if code == "42501":
                why = "may not create the 'vector' extension"
            elif code in ("0A000", "58P01"):
                why = "has no pgvector extension installed"
            else:
                raise
            raise ConfigurationError(
                f"PostgreSQL at {self._url.masked} {why} ({reason}). {_INSTALL_PGVECTOR}"
            ) from None

    @staticmethod
    async def _lookup(conn: AsyncConnection, name: str, *, lock: str | None = None) -> _Collection:
        check_collection_name(name)
        suffix = f" FOR {lock}" if lock else ""
        row = (
            await conn.execute(
                text(
                    "SELECT table_name, embedder_name, dimensions, text_search_config"
                    f" FROM {REGISTRY} WHERE name = :name{suffix}"
                ),
                {"name": name},
            )
        ).first()
        if row is None:
            raise CollectionNotFoundError(name)
        info = CollectionInfo(name=name, embedder_name=row[1], dimensions=row[2])
        return _Collection(table=row[0], info=info, config=row[3])

    @staticmethod
    async def _count(conn: AsyncConnection, found: _Collection, flt: Filter | None = None) -> int:
        compiled = compile_filter(flt)
        counted = await conn.scalar(
            text(f'SELECT count(*) FROM "{found.table}" WHERE {compiled.sql}'), compiled.params
        )
        return int(counted or 0)

    # --- collections -----------------------------------------------------------------------------

    async def ensure_collection(
        self, name: str, *, embedder_name: str, dimensions: int
    ) -> CollectionInfo:
        """See `VectorStore.ensure_collection`.

        Raises:
            InvalidInputError: also when `dimensions` is above pgvector's 16,000.
            ConfigurationError: the store's text search configuration does not exist on the
                server, or pgvector is not installed there.
        """
        check_collection_name(name)
        check_id(embedder_name, "embedder_name")
        if type(dimensions) is not int or not 1 <= dimensions <= MAX_DIMENSIONS:
            raise InvalidInputError(
                f"dimensions must be an integer from 1 to {MAX_DIMENSIONS}, got {dimensions!r}"
            )
        async with self._transaction(f"ensure_collection {name!r}") as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            try:
                found = await self._lookup(conn, name)
            except CollectionNotFoundError:
                pass
            else:
                check_embedder(found.info, embedder_name, dimensions)
                count = await self._count(conn, found)
                return found.info.model_copy(update={"count": count})
            known = await conn.scalar(
                text("SELECT 1 FROM pg_ts_config WHERE cfgname = :config"),
                {"config": self._config},
            )
            if not known:
                raise ConfigurationError(
                    f"PostgreSQL has no text search configuration {self._config!r}; "
                    "`SELECT cfgname FROM pg_ts_config` lists the ones it has."
                )
            table = new_table_name()
            for statement in create_collection_statements(table, dimensions, self._config):
                await conn.execute(text(statement))
            await conn.execute(
                text(
                    f"INSERT INTO {REGISTRY} (name, table_name, embedder_name, dimensions,"
                    " text_search_config) VALUES (:name, :table, :embedder, :dims, :config)"
                ),
                {
                    "name": name,
                    "table": table,
                    "embedder": embedder_name,
                    "dims": dimensions,
                    "config": self._config,
                },
            )
            return CollectionInfo(name=name, embedder_name=embedder_name, dimensions=dimensions)

    async def list_collections(self) -> list[CollectionInfo]:
        """See `VectorStore.list_collections`."""
        async with self._transaction("list_collections") as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT name, table_name, embedder_name, dimensions, text_search_config"
                        f' FROM {REGISTRY} ORDER BY name COLLATE "C"'
                    )
                )
            ).all()
            listed: list[CollectionInfo] = []
            for name, table, embedder, dims, config in rows:
                info = CollectionInfo(name=name, embedder_name=embedder, dimensions=dims)
                count = await self._count(conn, _Collection(table, info, config))
                listed.append(info.model_copy(update={"count": count}))
            return listed

    async def drop_collection(self, name: str) -> bool:
        """See `VectorStore.drop_collection`."""
        check_collection_name(name)
        async with self._transaction(f"drop_collection {name!r}") as conn:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
            try:
                found = await self._lookup(conn, name, lock="UPDATE")
            except CollectionNotFoundError:
                return False
            await conn.execute(text(f'DROP TABLE IF EXISTS "{found.table}"'))
            await conn.execute(text(f"DELETE FROM {REGISTRY} WHERE name = :name"), {"name": name})
            return True

    # --- records ---------------------------------------------------------------------------------

    async def upsert(self, collection: str, records: Sequence[Record]) -> None:
        """See `VectorStore.upsert`. One transaction: every record is written, or none."""
        check_collection_name(collection)
        async with self._transaction(f"upsert into {collection!r}", collection) as conn:
            # FOR SHARE: a concurrent drop waits for this write instead of racing it.
            found = await self._lookup(conn, collection, lock="SHARE")
            check_records(records, found.info)
            if not records:
                return
            rows: list[dict[str, Any]] = [
                {
                    "id": r.id,
                    "embedding": _vector_literal(r.vector or ()),
                    "text": r.text,
                    "metadata": _metadata_json(r),
                }
                # One order for every writer, so two overlapping batches cannot deadlock.
                for r in sorted(records, key=lambda r: r.id)
            ]
            await conn.execute(
                text(
                    f'INSERT INTO "{found.table}" (id, embedding, text, metadata) VALUES '
                    "(:id, CAST(CAST(:embedding AS text) AS vector), :text,"
                    " CAST(:metadata AS jsonb))"
                    " ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding,"
                    " text = EXCLUDED.text, metadata = EXCLUDED.metadata"
                ),
                rows,
            )

    async def get(self, collection: str, ids: Sequence[str]) -> list[Record]:
        """See `VectorStore.get`."""
        for record_id in ids:
            check_id(record_id, "record id")
        check_collection_name(collection)
        async with self._transaction(f"get from {collection!r}", collection) as conn:
            found = await self._lookup(conn, collection)
            if not ids:
                return []
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, text, metadata::text, embedding::text"
                        f' FROM "{found.table}" WHERE id = ANY(CAST(:ids AS text[]))'
                    ),
                    {"ids": list(dict.fromkeys(ids))},
                )
            ).all()
        by_id = {row[0]: self._record(row, with_vector=True) for row in rows}
        return [by_id[i] for i in dict.fromkeys(ids) if i in by_id]

    async def delete(
        self,
        collection: str,
        *,
        ids: Sequence[str] | None = None,
        filter: Filter | None = None,
    ) -> int:
        """See `VectorStore.delete`."""
        check_delete(ids, filter)
        check_collection_name(collection)
        compiled = compile_filter(filter)
        params: dict[str, Any] = dict(compiled.params)
        where = compiled.sql
        if ids is not None:
            where = f"id = ANY(CAST(:ids AS text[])) AND {where}"
            params["ids"] = list(ids)
        async with self._transaction(f"delete from {collection!r}", collection) as conn:
            found = await self._lookup(conn, collection, lock="SHARE")
            result = await conn.execute(text(f'DELETE FROM "{found.table}" WHERE {where}'), params)
            return int(result.rowcount)  # pyright: ignore[reportAttributeAccessIssue]

    async def count(self, collection: str, filter: Filter | None = None) -> int:
        """See `VectorStore.count`."""
        check_collection_name(collection)
        async with self._transaction(f"count in {collection!r}", collection) as conn:
            return await self._count(conn, await self._lookup(conn, collection), filter)

    # --- queries ---------------------------------------------------------------------------------

    async def query(self, collection: str, query: VectorQuery) -> list[QueryHit]:
        """See `VectorStore.query` and the module documentation for how each mode runs."""
        check_collection_name(collection)
        async with self._transaction(f"query {collection!r}", collection) as conn:
            found = await self._lookup(conn, collection)
            if query.vector is not None and len(query.vector) != found.info.dimensions:
                raise EmbedderMismatchError(
                    f"The query vector has {len(query.vector)} dimensions, but collection "
                    f"{collection!r} holds {found.info.dimensions}-dimensional vectors of "
                    f"embedder {found.info.embedder_name!r}. Embed the query with that embedder."
                )
            if query.mode == "vector":
                scored = await self._vector_ranking(conn, found, query, query.k)
            elif query.mode == "text":
                scored = await self._text_ranking(conn, found, query, query.k)
            else:
                depth = hybrid_depth(query.k)
                by_vector = await self._vector_ranking(conn, found, query, depth)
                by_text = await self._text_ranking(conn, found, query, depth)
                records = {r.id: r for r, _ in by_vector} | {r.id: r for r, _ in by_text}
                fused = reciprocal_rank_fusion(
                    [[r.id for r, _ in by_vector], [r.id for r, _ in by_text]]
                )
                scored = [(records[rid], score) for rid, score in fused]
        hits: list[QueryHit] = []
        for record, score in scored:
            if query.min_score is not None and score < query.min_score:
                continue
            hits.append(QueryHit(record=record, score=score))
            if len(hits) == query.k:
                break
        return hits

    @staticmethod
    def _record(row: Sequence[Any], *, with_vector: bool) -> Record:
        return Record(
            id=row[0],
            text=row[1],
            metadata=json.loads(row[2]),
            vector=json.loads(row[3]) if with_vector and row[3] is not None else None,
        )

    async def _vector_ranking(
        self, conn: AsyncConnection, found: _Collection, query: VectorQuery, limit: int
    ) -> list[tuple[Record, float]]:
        assert query.vector is not None
        compiled = compile_filter(query.filter)
        vector_column = "embedding::text" if query.include_vectors else "NULL"
        distance = "(embedding <=> CAST(CAST(:query_vector AS text) AS vector))"
        params = {**compiled.params, "query_vector": _vector_literal(query.vector), "k": limit}
        select = (
            f"SELECT id, text, metadata::text, {vector_column}, {distance}"
            f' FROM "{found.table}" WHERE {compiled.sql}'
        )
        rows: Sequence[Any] = []
        if found.info.dimensions <= HNSW_MAX_DIMENSIONS:
            ef_search = min(_MAX_EF_SEARCH, max(40, limit))
            await conn.execute(text(f"SET LOCAL hnsw.ef_search = {ef_search}"))
            rows = (
                await conn.execute(text(f"{select} ORDER BY {distance} LIMIT :k"), params)
            ).all()
        if len(rows) < limit:
            # The index may have missed matching records (see the module documentation): scan.
            await conn.execute(text("SET LOCAL enable_indexscan = off"))
            exact = f"{select} ORDER BY coalesce(nullif({distance}, 'NaN'), 1), id LIMIT :k"
            rows = (await conn.execute(text(exact), params)).all()
            await conn.execute(text("SET LOCAL enable_indexscan = on"))
        scored = [
            (self._record(row, with_vector=query.include_vectors), _score(row[4])) for row in rows
        ]
        scored.sort(key=lambda pair: (-pair[1], pair[0].id))
        return scored

    async def _text_ranking(
        self, conn: AsyncConnection, found: _Collection, query: VectorQuery, limit: int
    ) -> list[tuple[Record, float]]:
        compiled = compile_filter(query.filter)
        vector_column = "embedding::text" if query.include_vectors else "NULL"
        params = {
            **compiled.params,
            "config": found.config,
            "query_text": query.text or "",
            "k": limit,
        }
        rows = (
            await conn.execute(
                text(
                    f"SELECT id, text, metadata::text, {vector_column}, ts_rank(tsv, {_TSQUERY})"
                    f' AS rank FROM "{found.table}" WHERE tsv @@ {_TSQUERY} AND {compiled.sql}'
                    " ORDER BY rank DESC, id LIMIT :k"
                ),
                params,
            )
        ).all()
        return [
            (self._record(row, with_vector=query.include_vectors), float(row[4])) for row in rows
        ]
