"""Helpers for the knowledge tests: knowledge bases, a server serving them, tokens, polling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import pytest
from runtime_helpers import ThreadServer

from covey.core import Agent
from covey.core.testing import TestModel
from covey.knowledge import Knowledge
from covey.runtime import Registry, RuntimeSettings, create_app
from covey.spec.store import Store
from covey.testing import HashEmbedder, InMemoryStore, InMemoryVectorStore

SECRET = "kn0wledge-kn0wledge-kn0wledge-kn0wledge"
RW = "knowledge:read knowledge:write"


def token(sub: str, tenant: str, scope: str = RW) -> dict[str, str]:
    """`Authorization` header of a user of `tenant` holding `scope`."""
    now = int(time.time())
    claims = {"sub": sub, "tenant": tenant, "scope": scope, "exp": now + 3600, "iat": now}
    return {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}


class GatedEmbedder(HashEmbedder):
    """A `HashEmbedder` whose `embed` waits until the test opens `gate` (any thread)."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__(dimensions=64)
        self.gate = gate
        self.waiting = threading.Event()

    async def embed(self, texts: Sequence[str], *, input_type: Any = "document") -> Any:
        self.waiting.set()
        while not self.gate.is_set():  # noqa: ASYNC110 - the gate is a thread's Event
            await anyio.sleep(0.01)
        return await super().embed(texts, input_type=input_type)


class Served:
    """A server of knowledge base `docs` (JWT auth), with the objects behind it."""

    def __init__(self, server: ThreadServer, kb: Knowledge, data_dir: Path) -> None:
        self.server = server
        self.kb = kb
        self.data_dir = data_dir
        self.client = httpx.Client(base_url=server.url, timeout=30)

    def stop(self) -> None:
        self.client.close()
        self.server.stop()

    def upload(
        self,
        who: dict[str, str],
        files: list[tuple[str, bytes]],
        *,
        data: dict[str, str] | None = None,
        kb: str = "docs",
    ) -> httpx.Response:
        parts = [("file", (name, body)) for name, body in files]
        return self.client.post(
            f"/v1/knowledge/{kb}/contents", files=parts, data=data or {}, headers=who
        )

    def wait(self, who: dict[str, str], content_id: str, *, timeout: float = 30) -> dict[str, Any]:
        """The content once its ingestion has ended (completed or failed)."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.client.get(f"/v1/knowledge/docs/contents/{content_id}", headers=who)
            assert response.status_code == 200, response.text
            body = response.json()
            if body["status"] in ("completed", "failed"):
                return body
            assert time.monotonic() < deadline, f"content still {body['status']}"
            time.sleep(0.05)

    def search(self, who: dict[str, str], query: str, **options: Any) -> list[dict[str, Any]]:
        response = self.client.post(
            "/v1/knowledge/docs/search", json={"query": query, **options}, headers=who
        )
        assert response.status_code == 200, response.text
        return response.json()["items"]

    def uploads_on_disk(self) -> list[Path]:
        root = self.data_dir / "knowledge"
        return sorted(p for p in root.rglob("*") if p.is_file() and p.name != ".tenant")


StartServer = Callable[..., Served]


def knowledge_base(
    vectors: InMemoryVectorStore, *, embedder: HashEmbedder | None = None, name: str = "docs"
) -> Knowledge:
    return Knowledge(
        name,
        vector_store=vectors,
        embedder=embedder or HashEmbedder(dimensions=64),
        description="Test documents.",
    )


@pytest.fixture
def vectors() -> InMemoryVectorStore:
    return InMemoryVectorStore()


@pytest.fixture
def kb_server(tmp_path: Path, vectors: InMemoryVectorStore) -> Iterator[StartServer]:
    """Start a server of `docs`: `start(kb=None, store=None, **settings)`."""
    started: list[Served] = []

    def run(
        *, kb: Knowledge | None = None, store: Store | str | None = None, **settings: Any
    ) -> Served:
        """`store`: a store object, or a URL the app opens (and closes) itself."""
        kb = kb or knowledge_base(vectors)
        values: dict[str, Any] = {
            "store": store if isinstance(store, str) else "memory://",
            "auth": "jwt",
            "jwt_secret": SECRET,
            "data_dir": tmp_path / "data",
            "shutdown_grace": 1.0,
            "poll_interval": 0.05,
            **settings,
        }
        registry = Registry([Agent(name="helper", model=TestModel())], knowledge=[kb])
        app = create_app(
            RuntimeSettings(**values),
            registry=registry,
            store=None if isinstance(store, str) else store or InMemoryStore(),
        )
        served = Served(ThreadServer(app).start(), kb, tmp_path / "data")
        started.append(served)
        return served

    yield run
    for served in reversed(started):
        served.stop()
