"""`memory://` resolves through the `covey.db` plugins, and the runtime opens it that way."""

from __future__ import annotations

import pytest

from covey.db.memory import MemoryStore, Retention
from covey.runtime import open_store
from covey.spec import plugins
from covey.spec.errors import ConfigurationError
from covey.testing import InMemoryStore


def test_entry_point_is_registered_by_this_distribution() -> None:
    mine = [p for p in plugins.available("db") if p.name == "memory"]
    assert len(mine) == 1
    assert mine[0].distribution == "covey-db-memory"
    assert mine[0].value == "covey.db.memory.plugin:memory_store"


def test_plain_url_has_default_limits() -> None:
    store = plugins.resolve_store("memory://")
    assert isinstance(store, MemoryStore)
    assert store.retention == Retention()


def test_limits_come_from_the_url() -> None:
    store = plugins.resolve_store("memory://?max_runs=5&max_events_per_run=7&max_rows=9")
    assert isinstance(store, MemoryStore)
    assert store.retention == Retention(max_runs=5, max_events_per_run=7, max_rows=9)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("memory://?max_run=5", "Unknown"),
        ("memory://?max_runs=0", "max_runs"),
        ("memory://?max_runs=lots", "whole number"),
        ("memory://?max_runs=1&max_runs=2", "twice"),
        ("memory://somewhere/else", "Invalid memory store URL"),
    ],
)
def test_bad_urls_are_configuration_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        plugins.resolve_store(url)


def test_the_runtime_opens_memory_urls_with_this_store() -> None:
    store = open_store("memory://?max_sessions=3")
    assert isinstance(store, MemoryStore)
    assert not isinstance(store, InMemoryStore)
    assert store.retention.max_sessions == 3
    with pytest.raises(ConfigurationError, match="max_sesions"):
        open_store("memory://?max_sesions=3")
