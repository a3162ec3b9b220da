"""`KnowledgeService`: the knowledge bases a runtime serves, ingesting in the background.

A knowledge base is any object with the API of `covey.knowledge.Knowledge` (`ServedKnowledge`
below); the runtime does not import covey-knowledge itself. At startup every knowledge base is
given the runtime's store for its content rows (unless it was built with one), and contents
that a stopped server left `pending` or `processing` are ingested again (`resume`).

An upload is kept at `<data_dir>/knowledge/<kb>/<tenant>/<owner>/<file name>`: that file is the
document's source, so a restart can finish its ingestion, and uploading a file of the same name
again replaces the document instead of adding a second one. Ingestion runs in a task of the
service, not of the request: the request answers as soon as the document's content row exists.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import socket
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import anyio
from anyio.abc import TaskGroup

from covey.runtime.problems import ApiError
from covey.spec.errors import ConfigurationError
from covey.spec.knowledge import KnowledgeHit
from covey.spec.store import KnowledgeContent, KnowledgeStatus, Page, Scope, Store
from covey.spec.vectors import Filter, QueryMode

__all__ = ["FINAL_STATUSES", "KnowledgeService", "Progress", "ServedKnowledge", "bind_store"]

log = logging.getLogger("covey.runtime")

FINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed"})
"""Content statuses after which nothing changes until the document is ingested again."""

_TENANT_FILE = ".tenant"
_UPLOADS = "knowledge"


@runtime_checkable
class ServedKnowledge(Protocol):
    """What the runtime needs of a knowledge base: `covey.knowledge.Knowledge`'s API."""

    @property
    def name(self) -> str:
        """Its id in the API."""
        ...

    async def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: QueryMode = "hybrid",
        filter: Filter | None = None,
        scope: Scope | None = None,
    ) -> list[KnowledgeHit]:
        """The best passages for `query` in `scope`."""
        ...

    async def ingest(
        self,
        source: Any,
        *,
        name: str | None = None,
        content_type: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        scope: Scope | None = None,
        on_progress: Any = None,
    ) -> list[KnowledgeContent]:
        """Read, chunk, embed and store a path, URL or bytes."""
        ...

    async def list_contents(
        self,
        scope: Scope | None = None,
        *,
        status: KnowledgeStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[KnowledgeContent]:
        """The documents visible to `scope`."""
        ...

    async def get_content(
        self, content_id: str, scope: Scope | None = None
    ) -> KnowledgeContent | None:
        """One document, when visible to `scope`."""
        ...

    async def remove(self, content_id: str, scope: Scope | None = None) -> None:
        """Delete a document and its chunks."""
        ...

    async def resume(self, scope: Scope | None = None) -> Any:
        """Ingest again what a crash left pending or processing."""
        ...

    async def aclose(self) -> None:
        """Close the stores it opened."""
        ...


def bind_store(knowledge: ServedKnowledge, store: Store) -> None:
    """Give `knowledge` the runtime's store for its content rows, unless it has one already.

    Calls its `use_store(store)` when it has that method (covey-knowledge's `Knowledge` does: it
    keeps a store given to its constructor).
    """
    use_store = getattr(knowledge, "use_store", None)
    if callable(use_store):
        use_store(store)


@dataclass(slots=True)
class Progress:
    """How far the ingestion of one document has got in this process."""

    stage: str = "pending"
    chunks_total: int | None = None
    chunks_done: int = 0
    changed: anyio.Event = field(default_factory=anyio.Event)
    """Set (and replaced) at each update."""

    def update(self, event: Any) -> None:
        """Take a `covey.knowledge.ProgressEvent`."""
        self.stage = str(getattr(event, "stage", self.stage))
        self.chunks_total = getattr(event, "chunks_total", self.chunks_total)
        self.chunks_done = int(getattr(event, "chunks_done", self.chunks_done) or 0)
        changed, self.changed = self.changed, anyio.Event()
        changed.set()

    def as_dict(self, content_id: str) -> dict[str, Any]:
        """The progress as the API shows it."""
        return {
            "content_id": content_id,
            "stage": self.stage,
            "chunks_total": self.chunks_total,
            "chunks_done": self.chunks_done,
        }


_Key = tuple[str, str, str]  # knowledge base, tenant, content id


@dataclass(slots=True)
class _Starting:
    """An ingestion being started: the contents it reported, and whether it has ended."""

    ids: list[str] = field(default_factory=list[str])
    finished: bool = False
    failure: Exception | None = None
    changed: anyio.Event = field(default_factory=anyio.Event)

    def poke(self) -> None:
        self.changed.set()


class KnowledgeService:
    """The knowledge bases a runtime serves, and the ingestions running in this process.

    Args:
        knowledge: The knowledge bases, by name.
        store: The runtime's store, given to each knowledge base that has none.
        data_dir: Where uploads are kept (`<data_dir>/knowledge/...`).
        sources: Paths (files, folders, globs) to ingest at startup, by knowledge base name,
            shared with tenant `default`.

    Raises:
        ConfigurationError: `sources` names a knowledge base not served.
    """

    def __init__(
        self,
        knowledge: Mapping[str, ServedKnowledge],
        *,
        store: Store,
        data_dir: Path,
        sources: Mapping[str, Sequence[str | Path]] | None = None,
    ) -> None:
        unknown = sorted(set(sources or {}) - set(knowledge))
        if unknown:
            raise ConfigurationError(
                f"knowledge_sources names {', '.join(map(repr, unknown))}, not served "
                f"(served: {', '.join(sorted(knowledge)) or 'none'}); list the knowledge base in "
                "the Registry (knowledge=[...])"
            )
        self.sources = {name: list(paths) for name, paths in (sources or {}).items()}
        self.knowledge = dict(knowledge)
        self.store = store
        self.root = (data_dir / _UPLOADS).absolute()
        self._progress: dict[_Key, Progress] = {}
        self._running: dict[_Key, anyio.CancelScope] = {}
        self._tg: TaskGroup | None = None

    def get(self, name: str) -> ServedKnowledge:
        """The knowledge base `name`, or a 404 problem."""
        found = self.knowledge.get(name)
        if found is None:
            raise ApiError(
                404, "not-found", f"No knowledge base {name!r}; GET /v1/knowledge lists them"
            )
        return found

    @asynccontextmanager
    async def running(self) -> AsyncGenerator[KnowledgeService]:
        """Bind the store, resume unfinished ingestion, and run ingestions until the app stops.

        On exit, ingestions still running are cancelled (their contents stay `processing` and
        are resumed at the next start) and every knowledge base is closed.
        """
        for kb in self.knowledge.values():
            bind_store(kb, self.store)
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                for kb in self.knowledge.values():
                    for scope in self._tenants(kb.name):
                        tg.start_soon(self._resume, kb, scope)
                for name, paths in self.sources.items():
                    tg.start_soon(self._ingest_sources, self.knowledge[name], paths)
                try:
                    yield self
                finally:
                    self._tg = None
                    tg.cancel_scope.cancel()
        finally:
            for kb in self.knowledge.values():
                with anyio.CancelScope(shield=True):
                    try:
                        await kb.aclose()
                    except Exception:
                        log.exception("closing knowledge base %s failed", kb.name)

    def _tenants(self, kb_name: str) -> list[Scope]:
        folder = self.root / _folder(kb_name)
        scopes: list[Scope] = []
        if not folder.is_dir():
            return scopes
        for tenant_dir in sorted(folder.iterdir()):
            marker = tenant_dir / _TENANT_FILE
            try:
                scopes.append(Scope(marker.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                log.warning("knowledge %s: %s has no readable tenant; skipped", kb_name, tenant_dir)
        return scopes

    async def _resume(self, kb: ServedKnowledge, scope: Scope) -> None:
        try:
            await kb.resume(scope)
        except Exception:
            log.exception("knowledge %s: resuming tenant %s failed", kb.name, scope.tenant_id)

    async def _ingest_sources(self, kb: ServedKnowledge, paths: Sequence[str | Path]) -> None:
        for path in paths:
            try:
                contents = await kb.ingest(path, scope=Scope())
            except Exception as exc:
                log.warning("knowledge %s: ingesting %s at startup failed: %s", kb.name, path, exc)
                continue
            failed = [c.name for c in contents if c.status == "failed"]
            log.info(
                "knowledge %s: %s ingested (%d documents%s)",
                kb.name,
                path,
                len(contents),
                f", failed: {', '.join(failed)}" if failed else "",
            )

    # --- ingestion -------------------------------------------------------------------------------

    def upload_path(self, kb: ServedKnowledge, scope: Scope, name: str) -> Path:
        """Where the upload `name` of `scope` (its user, or the tenant when shared) is kept."""
        owner = "shared" if scope.user_id is None else "u-" + _digest(scope.user_id)
        return self._tenant_dir(kb, scope) / owner / name

    def _tenant_dir(self, kb: ServedKnowledge, scope: Scope) -> Path:
        folder = self.root / _folder(kb.name) / _digest(scope.tenant_id)
        marker = folder / _TENANT_FILE
        if not marker.exists():
            folder.mkdir(parents=True, exist_ok=True)
            marker.write_text(scope.tenant_id, encoding="utf-8")
        return folder

    def is_upload(self, source: str | None) -> bool:
        """Whether `source` is a file this service keeps (shown to clients as `upload`)."""
        if not source:
            return False
        try:
            return Path(source).absolute().is_relative_to(self.root)
        except (ValueError, OSError):
            return False

    async def ingest_upload(
        self,
        kb: ServedKnowledge,
        scope: Scope,
        *,
        name: str,
        data: bytes,
        content_type: str,
        metadata: Mapping[str, Any],
    ) -> list[KnowledgeContent]:
        """Keep `data` as the upload `name` and ingest it in the background.

        Returns:
            The document's content row(s) as they stand when ingestion has started.
        """
        path = self.upload_path(kb, scope, name)
        await anyio.to_thread.run_sync(_write_atomically, path, data)
        return await self._start(
            kb, scope, str(path), name=name, content_type=content_type, metadata=metadata
        )

    async def ingest_url(
        self, kb: ServedKnowledge, scope: Scope, url: str, *, metadata: Mapping[str, Any]
    ) -> list[KnowledgeContent]:
        """Ingest the document at `url` in the background.

        The URL's host must resolve to public addresses only, whatever the knowledge base
        allows (its own guard checks every redirect hop too).

        Raises:
            ApiError: 400 `url-not-allowed` for a private, loopback, link-local or unresolvable
                host (nothing is written).
        """
        await check_public_url(url)
        await anyio.to_thread.run_sync(self._tenant_dir, kb, scope)
        return await self._start(kb, scope, url, name=None, content_type=None, metadata=metadata)

    async def _start(
        self,
        kb: ServedKnowledge,
        scope: Scope,
        source: str,
        *,
        name: str | None,
        content_type: str | None,
        metadata: Mapping[str, Any],
    ) -> list[KnowledgeContent]:
        tg = self._tg
        if tg is None:
            raise ApiError(
                503, "shutting-down", "The server is stopping", headers={"Retry-After": "1"}
            )
        state = _Starting()
        cancel = anyio.CancelScope()

        def on_progress(event: Any) -> None:
            content_id = str(event.content_id)
            key = (kb.name, scope.tenant_id, content_id)
            if content_id not in state.ids:
                state.ids.append(content_id)
                self._running[key] = cancel
            self._progress.setdefault(key, Progress()).update(event)
            state.poke()

        async def ingest() -> None:
            with cancel:
                try:
                    await kb.ingest(
                        source,
                        name=name,
                        content_type=content_type,
                        metadata=dict(metadata),
                        scope=scope,
                        on_progress=on_progress,
                    )
                except Exception as exc:
                    state.failure = exc
                    log.info("knowledge %s: ingesting %s failed: %s", kb.name, source, exc)
                finally:
                    state.finished = True
                    state.poke()
                    for content_id in state.ids:
                        key = (kb.name, scope.tenant_id, content_id)
                        self._running.pop(key, None)
                        progress = self._progress.pop(key, None)
                        if progress is not None:
                            progress.changed.set()  # followers re-read the stored row

        tg.start_soon(ingest)
        # A document's row is saved once it has been read: answer when every row exists (a
        # file is read at once; a URL once fetched), or when ingestion has ended.
        while True:
            await state.changed.wait()
            state.changed = anyio.Event()
            finished = state.finished
            rows = [await kb.get_content(content_id, scope) for content_id in state.ids]
            found = [row for row in rows if row is not None]
            if state.ids and len(found) == len(state.ids):
                return found
            if finished:
                if not found and state.failure is not None:
                    raise state.failure
                return found

    # --- following and removing ------------------------------------------------------------------

    def progress(self, kb: ServedKnowledge, scope: Scope, content_id: str) -> Progress | None:
        """The live progress of a document ingesting in this process, or `None`."""
        return self._progress.get((kb.name, scope.tenant_id, content_id))

    async def follow(
        self,
        kb: ServedKnowledge,
        scope: Scope,
        content: KnowledgeContent,
        *,
        poll_interval: float,
        keepalive: float = 15.0,
    ) -> AsyncIterator[tuple[str, dict[str, Any]] | None]:
        """`("progress", ...)` and `("content", row)` items until the document is done.

        Yields `None` when nothing changed for `keepalive` seconds. A document ingesting in
        another process is followed by polling the store every `poll_interval` seconds.
        """
        shown: tuple[Any, ...] | None = None
        shown_progress: dict[str, Any] | None = None
        last = anyio.current_time()
        current: KnowledgeContent | None = content
        while current is not None:
            state = (current.status, current.status_message, getattr(current, "chunk_count", None))
            if state != shown:
                shown, last = state, anyio.current_time()
                yield "content", self.content_dict(current)
            if current.status in FINAL_STATUSES:
                return
            progress = self.progress(kb, scope, current.id)
            if progress is not None and progress.as_dict(current.id) != shown_progress:
                shown_progress, last = progress.as_dict(current.id), anyio.current_time()
                yield "progress", shown_progress
            with anyio.move_on_after(poll_interval if progress is None else keepalive):
                if progress is not None:
                    await progress.changed.wait()
                else:
                    await anyio.sleep(poll_interval)
            if anyio.current_time() - last >= keepalive:
                last = anyio.current_time()
                yield None
            current = await kb.get_content(current.id, scope)

    def content_dict(self, content: KnowledgeContent) -> dict[str, Any]:
        """A content row as the API shows it (an upload's server path is not shown)."""
        data = content.model_dump(mode="json")
        if self.is_upload(content.source):
            data["source"] = "upload"
        return data

    async def remove(self, kb: ServedKnowledge, scope: Scope, content_id: str) -> None:
        """Stop the document's ingestion here, delete it and its chunks, and its upload file.

        Raises:
            ApiError: 404 when `scope` cannot see or delete it.
        """
        content = await kb.get_content(content_id, scope)
        if content is None or (not scope.is_tenant_wide and content.user_id != scope.user_id):
            # A user sees the tenant's shared documents but may not delete them.
            raise ApiError(404, "not-found", f"No content {content_id!r} in {kb.name!r}")
        running = self._running.get((kb.name, scope.tenant_id, content_id))
        if running is not None:
            running.cancel()  # first: the ingestion holds the document's lock until it ends
        await kb.remove(content_id, scope)
        if self.is_upload(content.source) and content.source is not None:
            await anyio.to_thread.run_sync(_unlink, Path(content.source))


async def check_public_url(url: str) -> None:
    """Refuse a URL whose host is not public (an SSRF guard on the request's first hop).

    Raises:
        ApiError: 400 `url-not-allowed`: not http(s), no host, a bad port, a host that does
            not resolve, or one resolving to any private, loopback, link-local, reserved or
            multicast address.
    """
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise ApiError(400, "url-not-allowed", "The URL is malformed") from None
    host = parts.hostname
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ApiError(400, "url-not-allowed", "Only http(s) URLs with a host can be ingested")
    try:
        addresses = [ipaddress.ip_address(host)]  # an address literal needs no lookup
    except ValueError:
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise ApiError(
                400, "url-not-allowed", f"Host {host[:100]!r} does not resolve"
            ) from None
        addresses = [ipaddress.ip_address(str(i[4][0]).split("%", 1)[0]) for i in infos]
    for address in addresses:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise ApiError(
                400,
                "url-not-allowed",
                f"Host {host[:100]!r} resolves to a private, loopback or link-local address; "
                "the server does not fetch from its own network",
            )


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _folder(kb_name: str) -> str:
    # A knowledge base name is a collection name (letters, digits, `_` and `-`), but a name from
    # a duck-typed object is not checked: never let it leave the uploads folder.
    return kb_name if kb_name.replace("_", "").replace("-", "").isalnum() else _digest(kb_name)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        _unlink(Path(temporary))
        raise


def _unlink(path: Path) -> None:
    with suppress(FileNotFoundError):
        path.unlink()
