"""Web search through a provider's JSON-over-HTTP API: `SearchProvider` and three providers.

A provider says how to ask (`build_request`) and how to read the answer (`parse_results`);
`SearchProvider.search` sends the request through the same guarded client as `fetch_url`
(no proxy from the environment, no redirects, a capped body, timeouts). The provider's URL is
configuration, not model input, so it is trusted — but it is still checked like any URL, so a
provider on a private address (a self-hosted SearXNG, a test server) needs `allow_private=`.
The API key is a `SecretStr`: never in a `repr`, an error or a log line.
"""

from __future__ import annotations

import html
import json
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, cast

import httpx
from pydantic import SecretStr

from covey.spec.errors import ConfigurationError, CoveyError
from covey.tools.web.fetch import request_url

__all__ = [
    "BraveSearch",
    "SearchError",
    "SearchProvider",
    "SearchRequest",
    "SearchResult",
    "SearxNGSearch",
    "TavilySearch",
]

_TAGS = re.compile(r"<[^>]{0,500}>")
_SPACES = re.compile(r"\s+")
_SNIPPET_CHARS = 500


class SearchError(CoveyError):
    """The search provider answered with something that is not a result list."""


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One search hit.

    Attributes:
        title: The page's title.
        url: The page's URL (http or https).
        snippet: A short text from the page, tags removed.
    """

    title: str
    url: str
    snippet: str = ""


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """One HTTP request to a search API, as a provider builds it."""

    method: Literal["GET", "POST"]
    url: str
    params: Mapping[str, str | int] = field(default_factory=dict[str, "str | int"])
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    json: Any = None


def clean_text(value: object, limit: int = _SNIPPET_CHARS) -> str:
    """Text from an API field: tags removed, entities decoded, whitespace collapsed, capped."""
    if not isinstance(value, str):
        return ""
    text = _SPACES.sub(" ", html.unescape(_TAGS.sub("", value))).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _is_web_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return httpx.URL(value).scheme in ("http", "https")
    except (httpx.InvalidURL, TypeError, ValueError):
        return False


class SearchProvider(ABC):
    """A web search API that answers in JSON. Subclass it for another API.

    Args:
        api_key: The API key; defaults to the environment variable `api_key_env`. Required
            when the provider `needs_key`.
        base_url: The API's endpoint; defaults to `default_base_url`.
        allow_private: Allow the endpoint on a non-public address: `True`, or `"host:port"`
            entries (a self-hosted instance, a test server).
        timeout: Seconds for connecting and between bytes read.
        deadline: Seconds one search may take in all.
        max_bytes: The largest answer accepted.

    Raises:
        ConfigurationError: no API key where one is needed, no endpoint, or an endpoint that
            is not an http(s) URL.
    """

    name: ClassVar[str] = "search"
    default_base_url: ClassVar[str | None] = None
    api_key_env: ClassVar[str | None] = None
    needs_key: ClassVar[bool] = True
    max_results: ClassVar[int] = 20
    """The most results one request can ask for."""

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        allow_private: bool | Sequence[str] = False,
        timeout: float = 15.0,
        deadline: float = 30.0,
        max_bytes: int = 2 * 1024 * 1024,
    ) -> None:
        if api_key is None and self.api_key_env:
            api_key = os.environ.get(self.api_key_env) or None
        if isinstance(api_key, str):
            api_key = SecretStr(api_key)
        if api_key is None and self.needs_key:
            where = f" or set {self.api_key_env}" if self.api_key_env else ""
            raise ConfigurationError(
                f"{type(self).__name__} needs an API key: pass api_key={where}."
            )
        self.api_key: SecretStr | None = api_key
        url = base_url or self.default_base_url
        if not url:
            raise ConfigurationError(
                f"{type(self).__name__} needs base_url=, the URL of the search API."
            )
        if not _is_web_url(url):
            raise ConfigurationError(
                f"{type(self).__name__}: base_url must be an http(s) URL, got {url!r}."
            )
        self.base_url = url.rstrip("/")
        self.allow_private: bool | tuple[str, ...] = (
            allow_private if isinstance(allow_private, bool) else tuple(allow_private)
        )
        self.timeout = timeout
        self.deadline = deadline
        self.max_bytes = max_bytes

    def _key(self) -> str:
        return self.api_key.get_secret_value() if self.api_key is not None else ""

    @abstractmethod
    def build_request(self, query: str, k: int) -> SearchRequest:
        """The request that asks for `k` results for `query`."""

    @abstractmethod
    def parse_results(self, data: Any) -> list[SearchResult]:
        """The results in the API's decoded JSON answer.

        Raises:
            SearchError: the answer does not have the shape the API documents.
        """

    async def search(self, query: str, k: int = 5) -> list[SearchResult]:
        """Up to `k` results for `query` (k is capped at `max_results`).

        Raises:
            FetchError: the API could not be reached, timed out or answered an error status.
            UnsafeURLError: the endpoint is on a non-public address not allowed.
            SearchError: the answer is not JSON or not a result list.
        """
        k = max(1, min(k, self.max_results))
        request = self.build_request(query, k)
        fetched = await request_url(
            request.method,
            request.url,
            params=request.params,
            json=request.json,
            headers={"Accept": "application/json", **request.headers},
            allow_private=self.allow_private,
            max_bytes=self.max_bytes,
            max_redirects=0,
            timeout=self.timeout,
            deadline=self.deadline,
        )
        try:
            data = json.loads(fetched.content)
        except ValueError:
            raise SearchError(f"{self.name} answered with something other than JSON") from None
        results = [r for r in self.parse_results(data) if _is_web_url(r.url)]
        return results[:k]

    def _items(self, data: Any, *path: str) -> list[dict[str, Any]]:
        node = data
        for key in path:
            if not isinstance(node, dict):
                raise SearchError(f"{self.name} answered without {'.'.join(path)!r}")
            node = cast("dict[str, Any]", node).get(key)
        if node is None:
            return []
        if not isinstance(node, list):
            raise SearchError(f"{self.name} answered {'.'.join(path)!r} that is not a list")
        return [item for item in cast("list[Any]", node) if isinstance(item, dict)]

    def __repr__(self) -> str:
        key = "SecretStr('**********')" if self.api_key is not None else "None"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={key})"


class BraveSearch(SearchProvider):
    """Brave Search's Web Search API (`GET /res/v1/web/search`, `X-Subscription-Token`).

    The key defaults to `$BRAVE_SEARCH_API_KEY`; results are `web.results[]`
    (`title`, `url`, `description`); one request returns at most 20.
    """

    name = "Brave Search"
    default_base_url = "https://api.search.brave.com/res/v1/web/search"
    api_key_env = "BRAVE_SEARCH_API_KEY"

    def build_request(self, query: str, k: int) -> SearchRequest:
        """`GET ?q=...&count=k` with the key in `X-Subscription-Token`."""
        return SearchRequest(
            "GET",
            self.base_url,
            params={"q": query, "count": k},
            headers={"X-Subscription-Token": self._key()},
        )

    def parse_results(self, data: Any) -> list[SearchResult]:
        """`web.results[]`: `title`, `url`, `description`."""
        return [
            SearchResult(
                clean_text(i.get("title")), str(i.get("url")), clean_text(i.get("description"))
            )
            for i in self._items(data, "web", "results")
        ]


class TavilySearch(SearchProvider):
    """Tavily's search API (`POST /search`, `Authorization: Bearer`).

    The key defaults to `$TAVILY_API_KEY`; results are `results[]` (`title`, `url`,
    `content`); one request returns at most 20.
    """

    name = "Tavily"
    default_base_url = "https://api.tavily.com/search"
    api_key_env = "TAVILY_API_KEY"

    def build_request(self, query: str, k: int) -> SearchRequest:
        """`POST {"query", "max_results", "search_depth": "basic"}` with a bearer key."""
        return SearchRequest(
            "POST",
            self.base_url,
            headers={"Authorization": f"Bearer {self._key()}"},
            json={"query": query, "max_results": k, "search_depth": "basic"},
        )

    def parse_results(self, data: Any) -> list[SearchResult]:
        """`results[]`: `title`, `url`, `content`."""
        return [
            SearchResult(
                clean_text(i.get("title")), str(i.get("url")), clean_text(i.get("content"))
            )
            for i in self._items(data, "results")
        ]


class SearxNGSearch(SearchProvider):
    """A SearXNG instance's JSON API (`GET /search?q=...&format=json`).

    `base_url` is the instance's root (there is no default; the instance must enable the
    `json` format in its settings). No key is needed; one given is sent as a bearer token, for
    an instance behind an authenticating proxy. SearXNG has no result count parameter: the
    first page is asked for and cut to `k`.
    """

    name = "SearXNG"
    needs_key = False
    api_key_env = "SEARXNG_API_KEY"

    def build_request(self, query: str, k: int) -> SearchRequest:
        """`GET {base_url}/search?q=...&format=json`."""
        headers = {"Authorization": f"Bearer {self._key()}"} if self.api_key else {}
        return SearchRequest(
            "GET",
            f"{self.base_url}/search",
            params={"q": query, "format": "json", "pageno": 1},
            headers=headers,
        )

    def parse_results(self, data: Any) -> list[SearchResult]:
        """`results[]`: `title`, `url`, `content`."""
        return [
            SearchResult(
                clean_text(i.get("title")), str(i.get("url")), clean_text(i.get("content"))
            )
            for i in self._items(data, "results")
        ]
