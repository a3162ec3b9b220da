"""Entry points in group `covey.db`: `sqlite`, `postgresql`, `postgres` and the generic `sql`.

`covey.spec.plugins.resolve_store("sqlite:///covey.db")` finds the plugin by the URL's scheme
and calls it with the whole URL.
"""

from __future__ import annotations

from covey.db.sql.store import SqlStore

__all__ = ["sql_store"]


def sql_store(url: str) -> SqlStore:
    """A `SqlStore` for `url`, with default options (the factory behind every entry point).

    Args:
        url: `sqlite:///...`, `postgresql://...`, `postgres://...`, or either prefixed with
            `sql+` (`sql+sqlite:///...`).
    """
    return SqlStore(url)
