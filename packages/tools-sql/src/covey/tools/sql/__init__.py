"""SQL tools for Covey agents: explore and query SQLite or PostgreSQL, read-only by default.

```python
from covey.tools.sql import SQLToolset

tools = SQLToolset("sqlite:///shop.db")  # list_tables, describe_table, run_query
```

Nothing heavy is imported until a toolset is made: SQLAlchemy loads with `SQLToolset`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from covey.spec.errors import ConfigurationError

if TYPE_CHECKING:
    from covey.tools.sql._toolset import SQLToolset

__all__ = ["SQLToolset", "from_reference"]


def from_reference(arg: str | None) -> SQLToolset:
    """The toolset for a tool reference `"sql:<url>"`: read-only, default limits.

    Args:
        arg: A SQLAlchemy URL (`sqlite:///app.db`, `postgresql://user@host/db`).

    Raises:
        ConfigurationError: no URL was given, or it is not a SQLite or PostgreSQL URL.
    """
    if arg is None or not arg.strip():
        raise ConfigurationError(
            "The sql tools need a database URL: write the reference as "
            "'sql:sqlite:///app.db' or 'sql:postgresql://user@host:5432/db'."
        )
    from covey.tools.sql._toolset import SQLToolset

    return SQLToolset(arg)


def __getattr__(name: str) -> Any:
    if name == "SQLToolset":
        from covey.tools.sql._toolset import SQLToolset

        return SQLToolset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
