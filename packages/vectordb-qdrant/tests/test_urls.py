"""`qdrant://` URLs resolve through the `covey.vectordb` entry point to the right location."""

from __future__ import annotations

import pytest

from covey.spec import plugins
from covey.spec.errors import ConfigurationError
from covey.vectordb.qdrant import QdrantVectorStore
from covey.vectordb.qdrant.urls import parse_url


def test_entry_point_is_registered_by_this_distribution() -> None:
    mine = [p for p in plugins.available("vectordb") if p.name == "qdrant"]
    assert len(mine) == 1
    assert mine[0].distribution == "covey-vectordb-qdrant"
    assert mine[0].value == "covey.vectordb.qdrant.plugin:qdrant_vector_store"


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("qdrant://localhost:6333", "http://localhost:6333"),
        ("qdrant://qdrant.internal", "http://qdrant.internal:6333"),
        ("qdrants://qdrant.example.com", "https://qdrant.example.com:6333"),
        ("qdrant://db:7000?https=true", "https://db:7000"),
        ("qdrant://db:7000?https=false", "http://db:7000"),
        ("qdrant://[::1]:6333/", "http://[::1]:6333"),
        ("qdrant:///:memory:", ":memory:"),
        ("qdrant:///data/qdrant", "data/qdrant"),
        ("qdrant:////var/lib/qdrant", "/var/lib/qdrant"),
    ],
)
def test_urls_name_a_server_or_a_local_location(url: str, location: str) -> None:
    assert parse_url(url) == location
    store = plugins.resolve_vector_store(url)
    assert isinstance(store, QdrantVectorStore)
    assert store.location == location


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("qdrant://", "neither a host nor a path"),
        ("qdrant://host:6333/some/path", "no path"),
        ("qdrant://host:6333?api_key=s3cret", "QDRANT_API_KEY"),
        ("qdrant://user:s3cret@host:6333", "QDRANT_API_KEY"),
        ("qdrant://host?tls=1", "unknown parameter 'tls'"),
        ("qdrant://host?https=maybe", "not true or false"),
        ("qdrant://host?https=true&https=false", "twice"),
        ("qdrant:///data?https=true", "no parameters"),
        ("qdrant://host:notaport", "Invalid Qdrant URL"),
    ],
)
def test_bad_urls_are_configuration_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        plugins.resolve_vector_store(url)
    assert "s3cret" not in str(caught.value)


def test_a_server_url_with_credentials_is_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigurationError, match="QDRANT_API_KEY") as caught:
        QdrantVectorStore("https://admin:s3cret@qdrant.example.com:6333")
    assert "s3cret" not in str(caught.value)


def test_the_api_key_is_not_in_the_repr() -> None:
    store = QdrantVectorStore("https://qdrant.example.com:6333", api_key="s3cret")
    assert repr(store) == "QdrantVectorStore('https://qdrant.example.com:6333')"
    assert "s3cret" not in repr(vars(store))


def test_the_install_hint_for_qdrants_names_this_distribution() -> None:
    mine = {
        p.name for p in plugins.available("vectordb") if p.distribution == "covey-vectordb-qdrant"
    }
    assert mine == {"qdrant", "qdrants"}
    assert plugins.KNOWN_PROVIDERS[("vectordb", "qdrants")] == "covey-vectordb-qdrant"
