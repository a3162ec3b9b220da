"""Entry point `memory` in group `covey.db`: `resolve_store("memory://")` builds a `MemoryStore`."""

from __future__ import annotations

from covey.db.memory.retention import Retention
from covey.db.memory.store import MemoryStore

__all__ = ["memory_store"]


def memory_store(url: str) -> MemoryStore:
    """A `MemoryStore` with the limits `url` sets, e.g. `memory://?max_runs=500`.

    Raises:
        ConfigurationError: the URL is not `memory://`, or a parameter is unknown or malformed.
    """
    return MemoryStore(Retention.from_url(url))
