"""`covey knowledge`: ingest into, search and list the knowledge bases of the configured app.

```text
covey knowledge ingest KB PATH... [--metadata JSON] [--tenant T] [--user U]
covey knowledge search KB "query" [-k N] [--mode hybrid] [--json] [--tenant T] [--user U]
covey knowledge ls KB [--json] [--tenant T] [--user U]
```

They work in this process on the app's registry (`agents` in covey.toml) and store, like
`covey run`: the knowledge base keeps its rows in the same store the server uses.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from covey.runtime.config import RuntimeSettings
from covey.spec.errors import ConfigurationError, CoveyError

__all__ = ["add_knowledge_parser", "knowledge_command"]

EXIT_FAILED = 1


def add_knowledge_parser(
    commands: Any, config_option: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add `covey knowledge ingest|search|ls` to the `covey` parser's subcommands."""
    knowledge = commands.add_parser(
        "knowledge", help="ingest into, search and list knowledge bases", allow_abbrev=False
    )
    actions = knowledge.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(sub: argparse.ArgumentParser) -> None:
        config_option(sub)
        sub.add_argument("kb", metavar="KB", help="the knowledge base's name")
        sub.add_argument("--tenant", default="default", help="the tenant (default: default)")
        sub.add_argument(
            "--user", help="the user; without it, documents are shared with the whole tenant"
        )

    ingest = actions.add_parser("ingest", help="add files, folders or globs (or URLs)")
    common(ingest)
    ingest.add_argument("paths", metavar="PATH", nargs="+", help="file, folder, glob or URL")
    ingest.add_argument("--metadata", metavar="JSON", help="a JSON object kept on every chunk")

    search = actions.add_parser("search", help="search and print the best passages")
    common(search)
    search.add_argument("query", help="what to look for")
    search.add_argument("-k", type=int, default=5, help="how many passages (default 5)")
    search.add_argument("--mode", choices=("vector", "text", "hybrid"), default="hybrid")
    search.add_argument("--json", action="store_true", help="print the hits as JSON")

    listing = actions.add_parser("ls", help="list the documents and their status")
    common(listing)
    listing.add_argument("--json", action="store_true", help="print as JSON")


async def knowledge_command(settings: RuntimeSettings, args: argparse.Namespace) -> int:
    """Run `covey knowledge ACTION`; returns the exit status.

    Raises:
        ConfigurationError: no such knowledge base, or the store or registry is unusable.
    """
    from covey.runtime.app import open_store
    from covey.runtime.knowledge import bind_store
    from covey.runtime.registry import load_registry
    from covey.spec.store import Scope

    registry = load_registry(settings.agents, python_path=settings.import_paths)
    served = registry.knowledge()
    kb = served.get(args.kb)
    if kb is None:
        raise ConfigurationError(
            f"No knowledge base {args.kb!r} in the app ({', '.join(sorted(served)) or 'none'}); "
            "pass knowledge=[...] to its Registry, or give an agent knowledge=..."
        )
    scope = Scope(args.tenant, args.user)
    store = open_store(settings.store, base_dir=settings.base_dir)
    async with store:
        if settings.auto_migrate:
            migrate = getattr(store, "migrate", None)
            if migrate is not None:
                await migrate()
        bind_store(kb, store)
        try:
            if args.action == "ingest":
                return await _ingest(kb, scope, args, sys.stderr)
            if args.action == "search":
                return await _search(kb, scope, args, sys.stdout)
            return await _list(kb, scope, args, sys.stdout)
        finally:
            await kb.aclose()


@dataclass(slots=True)
class _Bar:
    """The progress line: files, chunks, and embeddings per second."""

    out: TextIO
    live: bool
    started: float = field(default_factory=time.monotonic)
    files: int = 0
    failed: int = 0
    chunks: int = 0
    embedded: int = 0
    _reused: dict[str, int] = field(default_factory=dict[str, int])
    _counted: dict[str, int] = field(default_factory=dict[str, int])

    def _embedded(self, content_id: str, done: int) -> None:
        # A document's first `embedding` event counts the vectors it reuses; a folder's
        # documents are embedded together, so some only report `done`.
        counted = self._counted.get(content_id, 0)
        fresh = max(0, done - self._reused.get(content_id, 0))
        if fresh > counted:
            self.embedded += fresh - counted
            self._counted[content_id] = fresh

    def __call__(self, event: Any) -> None:
        stage = event.stage
        if stage == "embedding":
            self._reused.setdefault(event.content_id, event.chunks_done)
            self._embedded(event.content_id, event.chunks_done)
        elif stage in ("done", "failed"):
            if stage == "done" and event.content_id in self._reused:
                self._embedded(event.content_id, event.chunks_total)
            self.files += 1
            self.chunks += event.chunks_total
            if stage == "failed":
                self.failed += 1
            if not self.live or stage == "failed":
                detail = event.message or stage
                if stage == "done" and event.message != "unchanged":
                    detail = f"{event.chunks_total} chunks"
                self.clear()
                self.out.write(f"{event.name}: {detail}\n")
        if self.live:
            self._draw(event.name)

    def _line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return (
            f"files {self.files}  chunks {self.chunks}  embedded {self.embedded} "
            f"({self.embedded / elapsed:.1f}/s)"
        )

    def _draw(self, name: str) -> None:
        spinner = "|/-\\"[int(time.monotonic() * 8) % 4]
        self.out.write(f"\r\x1b[2K{spinner} {self._line()}  {name[:40]}")
        self.out.flush()

    def clear(self) -> None:
        """Erase the progress line (before another line is printed)."""
        if self.live:
            self.out.write("\r\x1b[2K")

    def finish(self) -> None:
        """Print the totals."""
        self.clear()
        self.out.write(self._line() + (f", {self.failed} failed" if self.failed else "") + "\n")
        self.out.flush()


async def _ingest(kb: Any, scope: Any, args: argparse.Namespace, err: TextIO) -> int:
    metadata: Any = {}
    if args.metadata:
        try:
            metadata = json.loads(args.metadata)
        except ValueError as exc:
            raise ConfigurationError(f"--metadata is not JSON: {exc}") from None
        if not isinstance(metadata, dict):
            raise ConfigurationError("--metadata must be a JSON object")
    bar = _Bar(err, live=err.isatty())
    status = 0
    for path in args.paths:
        try:
            await kb.ingest(path, metadata=metadata, scope=scope, on_progress=bar)
        except CoveyError as exc:
            bar.clear()
            err.write(f"{path}: {exc}\n")
            status = EXIT_FAILED
    bar.finish()
    return EXIT_FAILED if bar.failed else status


async def _search(kb: Any, scope: Any, args: argparse.Namespace, out: TextIO) -> int:
    hits = await kb.search(args.query, k=args.k, mode=args.mode, scope=scope)
    if args.json:
        out.write(json.dumps([h.model_dump(mode="json") for h in hits], indent=2) + "\n")
        return 0
    if not hits:
        out.write("No passages found.\n")
    for rank, hit in enumerate(hits, 1):
        where = hit.name or hit.source or hit.content_id or ""
        heading = hit.metadata.get("heading")
        out.write(f"{rank}. {where}" + (f" — {heading}" if heading else ""))
        out.write(f"  (score {hit.score:.3f})\n")
        text = " ".join(hit.text.split())
        out.write(f"   {text[:300]}{'…' if len(text) > 300 else ''}\n")
    return 0


async def _list(kb: Any, scope: Any, args: argparse.Namespace, out: TextIO) -> int:
    rows: list[Any] = []
    cursor: str | None = None
    while True:
        page = await kb.list_contents(scope, limit=200, cursor=cursor)
        rows.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    if args.json:
        out.write(json.dumps([r.model_dump(mode="json") for r in rows], indent=2) + "\n")
        return 0
    if not rows:
        out.write(f"No documents in {kb.name}.\n")
        return 0
    for row in rows:
        chunks = getattr(row, "chunk_count", None)
        owner = row.user_id or "shared"
        message = f"  ({row.status_message})" if row.status_message else ""
        out.write(
            f"{row.id}  {row.status:<10}  {chunks if chunks is not None else '-':>6} chunks  "
            f"{owner:<12}  {row.name}{message}\n"
        )
    return 0
