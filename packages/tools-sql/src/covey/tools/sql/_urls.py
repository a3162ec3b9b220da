"""Which database a toolset talks to: a URL or an engine, checked and turned into a backend.

Only SQLite and PostgreSQL are supported, because read-only must be enforced by the database
and each needs its own way of doing it (see `_sqlite` and `_postgres`). Passwords never leave
this module unmasked: `masked` is what reprs and errors show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine

from covey.spec.errors import ConfigurationError
from covey.tools.sql._backend import Backend, TableFilter

__all__ = ["Target", "open_target"]

_EXAMPLES = (
    "Use sqlite:///path/to/app.db (or sqlite:// for a private in-memory database) or "
    "postgresql://user:password@host:5432/database."
)


@dataclass(frozen=True, slots=True)
class Target:
    """A backend and what may be shown of it."""

    backend: Backend
    masked: str
    password: str | None


def _mask(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def open_target(
    url_or_engine: Any,
    *,
    read_only: bool,
    allow_superuser: bool,
    tables: TableFilter | None,
) -> Target:
    """The backend for a URL (str or `sqlalchemy.URL`), a sync SQLite `Engine` or an asyncpg
    `AsyncEngine`.

    Raises:
        ConfigurationError: anything else (the message shows the URL masked).
    """
    from covey.tools.sql._postgres import PostgresBackend
    from covey.tools.sql._sqlite import SqliteBackend

    if isinstance(url_or_engine, AsyncEngine):
        url = url_or_engine.url
        if url.drivername != "postgresql+asyncpg":
            raise ConfigurationError(
                f"An AsyncEngine given to SQLToolset must be PostgreSQL on asyncpg, got "
                f"{_mask(url)!r}. For SQLite pass the URL or a synchronous Engine."
            )
        backend = PostgresBackend(
            None, read_only=read_only, allow_superuser=allow_superuser, engine=url_or_engine
        )
        return Target(backend, _mask(url), url.password)
    if isinstance(url_or_engine, Engine):
        url = url_or_engine.url
        if url_or_engine.dialect.name != "sqlite":
            raise ConfigurationError(
                f"A synchronous Engine given to SQLToolset must be SQLite, got {_mask(url)!r}. "
                "For PostgreSQL pass the URL or an AsyncEngine on asyncpg."
            )
        sqlite = SqliteBackend(None, read_only=read_only, tables=tables, engine=url_or_engine)
        return Target(sqlite, _mask(url), None)
    if isinstance(url_or_engine, URL):
        url = url_or_engine
    elif isinstance(url_or_engine, str):
        try:
            url = make_url(url_or_engine.strip())
        except (ArgumentError, ValueError):
            raise ConfigurationError(
                f"SQLToolset could not parse the database URL. {_EXAMPLES}"
            ) from None
    else:
        raise ConfigurationError(
            f"SQLToolset takes a database URL or a SQLAlchemy engine, got "
            f"{type(url_or_engine).__name__}. {_EXAMPLES}"
        )
    backend_name, _, driver = url.drivername.lower().partition("+")
    if backend_name == "sqlite":
        if driver not in ("", "pysqlite", "aiosqlite"):
            raise ConfigurationError(
                f"SQLite is opened with the standard library's sqlite3, not {driver!r}: "
                f"{_mask(url)!r}. {_EXAMPLES}"
            )
        if url.query:
            raise ConfigurationError(
                f"Give the SQLite file as a plain path, without query options: {_mask(url)!r}. "
                "The toolset opens it read-only itself (mode=ro) unless read_only=False."
            )
        database = url.database or None
        path = None if database in (None, ":memory:") else database
        sqlite = SqliteBackend(path, read_only=read_only, tables=tables)
        return Target(sqlite, _mask(url), None)
    if backend_name in ("postgresql", "postgres"):
        if driver not in ("", "asyncpg"):
            raise ConfigurationError(
                f"PostgreSQL is reached through asyncpg, not {driver!r}: {_mask(url)!r}."
            )
        if not url.database:
            raise ConfigurationError(
                f"The PostgreSQL URL names no database: {_mask(url)!r}. {_EXAMPLES}"
            )
        url = url.set(drivername="postgresql+asyncpg")
        backend = PostgresBackend(url, read_only=read_only, allow_superuser=allow_superuser)
        return Target(backend, _mask(url), url.password)
    raise ConfigurationError(
        f"SQLToolset supports SQLite and PostgreSQL, whose read-only modes it can enforce; got "
        f"{_mask(url)!r}. {_EXAMPLES}"
    )
