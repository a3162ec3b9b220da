"""`WebToolset`: `fetch_url` (a page as text) and, with a search provider, `web_search`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import anyio.to_thread
from pydantic import Field

from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError, CoveyError
from covey.spec.function_toolset import FunctionToolset, Tool
from covey.spec.tools import ToolDefinition, ToolResult, Toolset
from covey.tools.web.extract import UnsupportedContentError, page_from_body
from covey.tools.web.fetch import fetch_url
from covey.tools.web.search import SearchProvider

__all__ = ["WebToolset", "from_reference"]

_USER_AGENT = "covey-tools-web/0.1"
_ACCEPT = (
    "text/html,application/xhtml+xml,text/markdown;q=0.9,text/plain;q=0.9,"
    "application/json;q=0.9,*/*;q=0.1"
)


class WebToolset(Toolset):
    """Web access for an agent, deny-by-default.

    Tools:
        - `fetch_url(url, max_chars?)`: the page as text — HTML as its title and main text,
          plain text, Markdown, JSON and XML as they are; other content types are refused.
          The URL and every redirect hop go through the SSRF guard of
          `covey.tools.web.fetch`: private, loopback, link-local and other non-public
          addresses are refused unless `allow_private_urls` allows them.
        - `web_search(query, k?)`: only when `search` is given; up to `k` results, each a title,
          URL and snippet.

    Failures the model should hear about (a refused URL, an error status, a timeout, a
    content type that is not text, a search API error) come back as error results, so the
    model can try another URL; the run goes on.

    Args:
        search: The search provider (`BraveSearch`, `TavilySearch`, `SearxNGSearch`, or your
            own `SearchProvider`); without one there is no `web_search` tool.
        allow_private_urls: `True` allows fetching non-public addresses; a list of
            `"host:port"` entries (`"127.0.0.1:8000"`, `"[::1]:8080"`, `"wiki.internal:80"`)
            allows exactly those. Default: none.
        max_bytes: The most bytes read of a page; a longer one is cut there (and says so).
            It also bounds the CPU a page costs: parsing HTML runs at roughly 1-2 MB/s of
            markup (scripts and styles, cut out first, cost almost nothing).
        max_chars: The most characters of text a call returns, and the default; a call may ask
            for fewer.
        max_redirects: The most redirects followed per fetch.
        timeout: Seconds for connecting, and between bytes read.
        deadline: Seconds one fetch may take in all, redirects included.
        user_agent: The `User-Agent` header sent.
        id: The toolset's name, the prefix of its tools when names clash.

    Raises:
        ConfigurationError: a limit is not positive.
    """

    def __init__(
        self,
        *,
        search: SearchProvider | None = None,
        allow_private_urls: bool | Sequence[str] = False,
        max_bytes: int = 2 * 1024 * 1024,
        max_chars: int = 20_000,
        max_redirects: int = 5,
        timeout: float = 10.0,
        deadline: float = 30.0,
        user_agent: str = _USER_AGENT,
        id: str = "web",
    ) -> None:
        for label, value in (
            ("max_bytes", max_bytes),
            ("max_chars", max_chars),
            ("timeout", timeout),
            ("deadline", deadline),
        ):
            if not value > 0:
                raise ConfigurationError(f"WebToolset: {label} must be positive, got {value!r}.")
        if max_redirects < 0:
            raise ConfigurationError(
                f"WebToolset: max_redirects must be 0 or more, got {max_redirects!r}."
            )
        if isinstance(allow_private_urls, str):
            raise ConfigurationError(
                "WebToolset: allow_private_urls takes True or a list of 'host:port' entries, "
                f"not the string {allow_private_urls!r}; write [{allow_private_urls!r}]."
            )
        self.id = id
        self.search = search
        self.allow_private_urls: bool | tuple[str, ...] = (
            allow_private_urls
            if isinstance(allow_private_urls, bool)
            else tuple(allow_private_urls)
        )
        self.max_bytes = max_bytes
        self.max_chars = max_chars
        self.max_redirects = max_redirects
        self.timeout = timeout
        self.deadline = deadline
        self.user_agent = user_agent
        tools: list[Tool[..., Any]] = [Tool(self.fetch_url, name="fetch_url")]
        if search is not None:
            tools.append(Tool(self.web_search, name="web_search"))
        self._tools = FunctionToolset(tools, id=id)

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        """`fetch_url`, and `web_search` when a search provider is configured."""
        return await self._tools.list_tools(ctx)

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        """Run a tool; see the class documentation.

        Raises:
            ToolNotFoundError: no tool of that name.
            ToolArgumentsError: the arguments do not match the tool's schema.
        """
        return await self._tools.call_tool(name, args, ctx)

    async def fetch_url(
        self, url: str, max_chars: Annotated[int, Field(ge=1)] | None = None
    ) -> ToolResult:
        """Fetch a web page and return its readable text.

        HTML pages come back as their title and main text (scripts, styles, navigation and
        hidden parts dropped); plain text, Markdown, JSON and XML as they are. Images, PDFs and
        other binary content are refused. Long pages are cut, and the text says so.

        Args:
            url: The http or https URL to fetch.
            max_chars: The most characters of text to return; defaults to, and cannot exceed,
                the toolset's limit.
        """
        limit = min(max_chars or self.max_chars, self.max_chars)
        try:
            fetched = await fetch_url(
                url.strip(),
                allow_private=self.allow_private_urls,
                max_bytes=self.max_bytes,
                max_redirects=self.max_redirects,
                timeout=self.timeout,
                deadline=self.deadline,
                truncate=True,
                headers={"User-Agent": self.user_agent, "Accept": _ACCEPT},
            )
            page = await anyio.to_thread.run_sync(
                page_from_body, fetched.content, fetched.content_type
            )
        except (CoveyError, UnsupportedContentError) as exc:
            return ToolResult(content=str(exc), is_error=True)
        text = page.text
        notes: list[str] = []
        if fetched.truncated:
            notes.append(
                f"[Truncated: the page is over {self.max_bytes:,} bytes; only its first "
                f"{self.max_bytes:,} bytes were read.]"
            )
        total = len(text)
        if total > limit:
            text = _cut(text, limit)
            notes.append(f"[Truncated: showing the first {len(text):,} of {total:,} characters.]")
        head = [f"Title: {page.title}"] if page.title else []
        head.append(f"URL: {fetched.url}")
        body = "\n".join(head) + "\n\n" + text
        if notes:
            body += "\n\n" + "\n".join(notes)
        return ToolResult(
            content=body,
            metadata={
                "url": fetched.url,
                "title": page.title,
                "media_type": page.media_type,
                "characters": total,
                "truncated": bool(notes),
            },
        )

    async def web_search(
        self,
        query: Annotated[str, Field(min_length=1, max_length=500)],
        k: Annotated[int, Field(ge=1, le=20)] = 5,
    ) -> ToolResult:
        """Search the web. Returns up to k results, each a title, URL and snippet; read a
        result with fetch_url.

        Args:
            query: What to search for.
            k: How many results to return (1 to 20).
        """
        assert self.search is not None  # the tool is listed only with a provider
        try:
            results = await self.search.search(query, k)
        except CoveyError as exc:
            return ToolResult(content=f"Web search failed: {exc}", is_error=True)
        return ToolResult(
            content=[{"title": r.title, "url": r.url, "snippet": r.snippet} for r in results],
            metadata={"provider": self.search.name},
        )

    def __repr__(self) -> str:
        return (
            f"WebToolset(id={self.id!r}, search={self.search!r}, "
            f"allow_private_urls={self.allow_private_urls!r})"
        )


def _cut(text: str, limit: int) -> str:
    """The first `limit` characters, ending at a line or word break when one is near."""
    cut = text[:limit]
    for sep in ("\n", " "):
        at = cut.rfind(sep, max(0, limit - 200))
        if at > 0:
            return cut[:at].rstrip()
    return cut


def from_reference(arg: str | None = None) -> WebToolset:
    """The toolset behind the tool reference `"web"`: `fetch_url` only, no search provider, no
    private addresses (deny-by-default).

    Raises:
        ConfigurationError: an argument was given (`"web:..."`); configure search or allowed
            hosts by building `WebToolset(...)` in code.
    """
    if arg is not None:
        raise ConfigurationError(
            f"The tool reference 'web' takes no argument, got 'web:{arg}'. For web search or "
            "allowed private hosts, pass WebToolset(search=..., allow_private_urls=...) in tools=."
        )
    return WebToolset()
