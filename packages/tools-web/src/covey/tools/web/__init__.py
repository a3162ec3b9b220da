"""Web tools for Covey agents: `WebToolset` (`fetch_url`, `web_search`) and the SSRF guard.

`fetch_url` returns a page as text behind an SSRF guard applied on every redirect hop;
`web_search` asks a configured provider (`BraveSearch`, `TavilySearch`, `SearxNGSearch`, or a
`SearchProvider` of your own). The tool reference `"web"` resolves to `from_reference`.
"""

from __future__ import annotations

from covey.tools.web.fetch import (
    Fetched,
    FetchError,
    UnsafeURLError,
    fetch_url,
    is_public_address,
    url_name,
)
from covey.tools.web.search import (
    BraveSearch,
    SearchError,
    SearchProvider,
    SearchRequest,
    SearchResult,
    SearxNGSearch,
    TavilySearch,
)
from covey.tools.web.toolset import WebToolset, from_reference

__all__ = [
    "BraveSearch",
    "FetchError",
    "Fetched",
    "SearchError",
    "SearchProvider",
    "SearchRequest",
    "SearchResult",
    "SearxNGSearch",
    "TavilySearch",
    "UnsafeURLError",
    "WebToolset",
    "fetch_url",
    "from_reference",
    "is_public_address",
    "url_name",
]
