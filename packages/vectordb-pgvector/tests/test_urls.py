"""URLs: the accepted forms, the plugin entry point, and a password that never shows."""

from __future__ import annotations

import socket

import pytest

from covey.spec.errors import ConfigurationError
from covey.spec.plugins import resolve_vector_store
from covey.vectordb.pgvector import PgVectorStore, PgVectorUnavailableError
from covey.vectordb.pgvector.urls import parse_url

SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize(
    ("url", "host", "port", "database"),
    [
        (
            f"postgresql+pgvector://app:{SECRET}@db.internal:5433/vectors",
            "db.internal",
            5433,
            "vectors",
        ),
        (f"postgres+pgvector://app:{SECRET}@db.internal/vectors", "db.internal", None, "vectors"),
        (f"pgvector://app:{SECRET}@10.0.0.5:5432/v", "10.0.0.5", 5432, "v"),
    ],
)
def test_accepted_forms_map_to_asyncpg(
    url: str, host: str, port: int | None, database: str
) -> None:
    parsed = parse_url(url)
    target = parsed.sqlalchemy_url
    assert (target.drivername, target.host, target.port, target.database) == (
        "postgresql+asyncpg",
        host,
        port,
        database,
    )
    assert target.password == SECRET
    assert SECRET not in parsed.masked
    assert SECRET not in repr(parsed)
    assert "***" in parsed.masked


def test_socket_host_and_driver_parameters_pass_through() -> None:
    parsed = parse_url(
        "postgresql+pgvector://app@/v?host=/run/postgresql&ssl=require&text_search_config=english"
    )
    assert dict(parsed.sqlalchemy_url.query) == {"host": "/run/postgresql", "ssl": "require"}
    assert parsed.text_search_config == "english"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://app:{SECRET}@host/db",  # the SQL store's scheme, not this plugin's
        f"lancedb://app:{SECRET}@host/db",
        f"postgresql+pgvector://app:{SECRET}@host:notaport/db",
        f"postgresql+pgvector://app:{SECRET}@host:5432",
        f"postgresql+pgvector://app:{SECRET}@host/db?text_search_config=x;drop",
        f"no-scheme app:{SECRET}@host/db",
    ],
)
def test_bad_urls_are_configuration_errors_without_the_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        PgVectorStore(url)
    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None


def test_bad_text_search_config_argument() -> None:
    with pytest.raises(ConfigurationError, match="text search configuration"):
        PgVectorStore("postgresql+pgvector://app@host/db", text_search_config="English'--")


def test_entry_point_resolves_and_construction_does_no_io() -> None:
    """`resolve_vector_store` finds the plugin by the driver; nothing connects yet."""
    store = resolve_vector_store(f"postgresql+pgvector://app:{SECRET}@unreachable.invalid/db")
    assert isinstance(store, PgVectorStore)
    assert repr(store) == "PgVectorStore('postgresql+pgvector://app:***@unreachable.invalid/db')"
    assert isinstance(resolve_vector_store("pgvector://app@unreachable.invalid/db"), PgVectorStore)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _chain(error: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while error is not None and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


async def test_unreachable_server_error_names_it_masked() -> None:
    """A server that is not there: `PgVectorUnavailableError`, the URL masked, no secret anywhere."""
    url = f"postgresql+pgvector://app:{SECRET}@127.0.0.1:{_closed_port()}/db"
    async with PgVectorStore(url, connect_timeout=5) as store:
        with pytest.raises(PgVectorUnavailableError) as caught:
            await store.ensure_collection("docs", embedder_name="test:e", dimensions=3)
    message = str(caught.value)
    assert "app:***@127.0.0.1" in message
    for error in _chain(caught.value):
        assert SECRET not in str(error)
        assert SECRET not in repr(error)
