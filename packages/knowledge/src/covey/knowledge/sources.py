"""What `Knowledge.ingest` accepts, turned into `Source`s: one per document to read."""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import anyio

from covey.spec.errors import InvalidInputError, NotFoundError

__all__ = ["Source", "SourceSet", "bytes_source", "expand_path", "is_url"]

_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class Source:
    """One document to ingest.

    Attributes:
        key: What its content id is derived from (absolute path, URL, or upload name).
        name: The content's name.
        source: The content's `source`: a path, a URL, `upload` or `text`.
        content_type: A MIME type, when known before reading.
        load: Reads its bytes: `(bytes, content type or None)`.
    """

    key: str
    name: str
    source: str
    content_type: str | None
    load: Callable[[], Awaitable[tuple[bytes, str | None]]]


@dataclass(frozen=True, slots=True)
class SourceSet:
    """The sources of one `ingest` call.

    Attributes:
        sources: The documents, sorted by key.
        folder: The folder whose whole content they are (so contents of files that are gone
            from it are removed), or `None`.
        pattern: Likewise for a glob pattern.
    """

    sources: list[Source]
    folder: str | None = None
    pattern: str | None = None

    def covers(self, source: str | None) -> bool:
        """Whether a content from `source` belongs to this folder or glob (so may be stale)."""
        if source is None:
            return False
        if self.folder is not None:
            return source.startswith(self.folder.rstrip(os.sep) + os.sep)
        if self.pattern is not None:
            # fnmatch's `*` also crosses `/`: a file gone from any depth under the pattern counts.
            return fnmatch.fnmatchcase(source, self.pattern)
        return False


def is_url(source: object) -> bool:
    """Whether `source` is an `http://` or `https://` URL string."""
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def _file_source(path: Path, max_bytes: int) -> Source:
    resolved = str(path)

    async def load() -> tuple[bytes, str | None]:
        file = anyio.Path(resolved)
        size = (await file.stat()).st_size
        if size > max_bytes:
            raise InvalidInputError(
                f"{path.name} is {size} bytes, over the limit of {max_bytes} bytes per source"
            )
        return await file.read_bytes(), None

    return Source(key=resolved, name=path.name, source=resolved, content_type=None, load=load)


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def expand_path(source: str | os.PathLike[str], max_bytes: int) -> SourceSet:
    """The files a path, folder (recursive, hidden files skipped) or glob names.

    Raises:
        NotFoundError: the path does not exist, or the glob matches no file.
    """
    text = os.fspath(source)
    path = Path(text).expanduser()
    if path.is_file():
        return SourceSet([_file_source(path.resolve(), max_bytes)])
    if path.is_dir():
        root = path.resolve()
        files = sorted(p for p in root.rglob("*") if p.is_file() and not _hidden(p, root))
        return SourceSet([_file_source(p, max_bytes) for p in files], folder=str(root))
    if _GLOB_CHARS & set(text):
        pattern = os.path.abspath(os.path.expanduser(text))
        files = sorted(
            Path(p).resolve() for p in glob.glob(pattern, recursive=True) if Path(p).is_file()
        )
        if not files:
            raise NotFoundError(f"No file matches {text!r}")
        return SourceSet([_file_source(p, max_bytes) for p in files], pattern=pattern)
    raise NotFoundError(f"No file or folder at {text!r}")


def bytes_source(
    data: bytes, *, name: str | None, content_type: str | None, origin: str = "upload"
) -> Source:
    """A source for bytes in hand; `name` (or else the bytes' hash) identifies it."""
    label = name or f"{origin}-{hashlib.sha256(data).hexdigest()[:12]}"

    async def load() -> tuple[bytes, str | None]:
        return data, content_type

    return Source(
        key=f"{origin}:{label}", name=label, source=origin, content_type=content_type, load=load
    )
