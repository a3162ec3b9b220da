"""Loopback servers for the web tools' tests: a web site, slow servers, fake search APIs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from covey.testing.http import Exchange, LoopbackServer, LoopbackSite, RecordedRequest
from covey.tools.web import BraveSearch

Site = LoopbackSite


class Streamer(LoopbackServer[RecordedRequest, bytes]):
    """Answers with a body of unknown length (no content-length), in pieces."""

    def serve(self, exchange: Exchange) -> None:
        self.record(exchange.request, take_scripted=False)
        exchange.start_stream(200, content_type="text/plain")
        for _ in range(10):
            exchange.write(b"x" * 1000)

    @property
    def host_port(self) -> str:
        return self.url.removeprefix("http://").rstrip("/")


class SlowLoris(LoopbackServer[RecordedRequest, bytes]):
    """Sends its headers, then one byte at a time, never finishing — until closed, or until
    the client goes away, or after a bounded number of bytes.

    `stalled=True` sends nothing at all after the request (not even a status line)."""

    def __init__(self, *, stalled: bool = False) -> None:
        super().__init__()
        self.stalled = stalled
        self.stop = threading.Event()

    def serve(self, exchange: Exchange) -> None:
        self.record(exchange.request, take_scripted=False)
        if self.stalled:
            self.stop.wait(30)
            return
        exchange.start_stream(200, content_type="text/plain")
        for _ in range(2000):  # bounded: 2000 bytes over at most ~100 s
            exchange.write(b"x")
            if self.stop.wait(0.05):
                return

    def close(self) -> None:
        self.stop.set()
        super().close()

    @property
    def host_port(self) -> str:
        return self.url.removeprefix("http://").rstrip("/")


@pytest.fixture
def site() -> Iterator[Site]:
    with Site() as server:
        yield server


# -- fake search APIs: each speaks its API's wire format ------------------------------------------

HITS = [
    ("Covey <strong>agents</strong>", "https://example.com/covey", "Agents &amp; <b>tools</b>"),
    ("Second", "https://example.org/2", "Another page"),
    ("Not the web", "javascript:alert(1)", "dropped: not an http(s) URL"),
    ("Third", "http://example.net/3", "A third"),
]


def _query(request: RecordedRequest) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.path).query).items()}


class FakeBrave(LoopbackServer[RecordedRequest, bytes]):
    """`GET /res/v1/web/search?q=&count=` with `X-Subscription-Token`, as Brave answers."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def serve(self, exchange: Exchange) -> None:
        request = exchange.request
        self.record(request, take_scripted=False)
        if not request.path.startswith("/res/v1/web/search"):
            exchange.send(404, b'{"error": "not found"}')
            return
        if request.headers.get("x-subscription-token") != self.key:
            body = {
                "type": "ErrorResponse",
                "error": {"status": 401, "code": "SUBSCRIPTION_TOKEN_INVALID"},
            }
            exchange.send(401, json.dumps(body).encode())
            return
        count = int(_query(request).get("count", 20))
        results = [
            {"type": "search_result", "title": t, "url": u, "description": d, "age": "1 day"}
            for t, u, d in HITS[:count]
        ]
        body = {
            "type": "search",
            "query": {"original": _query(request).get("q", "")},
            "web": {"type": "search", "results": results, "family_friendly": True},
        }
        exchange.send(200, json.dumps(body).encode())


class FakeTavily(LoopbackServer[RecordedRequest, bytes]):
    """`POST /search` with `Authorization: Bearer`, as Tavily answers."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def serve(self, exchange: Exchange) -> None:
        request = exchange.request
        self.record(request, take_scripted=False)
        if request.method != "POST" or request.path != "/search":
            exchange.send(405, b'{"detail": "method not allowed"}')
            return
        if request.headers.get("authorization") != f"Bearer {self.key}":
            exchange.send(
                401, b'{"detail": {"error": "Unauthorized: missing or invalid API key."}}'
            )
            return
        payload = request.json
        results = [
            {"title": t, "url": u, "content": d, "score": 0.9, "raw_content": None}
            for t, u, d in HITS[: payload["max_results"]]
        ]
        body = {"query": payload["query"], "answer": None, "results": results, "response_time": 0.5}
        exchange.send(200, json.dumps(body).encode())


class FakeSearxNG(LoopbackServer[RecordedRequest, bytes]):
    """`GET /search?q=&format=json`, as a SearXNG instance with the json format enabled."""

    def serve(self, exchange: Exchange) -> None:
        request = exchange.request
        self.record(request, take_scripted=False)
        query = _query(request)
        if query.get("format") != "json":
            exchange.send(403, b"Forbidden", content_type="text/html")
            return
        results = [
            {"url": u, "title": t, "content": d, "engine": "duckduckgo", "score": 1.0}
            for t, u, d in HITS
        ]
        body = {"query": query.get("q", ""), "number_of_results": 0, "results": results}
        exchange.send(200, json.dumps(body).encode())


BRAVE_KEY = "brv-secret-key-123"
TAVILY_KEY = "tvly-secret-key-456"


@pytest.fixture
def streamer() -> Iterator[Streamer]:
    with Streamer() as server:
        yield server


@pytest.fixture
def other() -> Iterator[Streamer]:
    """A second server that must never be reached (the target of refused redirects)."""
    with Streamer() as server:
        yield server


@pytest.fixture
def slow_loris() -> Iterator[SlowLoris]:
    with SlowLoris() as server:
        yield server


@pytest.fixture
def stalled() -> Iterator[SlowLoris]:
    with SlowLoris(stalled=True) as server:
        yield server


@pytest.fixture
def brave() -> Iterator[FakeBrave]:
    with FakeBrave(BRAVE_KEY) as server:
        yield server


@pytest.fixture
def tavily() -> Iterator[FakeTavily]:
    with FakeTavily(TAVILY_KEY) as server:
        yield server


@pytest.fixture
def searxng() -> Iterator[FakeSearxNG]:
    with FakeSearxNG() as server:
        yield server


@pytest.fixture
def brave_provider(brave: FakeBrave) -> BraveSearch:
    """BraveSearch pointed at the fake (its loopback address allowed explicitly)."""
    return BraveSearch(
        api_key=BRAVE_KEY,
        base_url=f"{brave.url}/res/v1/web/search",
        allow_private=[brave.url.removeprefix("http://")],
    )
