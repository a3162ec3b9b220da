"""The ingestion pipeline of one knowledge base: read, chunk, embed, store, and the rows."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
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
from covey.knowledge.rows import list_rows, public, row_version, with_fields
from covey.knowledge.sources import Source, SourceSet, expand_path, is_url
from covey.spec.embeddings import Embedder, embed_batched
from covey.spec.errors import CoveyError, InvalidInputError
from covey.spec.store import KnowledgeContent, Scope, Store
from covey.spec.vectors import And, Eq, Not, Record, VectorStore

__all__ = ["Pipeline"]

Report = Callable[[ProgressEvent], Awaitable[None]] | None

_UPSERT_BATCH = 1000
_FLUSH_CHUNKS = 1000


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
    _locks: dict[str, tuple[asyncio.Lock, int]] = field(
        default_factory=dict[str, tuple[asyncio.Lock, int]]
    )

    @asynccontextmanager
    async def _lock(self, content: str) -> AsyncGenerator[None]:
        # One ingestion or removal of a content at a time; the lock is dropped when unused.
        lock, users = self._locks.get(content, (asyncio.Lock(), 0))
        self._locks[content] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[content]
            if users == 1:
                del self._locks[content]
            else:
                self._locks[content] = (lock, users - 1)

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
        many = sources.folder is not None or sources.pattern is not None
        if many:
            await self._mark_pending(sources, scope, metadata)
        contents = await self._ingest_batched(
            sources.sources, scope, metadata, report, raise_errors=raise_errors
        )
        if many:
            kept = {c.id for c in contents}
            for row in await self._all_rows(scope):
                if (
                    row.id not in kept
                    and row.user_id == scope.user_id
                    and sources.covers(row.source)
                ):
                    await self.remove(scope, row)
        return [public(c) for c in contents]

    async def _mark_pending(
        self, sources: SourceSet, scope: Scope, metadata: dict[str, Any]
    ) -> None:
        # New (or unfinished) files of a folder are listed at once, so progress shows the
        # whole job and `resume` finds what a crash left undone. Completed ones stay as they
        # are until their turn: unchanged content must write nothing.
        for source in sources.sources:
            cid = content_id(scope, self.knowledge, source.key)
            existing = await self.store.get_knowledge_content(scope, cid)
            if existing is not None and existing.status in ("completed", "pending"):
                continue
            row = existing or KnowledgeContent(
                id=cid,
                knowledge=self.knowledge,
                name=source.name,
                source=source.source,
                user_id=scope.user_id,
            )
            pending = {**metadata, **_bookkeeping(row)}
            await self.store.save_knowledge_content(
                scope,
                row.model_copy(
                    update={"status": "pending", "status_message": None, "metadata": pending}
                ),
            )

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

    async def _ingest_batched(
        self,
        sources: Sequence[Source],
        scope: Scope,
        metadata: dict[str, Any],
        report: Report,
        *,
        raise_errors: bool,
        existing: KnowledgeContent | None = None,
    ) -> list[KnowledgeContent]:
        # Documents are read and chunked one by one, but embedded and stored together, up to
        # _FLUSH_CHUNKS chunks at a time: a folder of small files makes full embedding batches
        # and a few large vector-store writes instead of one small write per file.
        contents: list[KnowledgeContent] = []
        batch: list[_Job] = []
        size = 0
        locks = AsyncExitStack()
        try:
            for source in sources:
                cid = content_id(scope, self.knowledge, source.key)
                await locks.enter_async_context(self._lock(cid))
                prepared = await self._prepare_or_fail(
                    source, cid, scope, metadata, report, raise_errors, existing
                )
                if isinstance(prepared, KnowledgeContent):
                    contents.append(prepared)
                    continue
                batch.append(prepared)
                size += len(prepared.records)
                if size >= _FLUSH_CHUNKS:
                    contents.extend(await self._flush_or_fail(batch, raise_errors))
                    batch, size = [], 0
                    await locks.aclose()
                    locks = AsyncExitStack()
            contents.extend(await self._flush_or_fail(batch, raise_errors))
        finally:
            await locks.aclose()
        return contents

    async def _fail(
        self, job_row: KnowledgeContent, scope: Scope, exc: Exception, report: Report
    ) -> KnowledgeContent:
        message = str(exc) if isinstance(exc, CoveyError) else type(exc).__name__
        failed = with_fields(job_row, status="failed", status_message=message)
        saved = await self.store.save_knowledge_content(scope, failed)
        await _emit(report, ProgressEvent(job_row.id, job_row.name, "failed", message=message))
        return saved

    async def _prepare_or_fail(
        self,
        source: Source,
        cid: str,
        scope: Scope,
        metadata: dict[str, Any],
        report: Report,
        raise_errors: bool,
        existing: KnowledgeContent | None,
    ) -> _Job | KnowledgeContent:
        """The job for `source`, or its row when unchanged (or failed)."""
        if existing is None:
            existing = await self.store.get_knowledge_content(scope, cid)
        row = existing or KnowledgeContent(
            id=cid,
            knowledge=self.knowledge,
            name=source.name,
            source=source.source,
            user_id=scope.user_id,
        )
        row = row.model_copy(
            update={"name": source.name, "metadata": {**metadata, **_bookkeeping(row)}}
        )
        try:
            return await self._prepare(source, scope, row, existing, metadata, report)
        except Exception as exc:
            saved = await self._fail(row, scope, exc, report)
            if raise_errors:
                raise
            return saved

    async def _prepare(
        self,
        source: Source,
        scope: Scope,
        row: KnowledgeContent,
        existing: KnowledgeContent | None,
        metadata: dict[str, Any],
        report: Report,
    ) -> _Job | KnowledgeContent:
        knowledge = self.knowledge
        await _emit(report, ProgressEvent(row.id, row.name, "reading"))
        data, fetched_type = await source.load()
        if len(data) > self.max_bytes:
            raise InvalidInputError(
                f"{source.name} is {len(data)} bytes, over the limit of {self.max_bytes} bytes"
            )
        content_type = source.content_type or fetched_type
        data_hash = hash_bytes(data)
        version = version_of(data_hash, self.chunker.name, self.embedder.name, metadata)
        completed = existing is not None and existing.status == "completed"
        if existing is not None and completed and row_version(existing) == version:
            await _emit(report, ProgressEvent(row.id, row.name, "done", message="unchanged"))
            return existing
        row = with_fields(
            row,
            status="processing",
            status_message=None,
            content_type=content_type,
            size=len(data),
            content_hash=data_hash,
        )
        row = await self.store.save_knowledge_content(scope, row)
        reader = pick_reader(data, name=source.name, content_type=content_type)
        documents = await anyio.to_thread.run_sync(lambda: reader.read(data, name=source.name))
        await _emit(report, ProgressEvent(row.id, row.name, "chunking"))
        chunks: list[Chunk] = []
        for document in documents:
            document.metadata.update(metadata)
            chunks.extend(c for c in await self.chunker.chunk(document) if c.text.strip())
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
        if existing is not None:
            # A chunk whose id is already stored has the same content, position and text: its
            # vector is reused, so an edit re-embeds only what changed.
            for stored in await self.vectors.get(knowledge, ids):
                if stored.vector:
                    records[ids.index(stored.id)].vector = stored.vector
        return _Job(scope, row, existing is not None, version, records, report)

    async def _flush_or_fail(self, jobs: list[_Job], raise_errors: bool) -> list[KnowledgeContent]:
        if not jobs:
            return []
        try:
            return await self._flush(jobs)
        except Exception as exc:
            failed = [await self._fail(job.row, job.scope, exc, job.report) for job in jobs]
            if raise_errors:
                raise
            return failed

    async def _flush(self, jobs: list[_Job]) -> list[KnowledgeContent]:
        """Embed the jobs' missing vectors and store their records; complete their rows."""
        missing = [r for job in jobs for r in job.records if r.vector is None]
        for job in jobs:
            await job.stage("embedding", sum(r.vector is not None for r in job.records))

        async def embedded(done: int, _total: int) -> None:
            if len(jobs) == 1:  # one long document: report each batch
                job = jobs[0]
                await job.stage("embedding", len(job.records) - len(missing) + done)

        vectors = await embed_batched(
            self.embedder, [r.text or "" for r in missing], on_progress=embedded
        )
        for record, vector in zip(missing, vectors, strict=True):
            record.vector = vector
        for job in jobs:
            await job.stage("storing", 0)
        records = [r for job in jobs for r in job.records]
        for start in range(0, len(records), _UPSERT_BATCH):
            await self.vectors.upsert(self.knowledge, records[start : start + _UPSERT_BATCH])
            if len(jobs) == 1 and start + _UPSERT_BATCH < len(records):
                # A long document: its row shows how far it got.
                job = jobs[0]
                stored = start + _UPSERT_BATCH
                job.row = await self.store.save_knowledge_content(
                    job.scope, with_fields(job.row, chunk_count=stored)
                )
                await job.stage("storing", stored)
        done: list[KnowledgeContent] = []
        for job in jobs:
            if job.replaces:
                await self.vectors.delete(
                    self.knowledge,
                    filter=And(Eq("_content_id", job.row.id), Not(Eq("_version", job.version))),
                )
            total = len(job.records)
            row = with_fields(
                job.row,
                status="completed",
                status_message=None,
                chunk_count=total,
                version=job.version,
            )
            done.append(await self.store.save_knowledge_content(job.scope, row))
            await job.stage("done", total)
        return done

    async def remove(self, scope: Scope, row: KnowledgeContent) -> None:
        """Delete a content's chunks, then its row (so no chunk outlives its row)."""
        async with self._lock(row.id):
            await self.vectors.delete(
                self.knowledge,
                filter=And(Eq("_tenant", scope.tenant_id), Eq("_content_id", row.id)),
            )
            await self.store.delete_knowledge_content(scope, row.id)

    async def resume(
        self, scope: Scope, rows: Sequence[KnowledgeContent]
    ) -> list[KnowledgeContent]:
        """Ingest again the sources of `rows`, left unfinished by a crash."""
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
                failed = with_fields(row, status="failed", status_message=str(exc))
                done.append(await self.store.save_knowledge_content(owner, failed))
                continue
            done.extend(
                await self._ingest_batched(
                    [source], owner, metadata, None, raise_errors=False, existing=row
                )
            )
        return done


@dataclass(slots=True)
class _Job:
    """A document read and chunked, waiting to be embedded and stored."""

    scope: Scope
    row: KnowledgeContent
    replaces: bool
    """Whether the content had chunks before (so leftovers of other versions are deleted)."""
    version: str
    records: list[Record]
    report: Report

    async def stage(self, name: Stage, done: int) -> None:
        total = len(self.records)
        await _emit(self.report, ProgressEvent(self.row.id, self.row.name, name, total, done))


def _bookkeeping(row: KnowledgeContent) -> dict[str, Any]:
    return {k: v for k, v in row.metadata.items() if k.startswith("_")}


async def _emit(report: Report, event: ProgressEvent) -> None:
    if report is not None:
        await report(event)
