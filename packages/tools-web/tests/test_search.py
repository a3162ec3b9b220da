"""Search providers against loopback fakes that speak each API's wire format."""

from __future__ import annotations

import pytest

from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.tools.web import (
    BraveSearch,
    FetchError,
    SearchError,
    SearchResult,
    SearxNGSearch,
    TavilySearch,
    UnsafeURLError,
    WebToolset,
)

BRAVE_KEY = "brv-secret-key-123"
TAVILY_KEY = "tvly-secret-key-456"
CTX = RunContext(run_id="r1")

EXPECTED = [
    SearchResult("Covey agents", "https://example.com/covey", "Agents & tools"),
    SearchResult("Second", "https://example.org/2", "Another page"),
    SearchResult("Third", "http://example.net/3", "A third"),
]


def _host_port(server) -> str:
    return server.url.removeprefix("http://").rstrip("/")


async def test_brave_sends_the_key_header_and_reads_web_results(brave, brave_provider) -> None:
    results = await brave_provider.search("covey agents", k=4)

    # Tags stripped, entities decoded, a javascript: URL dropped.
    assert results == EXPECTED
    [request] = brave.requests
    assert request.method == "GET"
    assert request.path.startswith("/res/v1/web/search?")
    assert "q=covey+agents" in request.path and "count=4" in request.path
    assert request.headers["x-subscription-token"] == BRAVE_KEY
    assert request.headers["accept"] == "application/json"


async def test_tavily_posts_json_with_a_bearer_key(tavily) -> None:
    provider = TavilySearch(
        api_key=TAVILY_KEY, base_url=f"{tavily.url}/search", allow_private=[_host_port(tavily)]
    )

    results = await provider.search("covey agents", k=2)

    assert results == EXPECTED[:2]
    [request] = tavily.requests
    assert (request.method, request.path) == ("POST", "/search")
    assert request.headers["authorization"] == f"Bearer {TAVILY_KEY}"
    assert request.json == {"query": "covey agents", "max_results": 2, "search_depth": "basic"}


async def test_searxng_asks_for_json_and_cuts_to_k(searxng) -> None:
    provider = SearxNGSearch(base_url=searxng.url, allow_private=True)

    results = await provider.search("covey", k=2)

    assert results == EXPECTED[:2]
    [request] = searxng.requests
    assert request.path.startswith("/search?") and "format=json" in request.path
    assert "authorization" not in request.headers


async def test_web_search_tool_returns_results_as_json(brave_provider) -> None:
    toolset = WebToolset(search=brave_provider)

    result = await toolset.call_tool("web_search", {"query": "covey", "k": 2}, CTX)

    assert not result.is_error
    assert result.content == [
        {"title": "Covey agents", "url": "https://example.com/covey", "snippet": "Agents & tools"},
        {"title": "Second", "url": "https://example.org/2", "snippet": "Another page"},
    ]
    assert result.metadata == {"provider": "Brave Search"}


async def test_a_wrong_key_is_an_error_result_that_never_shows_the_key(brave) -> None:
    provider = BraveSearch(
        api_key="wrong-key-789",
        base_url=f"{brave.url}/res/v1/web/search",
        allow_private=[_host_port(brave)],
    )
    toolset = WebToolset(search=provider)

    result = await toolset.call_tool("web_search", {"query": "secret plans"}, CTX)

    assert result.is_error
    assert "HTTP 401" in result.content
    assert "wrong-key-789" not in result.content
    assert "secret plans" not in result.content  # nor the query string
    with pytest.raises(FetchError, match="HTTP 401"):
        await provider.search("x")


def test_the_key_is_never_in_a_repr() -> None:
    provider = BraveSearch(api_key="sk-very-secret")
    toolset = WebToolset(search=provider)
    for text in (repr(provider), str(provider), repr(toolset), repr(vars(provider))):
        assert "sk-very-secret" not in text
    assert "**********" in repr(provider)


async def test_the_provider_endpoint_is_checked_unless_allowed(brave) -> None:
    # A provider URL is configuration, but a private one still needs allow_private=.
    provider = BraveSearch(api_key=BRAVE_KEY, base_url=f"{brave.url}/res/v1/web/search")
    with pytest.raises(UnsafeURLError):
        await provider.search("x")
    assert brave.requests == []


async def test_answers_that_are_not_results_are_search_errors(site) -> None:
    site.add_page("/html/search", b"<html>login</html>")
    site.add_page(
        "/shape/search", b'{"results": {"not": "a list"}}', content_type="application/json"
    )
    site.add_page("/redirect/search", status=302, headers={"Location": "/elsewhere"})
    for prefix, error in (
        ("/html", SearchError),
        ("/shape", SearchError),
        ("/redirect", FetchError),
    ):
        provider = SearxNGSearch(base_url=f"{site.origin}{prefix}", allow_private=True)
        with pytest.raises(error):
            await provider.search("x")


def test_keys_come_from_the_environment_or_are_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BRAVE_SEARCH_API_KEY", raising=False)
    monkeypatch.delenv("TAVILY_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="BRAVE_SEARCH_API_KEY"):
        BraveSearch()
    with pytest.raises(ConfigurationError, match="TAVILY_API_KEY"):
        TavilySearch()
    monkeypatch.setenv("BRAVE_SEARCH_API_KEY", "from-env")
    assert BraveSearch().api_key is not None
    assert BraveSearch().api_key.get_secret_value() == "from-env"
    with pytest.raises(ConfigurationError, match="base_url"):
        SearxNGSearch()
    with pytest.raises(ConfigurationError, match="http"):
        SearxNGSearch(base_url="file:///etc")
