"""Fixtures: the real google-genai SDK talking to an `httpx2.MockTransport` we script."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx2
import pytest

from covey.models.google import GoogleEmbedder, GoogleModel
from covey.models.google.testing_vertex import (
    FakeGoogleOAuthServer,
    FakeVertexServer,
    new_private_key,
    write_service_account,
)

API_KEY = "test-key-AIzaSyDUMMYDUMMYDUMMY"
BASE_URL = "https://gemini.test"

Scripted = httpx2.Response | Mapping[str, Any] | BaseException


class MockGemini:
    """Scripted answers for the SDK's HTTP client; records every request it sends."""

    @staticmethod
    def sse(*chunks: Mapping[str, Any] | str) -> httpx2.Response:
        """A `text/event-stream` response with one `data:` event per chunk."""
        body = "".join(
            f"data: {chunk if isinstance(chunk, str) else json.dumps(chunk)}\r\n\r\n"
            for chunk in chunks
        )
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    @staticmethod
    def error(
        status: int,
        message: str,
        status_text: str,
        *,
        details: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> httpx2.Response:
        """A Google API error response, as the Gemini API sends it."""
        payload: dict[str, Any] = {"code": status, "message": message, "status": status_text}
        if details:
            payload["details"] = [dict(d) for d in details]
        return httpx2.Response(status, json={"error": payload}, headers=dict(headers or {}))

    api_key = API_KEY

    def __init__(self) -> None:
        self.requests: list[httpx2.Request] = []
        self._script: deque[Scripted] = deque()

    def add(self, *responses: Scripted) -> None:
        self._script.extend(responses)

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if not self._script:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        scripted = self._script.popleft()
        if isinstance(scripted, BaseException):
            raise scripted
        if isinstance(scripted, httpx2.Response):
            return scripted
        return httpx2.Response(200, json=dict(scripted))

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self.handler))

    @property
    def last(self) -> httpx2.Request:
        assert self.requests, "no request was sent"
        return self.requests[-1]

    def body(self, index: int = -1) -> dict[str, Any]:
        return json.loads(self.requests[index].content)

    def path(self, index: int = -1) -> str:
        url = self.requests[index].url
        return url.path + (f"?{url.query.decode()}" if url.query else "")


@pytest.fixture
def gemini() -> MockGemini:
    return MockGemini()


@pytest.fixture
async def make_model(
    gemini: MockGemini,
) -> AsyncIterator[Callable[..., GoogleModel]]:
    made: list[GoogleModel] = []
    clients: list[httpx2.AsyncClient] = []

    def factory(model_name: str = "gemini-2.5-flash", **kwargs: Any) -> GoogleModel:
        client = gemini.client()
        clients.append(client)
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("base_url", BASE_URL)
        model = GoogleModel(model_name, http_client=client, **kwargs)
        made.append(model)
        return model

    yield factory
    for model in made:
        await model.aclose()
    for client in clients:
        await client.aclose()


@pytest.fixture
async def make_embedder(
    gemini: MockGemini,
) -> AsyncIterator[Callable[..., GoogleEmbedder]]:
    made: list[GoogleEmbedder] = []
    clients: list[httpx2.AsyncClient] = []

    def factory(model_name: str = "gemini-embedding-001", **kwargs: Any) -> GoogleEmbedder:
        client = gemini.client()
        clients.append(client)
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("base_url", BASE_URL)
        embedder = GoogleEmbedder(model_name, http_client=client, **kwargs)
        made.append(embedder)
        return embedder

    yield factory
    for embedder in made:
        await embedder.aclose()
    for client in clients:
        await client.aclose()


# --- Vertex AI -----------------------------------------------------------------------------------

_GOOGLE_ENV = (
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_VERTEX_BASE_URL",
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_GENAI_API_VERSION",
    "GOOGLE_CLOUD_QUOTA_PROJECT",
)


@pytest.fixture
def clean_google_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No Google configuration from the machine: no variables, an empty gcloud config
    directory, and no probing of the GCE metadata server (Application Default Credentials
    then find nothing, offline and at once)."""
    for name in _GOOGLE_ENV:
        monkeypatch.delenv(name, raising=False)
    gcloud = tmp_path / "gcloud-config"
    gcloud.mkdir()
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(gcloud))
    # google-auth reads NO_GCE_CHECK once, at import: set its flag for this test instead.
    from google.auth.compute_engine import _metadata  # pyright: ignore[reportPrivateUsage]

    monkeypatch.setattr(_metadata, "_NO_GCE_CHECK", True)


@pytest.fixture
def oauth() -> Iterator[FakeGoogleOAuthServer]:
    """Google's token endpoint on loopback."""
    with FakeGoogleOAuthServer() as server:
        yield server


@pytest.fixture(scope="session")
def rsa_key() -> str:
    """One RSA key for the session's service accounts (generating one per test is slow)."""
    return new_private_key()


@pytest.fixture
def service_account(tmp_path: Path, oauth: FakeGoogleOAuthServer, rsa_key: str) -> Path:
    """A real service-account key file whose token_uri is `oauth`, which trusts its key."""
    return write_service_account(tmp_path / "service-account.json", oauth, private_key=rsa_key)


@pytest.fixture
def vertex(oauth: FakeGoogleOAuthServer) -> Iterator[FakeVertexServer]:
    """Vertex AI on loopback, taking only the tokens `oauth` minted."""
    with FakeVertexServer(oauth=oauth) as server:
        yield server
