"""Entry point `lancedb` in group `covey.vectordb`: `resolve_vector_store("lancedb:///path")`.

URLs read like SQLAlchemy's SQLite ones: three slashes then a path relative to the current
directory (`lancedb:///.covey/lancedb`), four for an absolute path (`lancedb:////var/lib/kb`).
"""

from __future__ import annotations

import math
from urllib.parse import parse_qsl, unquote, urlsplit

from covey.spec.errors import ConfigurationError
from covey.vectordb.lancedb.store import LanceDBVectorStore

__all__ = ["lancedb_vector_store", "parse_url"]

_OPTIONS = ("read_consistency_interval",)


def parse_url(url: str) -> tuple[str, float | None]:
    """The folder and the `read_consistency_interval` (seconds) a `lancedb://` URL names.

    Raises:
        ConfigurationError: not a `lancedb:///path` URL, a host is given, the path is empty, or
            a query option is unknown, repeated or malformed.
    """
    example = "e.g. 'lancedb:///.covey/lancedb' (relative) or 'lancedb:////var/lib/kb' (absolute)"
    parts = urlsplit(url)
    shown = _redacted(url)
    if parts.scheme.lower() != "lancedb":
        raise ConfigurationError(f"Not a LanceDB URL: {shown!r}; {example}.")
    if parts.netloc:
        raise ConfigurationError(
            f"LanceDB URL {shown!r} names a host; covey-vectordb-lancedb opens a local folder: "
            f"write three slashes, {example}."
        )
    if parts.fragment:
        raise ConfigurationError(f"LanceDB URL {shown!r} has a '#' fragment; {example}.")
    if not parts.path.startswith("/") or parts.path == "/":
        raise ConfigurationError(f"LanceDB URL {shown!r} names no folder; {example}.")
    path = unquote(parts.path[1:])
    if "\x00" in path:
        raise ConfigurationError("LanceDB URL path contains a NUL character.")
    interval: float | None = None
    seen: set[str] = set()
    for key, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        if key not in _OPTIONS:
            raise ConfigurationError(
                f"Unknown LanceDB URL option {key!r}; known options: {', '.join(_OPTIONS)}."
            )
        if key in seen:
            raise ConfigurationError(f"LanceDB URL option {key!r} is given twice.")
        seen.add(key)
        try:
            interval = float(value)
        except ValueError:
            interval = math.nan
        if not math.isfinite(interval) or interval < 0:
            raise ConfigurationError(
                f"LanceDB URL option read_consistency_interval must be a number of seconds "
                f">= 0, got {value!r}."
            )
    return path, interval


def _redacted(url: str) -> str:
    """`url` with any `user:password@` replaced, so an error never shows a secret."""
    scheme, sep, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return scheme + sep + authority + slash + tail


def lancedb_vector_store(url: str) -> LanceDBVectorStore:
    """A `LanceDBVectorStore` for `url`, e.g. `lancedb:///.covey/lancedb`.

    Options: `read_consistency_interval=SECONDS` (default 0: every read sees writes made by
    other processes; a larger value checks for them at most that often).

    Raises:
        ConfigurationError: see `parse_url`.
    """
    path, interval = parse_url(url)
    if interval is None:
        return LanceDBVectorStore(path)
    return LanceDBVectorStore(path, read_consistency_interval=interval)
