"""The ingestion pipeline of one knowledge base: read, chunk, embed, store, and the rows."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from covey.knowledge.chunkers import Chunker
from covey.knowledge.documents import Chunk
from covey.knowledge.ingest import (
    ProgressEvent,
    Stage,
    chunk_id,
    chunk_metadata,
    content_id,
    hash_bytes,
    owner_scope,
    version_of,
)
from covey.knowledge.readers import pick_reader
from covey.knowledge.rows import list_rows, row_version, with_fields
from covey.knowledge.sources import Source, SourceSet
from covey.spec.embeddings import Embedder, embed_batched
from covey.spec.errors import CoveyError, InvalidInputError
from covey.spec.store import KnowledgeContent, Scope, Store
from covey.spec.vectors import And, Eq, Not, Record, VectorStore

__all__ = ["Pipeline"]

Report = Callable[[ProgressEvent], Awaitable[None]] | None

_UPSERT_BATCH = 256


@dataclass(slots=True)
class Pipeline:
    """Everything a `Knowledge` resolved on first use, and the work done with it."""

    knowledge: str
    embedder: Embedder
    vectors: VectorStore
    store: Store
    chunker: Chunker
    max_bytes: int
    allow_private_urls: bool | tuple[str, ...]
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict[str, asyncio.Lock])

    def url_source(self, url: str, name: str | None, content_type: str | None) -> Source:
        """A source that fetches `url` through the SSRF guard when read."""
        from covey.knowledge.fetch import fetch_url, url_name

        async def load() -> tuple[bytes, str | None]:
            fetched = await fetch_url(
                url, allow_private=self.allow_private_urls, max_bytes=self.max_bytes
            )
            return fetched.content, content_type or fetched.content_type

        return Source(
            key=url, name=name or url_name(url), source=url, content_type=content_type, load=load
        )

    async def ingest_all(
        self,
        sources: SourceSet,
        scope: Scope,
        metadata: dict[str, Any],
        report: Report,
        *,
        raise_errors: bool,
    ) -> list[KnowledgeContent]:
        """Ingest each source in turn; then drop contents of a folder's files that are gone."""
        from covey.knowledge.rows import public

        contents: list[KnowledgeContent] = []
        for source in sources.sources:
            contents.append(
                await self.ingest_one(source, scope, metadata, report, raise_errors=raise_errors)
            )
        if sources.folder is not None or sources.pattern is not None:
            kept = {c.id for c in contents}
            for row in await self._all_rows(scope):
                if (
                    row.id not in kept
                    and row.user_id == scope.user_id
                    and sources.covers(row.source)
                ):
                    await self.remove(scope, row)
        return [public(c) for c in contents]

    async def _all_rows(self, scope: Scope) -> list[KnowledgeContent]:
        rows: list[KnowledgeContent] = []
        cursor: str | None = None
        while True:
            page = await list_rows(
                self.store, scope, knowledge=self.knowledge, limit=1000, cursor=cursor
            )
            rows.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                return rows

    async def ingest_one(
        self,
        source: Source,
        scope: Scope,
        metadata: dict[str, Any],
        report: Report,
        *,
        raise_errors: bool,
        existing: KnowledgeContent | None = None,
    ) -> KnowledgeContent:
        """Ingest one source; a failure is saved on its row (and raised if `raise_errors`)."""
        cid = content_id(scope, self.knowledge, source.key)
        lock = self._locks.setdefault(cid, asyncio.Lock())
        async with lock:
            if existing is None:
                existing = await self.store.get_knowledge_content(scope, cid)
            row = existing or KnowledgeContent(
                id=cid, name=source.name, source=source.source, user_id=scope.user_id
            )
            row = row.model_copy(
                update={"name": source.name, "metadata": {**metadata, **_bookkeeping(row)}}
            )
            try:
                return await self._run(source, scope, row, existing, metadata, report)
            except Exception as exc:
                message = str(exc) if isinstance(exc, CoveyError) else type(exc).__name__
                failed = with_fields(
                    row, knowledge=self.knowledge, status="failed", status_message=message
                )
                saved = await self.store.save_knowledge_content(scope, failed)
                await _emit(report, ProgressEvent(cid, source.name, "failed", message=message))
                if raise_errors:
                    raise
                return saved

    async def _run(
        self,
        source: Source,
        scope: Scope,
        row: KnowledgeContent,
        existing: KnowledgeContent | None,
        metadata: dict[str, Any],
        report: Report,
    ) -> KnowledgeContent:
        knowledge = self.knowledge

        async def stage(name: Stage, total: int = 0, done: int = 0) -> None:
            await _emit(report, ProgressEvent(row.id, row.name, name, total, done))

        await stage("reading")
        data, fetched_type = await source.load()
        if len(data) > self.max_bytes:
            raise InvalidInputError(
                f"{source.name} is {len(data)} bytes, over the limit of {self.max_bytes} bytes"
            )
        content_type = source.content_type or fetched_type
        data_hash = hash_bytes(data)
        version = version_of(data_hash, self.chunker.name, self.embedder.name, metadata)
        unchanged = existing is not None and existing.status == "completed"
        if existing is not None and unchanged and row_version(existing) == version:
            await _emit(report, ProgressEvent(row.id, row.name, "done", message="unchanged"))
            return existing
        row = with_fields(
            row,
            knowledge=knowledge,
            status="processing",
            status_message=None,
            content_type=content_type,
            size=len(data),
            content_hash=data_hash,
        )
        row = await self.store.save_knowledge_content(scope, row)
        reader = pick_reader(data, name=source.name, content_type=content_type)
        documents = await anyio.to_thread.run_sync(lambda: reader.read(data, name=source.name))
        await stage("chunking")
        chunks: list[Chunk] = []
        for document in documents:
            document.metadata.update(metadata)
            chunks.extend(c for c in await self.chunker.chunk(document) if c.text.strip())
        total = len(chunks)
        ids = [chunk_id(row.id, i, c.text) for i, c in enumerate(chunks)]
        owner = owner_scope(scope, row)
        records = [
            Record(
                id=ids[i],
                text=c.text,
                metadata=chunk_metadata(
                    chunk=c.metadata,
                    knowledge=knowledge,
                    content=row,
                    scope=owner,
                    position=i,
                    version=version,
                ),
            )
            for i, c in enumerate(chunks)
        ]
        await stage("embedding", total)
        # A chunk whose id is already stored has the same content, position and text: its
        # vector is reused, so an edit re-embeds only what changed.
        known = {r.id: r.vector for r in await self.vectors.get(knowledge, ids) if r.vector}
        missing = [r for r in records if r.id not in known]

        async def embedded(done: int, _total: int) -> None:
            await stage("embedding", total, total - len(missing) + done)

        vectors = await embed_batched(
            self.embedder, [r.text or "" for r in missing], on_progress=embedded
        )
        fresh = dict(zip((r.id for r in missing), vectors, strict=True))
        for record in records:
            record.vector = known.get(record.id) or fresh[record.id]
        await stage("storing", total)
        for start in range(0, total, _UPSERT_BATCH):
            await self.vectors.upsert(knowledge, records[start : start + _UPSERT_BATCH])
            await stage("storing", total, min(start + _UPSERT_BATCH, total))
        if existing is not None:
            await self.vectors.delete(
                knowledge,
                filter=And(Eq("_content_id", row.id), Not(Eq("_version", version))),
            )
        done = with_fields(
            row,
            knowledge=knowledge,
            status="completed",
            status_message=None,
            chunk_count=total,
            version=version,
        )
        done = await self.store.save_knowledge_content(scope, done)
        await stage("done", total, total)
        return done

    async def remove(self, scope: Scope, row: KnowledgeContent) -> None:
        """Delete a content's chunks, then its row (so no chunk outlives its row)."""
        async with self._locks.setdefault(row.id, asyncio.Lock()):
            await self.vectors.delete(
                self.knowledge,
                filter=And(Eq("_tenant", scope.tenant_id), Eq("_content_id", row.id)),
            )
            await self.store.delete_knowledge_content(scope, row.id)

    async def resume(
        self, scope: Scope, rows: Sequence[KnowledgeContent]
    ) -> list[KnowledgeContent]:
        """Ingest again the sources of `rows`, left unfinished by a crash."""
        from covey.knowledge.sources import expand_path, is_url

        done: list[KnowledgeContent] = []
        for row in rows:
            owner = owner_scope(scope, row)
            metadata = {k: v for k, v in row.metadata.items() if not k.startswith("_")}
            source_text = row.source or ""
            try:
                if is_url(source_text):
                    source = self.url_source(source_text, row.name, row.content_type)
                elif source_text in ("upload", "text", ""):
                    raise InvalidInputError(
                        "Ingestion was interrupted and the uploaded bytes are gone; upload "
                        "the document again."
                    )
                else:
                    [source] = expand_path(source_text, self.max_bytes).sources
            except CoveyError as exc:
                failed = with_fields(
                    row, knowledge=self.knowledge, status="failed", status_message=str(exc)
                )
                done.append(await self.store.save_knowledge_content(owner, failed))
                continue
            done.append(
                await self.ingest_one(
                    source, owner, metadata, None, raise_errors=False, existing=row
                )
            )
        return done


def _bookkeeping(row: KnowledgeContent) -> dict[str, Any]:
    return {k: v for k, v in row.metadata.items() if k.startswith("_")}


async def _emit(report: Report, event: ProgressEvent) -> None:
    if report is not None:
        await report(event)
