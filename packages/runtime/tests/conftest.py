"""Fixtures for covey-runtime tests: servers on loopback (threads and subprocesses)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from knowledge_helpers import kb_server, vectors  # noqa: F401 - fixtures
from runtime_agents import GATES_ENV, build
from runtime_helpers import ThreadServer

from covey.runtime import Registry, RuntimeSettings, create_app
from covey.spec.store import Store
from covey.testing import InMemoryStore


@pytest.fixture
def gates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder whose files open the `gated` agent's gates (shared with subprocesses)."""
    folder = tmp_path / "gates"
    folder.mkdir()
    monkeypatch.setenv(GATES_ENV, str(folder))
    return folder


ServeFactory = Callable[..., tuple[ThreadServer, httpx.Client]]


@pytest.fixture
def serve(gates: Path) -> Iterator[ServeFactory]:
    """Start the test registry on a loopback port: `serve(store=..., **settings)`."""
    started: list[tuple[ThreadServer, httpx.Client]] = []

    def start(
        *, store: Store | None = None, registry: Registry | None = None, **settings: Any
    ) -> tuple[ThreadServer, httpx.Client]:
        values: dict[str, Any] = {"store": "memory://", "shutdown_grace": 1.0, **settings}
        app = create_app(
            RuntimeSettings(**values),
            registry=registry or build(),
            store=store if store is not None else InMemoryStore(),
        )
        server = ThreadServer(app).start()
        client = httpx.Client(base_url=server.url, timeout=30)
        started.append((server, client))
        return server, client

    yield start
    for server, client in reversed(started):
        client.close()
        server.stop()


@pytest.fixture
def api(serve: ServeFactory) -> httpx.Client:
    """A client of a server with auth off and an in-memory store."""
    return serve()[1]
