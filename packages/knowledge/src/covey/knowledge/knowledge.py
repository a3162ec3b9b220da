"""`Knowledge`: documents in, scored passages out."""

from __future__ import annotations

import asyncio
import inspect
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from types import TracebackType
from typing import Any, Self

from covey.knowledge.chunkers import Chunker, RecursiveChunker
from covey.knowledge.ingest import ProgressEvent, check_metadata, hit_metadata, scope_filter
from covey.knowledge.pipeline import Pipeline
from covey.knowledge.rerank import Reranker, RerankVectors
from covey.knowledge.rows import list_rows, public
from covey.knowledge.sources import SourceSet, bytes_source, expand_path, is_url
from covey.spec.embeddings import Embedder
from covey.spec.errors import ConfigurationError, CoveyError, InvalidInputError, NotFoundError
from covey.spec.knowledge import KnowledgeHit
from covey.spec.store import KnowledgeContent, KnowledgeStatus, Page, Scope, Store
from covey.spec.vectors import (
    And,
    Filter,
    QueryMode,
    VectorQuery,
    VectorStore,
    check_collection_name,
)

__all__ = ["DEFAULT_EMBEDDER", "DEFAULT_VECTOR_STORE", "Knowledge", "ProgressCallback"]

DEFAULT_EMBEDDER = "local:all-minilm-l6-v2"
"""The embedder used when none is given: offline, from `covey-models-local`."""
DEFAULT_VECTOR_STORE = "lancedb:///.covey/lancedb"
"""The vector store used when none is given: embedded, from `covey-vectordb-lancedb`."""
DEFAULT_STORE = "memory://"

ProgressCallback = Callable[[ProgressEvent], Awaitable[None] | None]
"""Called with each `ProgressEvent`; may be sync or async."""

_MODES = ("vector", "text", "hybrid")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class Knowledge:
    """A knowledge base: ingest documents, then search them by meaning, words or both.

    Construction does no I/O: the embedder, vector store and content store are resolved and
    opened on first use. The collection is named after the knowledge base and records its
    embedder, so a second embedder on the same collection is refused.

    Args:
        name: The knowledge base's name; also its vector collection's name (1 to 63 letters,
            digits, `_` or `-`).
        vector_store: A `VectorStore`, a vector store URL, or `None` for
            `DEFAULT_VECTOR_STORE` (needs `covey-vectordb-lancedb`).
        embedder: An `Embedder`, a `"provider:model"` string, or `None` for `DEFAULT_EMBEDDER`
            (needs `covey-models-local`).
        chunker: How documents are cut; `RecursiveChunker()` by default.
        store: The covey `Store` that keeps one `KnowledgeContent` row per source (status,
            counts, errors), a store URL, or `None` for `memory://`.
        reranker: Reorders the candidates of each search, e.g. `MMRReranker()`.
        description: What the knowledge base holds, for a model deciding to search it.
        allow_private_urls: `True` lets URL sources reach private, loopback and link-local
            addresses; a list of `"host:port"` entries allows exactly those. `False` (default)
            refuses them on every redirect hop.
        max_bytes: The largest source, in bytes.

    Example:
        ```python
        async with Knowledge("docs", vector_store=InMemoryVectorStore(),
                             embedder=HashEmbedder()) as kb:
            await kb.ingest_text("Covey runs agents.", name="intro")
            hits = await kb.search("agents")
        ```
    """

    def __init__(
        self,
        name: str,
        *,
        vector_store: VectorStore | str | None = None,
        embedder: Embedder | str | None = None,
        chunker: Chunker | None = None,
        store: Store | str | None = None,
        reranker: Reranker | None = None,
        description: str | None = None,
        allow_private_urls: bool | Sequence[str] = False,
        max_bytes: int = 50 * 1024 * 1024,
    ) -> None:
        try:
            check_collection_name(name)
        except InvalidInputError as exc:
            raise ConfigurationError(f"Knowledge base name: {exc}") from None
        if max_bytes < 1:
            raise ConfigurationError(f"max_bytes must be at least 1, got {max_bytes}")
        self._name = name
        self.description = description
        self.reranker = reranker
        self._chunker: Chunker = chunker if chunker is not None else RecursiveChunker()
        self._max_bytes = max_bytes
        self._allow_private_urls: bool | tuple[str, ...] = (
            allow_private_urls
            if isinstance(allow_private_urls, bool)
            else tuple(allow_private_urls)
        )
        self._embedder_arg = embedder if embedder is not None else DEFAULT_EMBEDDER
        self._vector_store_arg = vector_store if vector_store is not None else DEFAULT_VECTOR_STORE
        self._store_given = store is not None
        self._store_arg = store if store is not None else DEFAULT_STORE
        self._pipeline: Pipeline | None = None
        self._owned: list[Embedder | VectorStore | Store] = []
        self._opening: asyncio.Lock | None = None

    @property
    def name(self) -> str:
        """The knowledge base's name (and its vector collection's)."""
        return self._name

    @property
    def chunker(self) -> Chunker:
        """How documents are cut."""
        return self._chunker

    @property
    def max_bytes(self) -> int:
        """The largest source, in bytes."""
        return self._max_bytes

    @property
    def allow_private_urls(self) -> bool | tuple[str, ...]:
        """Whether (or which `host:port`) URL sources may reach non-public addresses."""
        return self._allow_private_urls

    def __repr__(self) -> str:
        return f"Knowledge(name={self._name!r})"

    def use_store(self, store: Store) -> None:
        """Keep content rows in `store`, unless a store was given to the constructor.

        A host such as the runtime calls it so that rows live in its own store. Call it before
        first use: once opened, the store in use stays.
        """
        if not self._store_given and self._pipeline is None:
            self._store_arg = store

    # --- lifecycle -------------------------------------------------------------------------------

    async def _open(self) -> Pipeline:
        if self._pipeline is not None:
            return self._pipeline
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._pipeline is None:
                self._pipeline = await self._resolve()
        return self._pipeline

    async def _resolve(self) -> Pipeline:
        from covey.spec.plugins import resolve_embedder, resolve_store, resolve_vector_store

        owned: list[Embedder | VectorStore | Store] = []
        try:
            embedder = self._embedder_arg
            if isinstance(embedder, str):
                embedder = resolve_embedder(embedder)
                owned.append(embedder)
            vectors = self._vector_store_arg
            if isinstance(vectors, str):
                vectors = resolve_vector_store(vectors)
                owned.append(vectors)
            store = self._store_arg
            if isinstance(store, str):
                store = resolve_store(store)
                owned.append(store)
            await vectors.ensure_collection(
                self._name, embedder_name=embedder.name, dimensions=embedder.dimensions
            )
        except BaseException:
            await _close_all(owned)
            raise
        self._owned = owned
        return Pipeline(
            knowledge=self._name,
            embedder=embedder,
            vectors=vectors,
            store=store,
            chunker=self._chunker,
            max_bytes=self._max_bytes,
            allow_private_urls=self._allow_private_urls,
        )

    async def aclose(self) -> None:
        """Close the embedder, vector store and store this knowledge base resolved itself.

        Objects passed in are left open: their owner closes them. Safe to call twice.
        """
        owned, self._owned, self._pipeline = self._owned, [], None
        await _close_all(owned)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- ingestion -------------------------------------------------------------------------------

    async def ingest(
        self,
        source: str | os.PathLike[str] | bytes,
        *,
        name: str | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        scope: Scope | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> list[KnowledgeContent]:
        """Add a file, folder, glob, URL or bytes; one `KnowledgeContent` per document.

        Unchanged content writes nothing; changed content replaces exactly its old chunks; a
        folder (or glob) ingested again removes the contents of its files that are gone.

        Args:
            source: An `http(s)://` URL; a path to a file, a folder (read recursively, hidden
                files skipped) or a glob (`docs/**/*.md`); or the bytes of one document.
            name: The content's name (bytes and URLs; files are named after the file).
            content_type: The MIME type, when the name's extension does not tell it.
            metadata: Your metadata for every chunk; keys may not start with `_`.
            scope: Whose content it is: a user's, or (tenant-wide) shared with the tenant.
            on_progress: Called with a `ProgressEvent` at each stage of each document.

        Returns:
            The contents, completed or failed (with `status_message`).

        Raises:
            InvalidInputError: bad metadata, or the only document cannot be read (its content
                row is saved as failed first).
            NotFoundError: no such path, or a glob that matches nothing.
        """
        scope = scope or Scope()
        user_metadata = check_metadata(metadata)
        pipeline = await self._open()
        if isinstance(source, bytes | bytearray | memoryview):
            sources = SourceSet([bytes_source(bytes(source), name=name, content_type=content_type)])
        elif is_url(source):
            sources = SourceSet([pipeline.url_source(str(source), name, content_type)])
        elif isinstance(source, str) and _SCHEME.match(source):
            raise InvalidInputError(
                f"Only http:// and https:// URLs are fetched, not {source.split(':', 1)[0]}://"
            )
        elif isinstance(source, str | os.PathLike):  # pyright: ignore[reportUnnecessaryIsInstance]
            sources = expand_path(source, self.max_bytes)
            if sources.folder is None and sources.pattern is None:  # one file: name/type apply
                [file] = sources.sources
                sources = SourceSet(
                    [replace(file, name=name or file.name, content_type=content_type)]
                )
        else:
            raise InvalidInputError(
                f"Cannot ingest a {type(source).__name__}: give a path, a URL or bytes"
            )
        single = len(sources.sources) == 1 and sources.folder is None and sources.pattern is None
        return await pipeline.ingest_all(
            sources, scope, user_metadata, _progress(on_progress), raise_errors=single
        )

    async def ingest_text(
        self,
        text: str,
        *,
        name: str,
        metadata: Mapping[str, Any] | None = None,
        scope: Scope | None = None,
    ) -> KnowledgeContent:
        """Add a text as one document called `name` (Markdown when `name` ends in `.md`).

        Ingesting the same name again replaces the text (only the chunks that changed).
        """
        scope = scope or Scope()
        user_metadata = check_metadata(metadata)
        pipeline = await self._open()
        kind = "text/markdown" if name.lower().endswith((".md", ".markdown")) else "text/plain"
        source = bytes_source(text.encode(), name=name, content_type=kind, origin="text")
        [content] = await pipeline.ingest_all(
            SourceSet([source]), scope, user_metadata, None, raise_errors=True
        )
        return content

    async def resume(self, scope: Scope | None = None) -> list[KnowledgeContent]:
        """Re-run the contents a crash left `pending` or `processing`.

        Path and URL sources are read again; uploaded bytes are gone, so those contents are
        marked failed, asking for the upload again.

        Returns:
            The contents it touched, as they now are.
        """
        scope = scope or Scope()
        pipeline = await self._open()
        stuck: list[KnowledgeContent] = []
        for status in ("pending", "processing"):
            cursor: str | None = None
            while True:
                page = await list_rows(
                    pipeline.store, scope, knowledge=self._name, status=status, cursor=cursor
                )
                stuck.extend(page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
        return [public(c) for c in await pipeline.resume(scope, stuck)]

    # --- contents --------------------------------------------------------------------------------

    async def list_contents(
        self,
        scope: Scope | None = None,
        *,
        status: KnowledgeStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[KnowledgeContent]:
        """The contents visible to `scope`, most recently updated first."""
        pipeline = await self._open()
        page = await list_rows(
            pipeline.store,
            scope or Scope(),
            knowledge=self._name,
            status=status,
            limit=limit,
            cursor=cursor,
        )
        return Page[KnowledgeContent](
            items=[public(c) for c in page.items], next_cursor=page.next_cursor
        )

    async def get_content(
        self, content_id: str, scope: Scope | None = None
    ) -> KnowledgeContent | None:
        """The content, if it is in this knowledge base and visible to `scope`."""
        pipeline = await self._open()
        row = await pipeline.store.get_knowledge_content(scope or Scope(), content_id)
        if row is None or row.knowledge != self._name:
            return None
        return public(row)

    async def remove(self, content_id: str, scope: Scope | None = None) -> None:
        """Delete a content and its chunks.

        Raises:
            NotFoundError: no such content in this knowledge base that `scope` may delete
                (a user scope cannot delete content shared with the tenant).
        """
        scope = scope or Scope()
        pipeline = await self._open()
        row = await pipeline.store.get_knowledge_content(scope, content_id)
        if row is None or row.knowledge != self._name:
            raise NotFoundError(f"No content {content_id!r} in knowledge base {self._name!r}")
        if not scope.is_tenant_wide and row.user_id != scope.user_id:
            raise NotFoundError(
                f"Content {content_id!r} is shared with the tenant; only a tenant-wide scope "
                "may remove it"
            )
        await pipeline.remove(scope, row)

    # --- search ----------------------------------------------------------------------------------

    async def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: QueryMode = "hybrid",
        filter: Filter | None = None,
        scope: Scope | None = None,
    ) -> list[KnowledgeHit]:
        """The best `k` passages for `query` visible to `scope`, best first.

        Args:
            query: What to look for.
            k: How many passages at most (1 to 100).
            mode: `vector` (meaning), `text` (words, the store's full-text ranking) or `hybrid`
                (both, fused by reciprocal rank).
            filter: Only chunks whose metadata passes it (`Eq("lang", "en")`, ...).
            scope: Whose documents: a user sees their own and the tenant's shared ones.

        Raises:
            InvalidInputError: a blank query, `k` out of range, or an unknown mode.
        """
        if not isinstance(query, str) or not query.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidInputError("The search query is blank; give words to search for.")
        if not 1 <= k <= 100:
            raise InvalidInputError(f"k must be from 1 to 100, got {k}")
        if mode not in _MODES:
            raise InvalidInputError(f"mode must be one of {', '.join(_MODES)}, got {mode!r}")
        pipeline = await self._open()
        scoped = scope_filter(scope or Scope())
        where = scoped if filter is None else And(scoped, filter)
        reranker = self.reranker
        needs_vectors = reranker is not None and reranker.needs_vectors
        vector = None
        if mode != "text" or needs_vectors:
            [vector] = await pipeline.embedder.embed([query], input_type="query")
        fetch = k if reranker is None else min(max(4 * k, 20), 1000)
        hits = await pipeline.vectors.query(
            self._name,
            VectorQuery(
                vector=vector if mode != "text" else None,
                text=query if mode != "vector" else None,
                mode=mode,
                k=fetch,
                filter=where,
                include_vectors=needs_vectors,
            ),
        )
        found = [
            KnowledgeHit(
                id=h.record.id,
                text=h.record.text or "",
                score=h.score,
                knowledge=self._name,
                content_id=h.record.metadata.get("_content_id"),
                name=h.record.metadata.get("_name"),
                source=h.record.metadata.get("_source") or None,
                metadata=hit_metadata(h.record),
            )
            for h in hits
        ]
        if reranker is None:
            return found[:k]
        vectors = None
        if needs_vectors and vector is not None:
            vectors = RerankVectors(query=vector, hits=[h.record.vector or [] for h in hits])
        return await reranker.rerank(query, found, k=k, vectors=vectors)


def _progress(
    callback: ProgressCallback | None,
) -> Callable[[ProgressEvent], Awaitable[None]] | None:
    if callback is None:
        return None

    async def report(event: ProgressEvent) -> None:
        outcome = callback(event)
        if inspect.isawaitable(outcome):
            await outcome

    return report


async def _close_all(resources: Sequence[Embedder | VectorStore | Store]) -> None:
    for resource in reversed(resources):
        try:
            if isinstance(resource, Embedder):
                await resource.aclose()
            else:
                await resource.close()
        except CoveyError:
            pass
