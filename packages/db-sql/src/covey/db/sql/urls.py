"""Database URLs: what a user may write, what SQLAlchemy is given, and what may be shown.

Accepted forms (the driver suffix is optional; the driver is chosen for you):

- `sqlite:///relative/path.db`, `sqlite:////absolute/path.db` (the standard library's `sqlite3`;
  `sqlite+pysqlite:///...`, and `sqlite+aiosqlite:///...` of the former driver, are the same)
- `sqlite://` or `sqlite:///:memory:`: a private in-memory database (one connection, tests)
- `postgresql://user:password@host:5432/db`, `postgres://...`, `postgresql+asyncpg://...`
- the generic plugin name in front of any of them: `sql+sqlite:///...`, `sql+postgresql://...`

Passwords never leave this module unmasked except inside the SQLAlchemy `URL` object handed to
the engine: `masked` is what reprs, logs and error messages show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from covey.spec.errors import ConfigurationError

__all__ = ["Backend", "DatabaseURL", "mask_url", "parse_url"]

Backend = Literal["sqlite", "postgresql"]

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9.+-]*)://")
_SQLITE_DRIVER = "sqlite+pysqlite"
_SQLITE_ALIASES = ("", "pysqlite", "aiosqlite")  # aiosqlite: the former driver; its URLs work
_POSTGRES_DRIVERS = {"asyncpg": "postgresql+asyncpg", "psycopg": "postgresql+psycopg"}
_USERINFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9.+-]*://[^:/@?#]*:)(?P<password>[^@/?#]*)@")


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A parsed store URL.

    Attributes:
        backend: `"sqlite"` or `"postgresql"`.
        sqlalchemy_url: The URL for SQLAlchemy's engine (driver set). Holds the password: never
            print it.
        masked: The URL with its password replaced by `***`, safe to show.
        in_memory: Whether this is a private in-memory SQLite database.
    """

    backend: Backend
    sqlalchemy_url: URL
    masked: str
    in_memory: bool = False

    @property
    def sqlite_path(self) -> str | None:
        """The SQLite database file, or `None` for PostgreSQL and in-memory databases."""
        if self.backend != "sqlite" or self.in_memory:
            return None
        return self.sqlalchemy_url.database

    def __repr__(self) -> str:
        return f"DatabaseURL({self.masked!r})"


def mask_url(url: str) -> str:
    """`url` with any password replaced by `***`; works on URLs that do not parse too."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _USERINFO.sub(lambda m: f"{m.group('head')}***@", url)


def parse_url(url: str) -> DatabaseURL:
    """Parse and normalise a store URL (see the module documentation for the forms).

    Raises:
        ConfigurationError: the URL is not a SQLite or PostgreSQL URL; the message shows it
            masked and gives an example of each form.
    """
    if not isinstance(url, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ConfigurationError(f"a store URL must be a string, got {type(url).__name__}")
    text = url.strip()
    match = _SCHEME.match(text)
    if match is None:
        raise _bad(url, "it has no '<scheme>://'")
    scheme = match.group("scheme").lower()
    rest = text[match.end() :]
    if scheme.startswith("sql+"):
        scheme = scheme[len("sql+") :]
    backend_name, _, driver = scheme.partition("+")
    if backend_name == "sqlite":
        if driver not in _SQLITE_ALIASES:
            raise _bad(url, f"SQLite is used through the sqlite3 module, not {driver!r}")
        return _sqlite(url, f"{_SQLITE_DRIVER}://{rest}")
    if backend_name in ("postgresql", "postgres"):
        target = _POSTGRES_DRIVERS.get(driver or "asyncpg")
        if target is None:
            raise _bad(url, f"PostgreSQL is used through asyncpg or psycopg, not {driver!r}")
        return _postgres(url, f"{target}://{rest}")
    raise _bad(url, f"scheme {match.group('scheme')!r} is neither SQLite nor PostgreSQL")


def _sqlite(original: str, normalised: str) -> DatabaseURL:
    parsed = _make(original, normalised)
    database = parsed.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file::memory:")
    if in_memory:
        parsed = parsed.set(database=":memory:")
    return DatabaseURL("sqlite", parsed, parsed.render_as_string(hide_password=True), in_memory)


def _postgres(original: str, normalised: str) -> DatabaseURL:
    parsed = _make(original, normalised)
    if not parsed.database:
        raise _bad(original, "it names no database (postgresql://user@host:5432/DATABASE)")
    return DatabaseURL("postgresql", parsed, parsed.render_as_string(hide_password=True))


def _make(original: str, normalised: str) -> URL:
    try:
        return make_url(normalised)
    except (ArgumentError, ValueError):
        # `from None`: the parser's own error could quote the URL, password and all.
        raise _bad(original, "it cannot be parsed") from None


def _bad(url: str, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"Invalid store URL {mask_url(url)!r}: {why}. Use 'sqlite:///path/to/covey.db' or "
        "'postgresql://user:password@host:5432/database'."
    )
