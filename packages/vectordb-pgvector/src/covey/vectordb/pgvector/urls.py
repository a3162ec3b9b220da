"""Vector store URLs: what a user writes, what SQLAlchemy is given, and what may be shown.

Accepted forms (`pgvector` names the plugin; asyncpg is the driver underneath):

- `postgresql+pgvector://user:password@host:5432/database`
- `pgvector://user:password@host:5432/database` (the same)
- a Unix socket: `postgresql+pgvector://user@/database?host=/run/postgresql`
- `?text_search_config=english`: the full-text configuration new collections use (default
  `simple`); every other query parameter goes to asyncpg (`ssl=require`, ...).

The password never leaves this module unmasked except inside the SQLAlchemy `URL` handed to the
engine: `masked` is what reprs, logs and error messages show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from covey.spec.errors import ConfigurationError

__all__ = ["PgVectorURL", "check_text_search_config", "mask_url", "parse_url"]

_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9.+-]*)://")
_SCHEMES = {"postgresql+pgvector", "postgres+pgvector", "pgvector"}
# `user:password@`, with or without a scheme in front: whatever sits between ':' and '@'.
_PASSWORD = re.compile(r"(?<=:)[^:@/?#\s]*(?=@)")
_CONFIG = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_CONFIG_PARAMETER = "text_search_config"


@dataclass(frozen=True, slots=True)
class PgVectorURL:
    """A parsed `postgresql+pgvector://` URL.

    Attributes:
        sqlalchemy_url: The URL for SQLAlchemy's asyncpg engine. Holds the password: never
            print it.
        masked: The URL with its password replaced by `***`, safe to show.
        text_search_config: The `text_search_config` query parameter, if given.
    """

    sqlalchemy_url: URL
    masked: str
    text_search_config: str | None = None

    def __repr__(self) -> str:
        return f"PgVectorURL({self.masked!r})"


def mask_url(url: str) -> str:
    """`url` with any password replaced by `***`; works on URLs that do not parse too."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _PASSWORD.sub("***", url)


def check_text_search_config(name: str) -> str:
    """Return `name` if it can name a PostgreSQL text search configuration, else raise.

    Raises:
        ConfigurationError: `name` is not a lower-case identifier (`simple`, `english`, ...).
    """
    if not _CONFIG.fullmatch(name):
        raise ConfigurationError(
            f"text_search_config {name!r} is not a text search configuration name: use a "
            "lower-case identifier such as 'simple' or 'english'."
        )
    return name


def parse_url(url: str) -> PgVectorURL:
    """Parse a `postgresql+pgvector://` URL (see the module documentation for the forms).

    Raises:
        ConfigurationError: the URL has another scheme, names no database or does not parse;
            the message shows it masked.
    """
    if not isinstance(url, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ConfigurationError(f"a vector store URL must be a string, got {type(url).__name__}")
    text = url.strip()
    match = _SCHEME.match(text)
    scheme = match.group("scheme").lower() if match else ""
    if scheme not in _SCHEMES:
        raise _bad(url, "its scheme is not postgresql+pgvector")
    assert match is not None
    try:
        parsed = make_url(f"postgresql+asyncpg://{text[match.end() :]}")
    except (ArgumentError, ValueError):
        # `from None`: the parser's own error could quote the URL, password and all.
        raise _bad(url, "it cannot be parsed") from None
    if not parsed.database:
        raise _bad(url, "it names no database (postgresql+pgvector://user@host:5432/DATABASE)")
    config: str | None = None
    if _CONFIG_PARAMETER in parsed.query:
        value = parsed.query[_CONFIG_PARAMETER]
        config = check_text_search_config(value if isinstance(value, str) else value[-1])
        parsed = parsed.difference_update_query([_CONFIG_PARAMETER])
    return PgVectorURL(parsed, mask_url(url.strip()), config)


def _bad(url: str, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"Invalid pgvector URL {mask_url(url)!r}: {why}. Use "
        "'postgresql+pgvector://user:password@host:5432/database'."
    )
