"""How one connection to an MCP server is opened: stdio, streamable HTTP or SSE.

Each is a factory of the SDK's transport context manager, called by the connection's owner task
for every (re)connect. HTTP credentials live in `_HeaderAuth`, an httpx auth flow that sets the
static headers, the bearer token and the headers of the current call on each request: secret
values never sit in a repr, and per-call headers come from a context variable the owner task sets
around a call (the SDK's HTTP transports carry the sender's context to the request they send).
"""

from __future__ import annotations

import contextvars
import sys
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

from pydantic import SecretStr

if TYPE_CHECKING:
    import httpx2

    from mcp.client._transport import TransportStreams

__all__ = [
    "CALL_HEADERS",
    "HttpSpec",
    "StdioSpec",
    "TransportFactory",
]

TransportFactory = Callable[[], "AbstractAsyncContextManager[TransportStreams]"]

CALL_HEADERS: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "covey_mcp_call_headers", default=None
)
"""Headers for the request being sent now (set by the owner task around one call)."""


@dataclass(frozen=True, slots=True)
class StdioSpec:
    """A server run as a subprocess, spoken to over its stdin and stdout."""

    command: str
    args: tuple[str, ...] = ()
    env: Mapping[str, str] | None = None
    cwd: str | Path | None = None
    errlog: TextIO | None = None

    def factory(self) -> TransportFactory:
        def open_stdio() -> AbstractAsyncContextManager[TransportStreams]:
            from mcp.client.stdio import StdioServerParameters, stdio_client

            params = StdioServerParameters(
                command=self.command,
                args=list(self.args),
                env=dict(self.env) if self.env is not None else None,
                cwd=self.cwd,
            )
            return stdio_client(params, errlog=self.errlog or sys.stderr)

        return open_stdio

    def describe(self) -> str:
        # Arguments can hold secrets (a token on the command line); show the program only.
        return f"command={self.command!r}, args=<{len(self.args)}>"

    def secrets(self) -> list[str]:
        return [v for v in (self.env or {}).values() if len(v) >= 4]


@dataclass(frozen=True, slots=True)
class HttpSpec:
    """A server at a URL, over streamable HTTP or the older HTTP+SSE transport."""

    url: str
    transport: Literal["streamable-http", "sse"] = "streamable-http"
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    auth: SecretStr | None = None
    connect_timeout: float = 30.0

    def factory(self) -> TransportFactory:
        if self.transport == "sse":
            return self._sse
        return self._streamable

    def _auth(self) -> httpx2.Auth:
        import httpx2

        headers = dict(self.headers)
        token = self.auth

        class _HeaderAuth(httpx2.Auth):
            def auth_flow(
                self, request: httpx2.Request
            ) -> Generator[httpx2.Request, httpx2.Response, None]:
                for name, value in headers.items():
                    request.headers[name] = value
                for name, value in (CALL_HEADERS.get() or {}).items():
                    request.headers[name] = value
                if token is not None:
                    request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
                yield request

            def __repr__(self) -> str:
                return "<covey MCP headers>"

        return _HeaderAuth()

    def _client(self) -> httpx2.AsyncClient:
        import httpx2

        # Redirects: the SDK follows same-origin ones itself and refuses the rest.
        timeout = httpx2.Timeout(self.connect_timeout, read=300.0)
        return httpx2.AsyncClient(timeout=timeout, auth=self._auth(), follow_redirects=False)

    def _streamable(self) -> AbstractAsyncContextManager[TransportStreams]:
        from contextlib import asynccontextmanager

        from mcp.client.streamable_http import streamable_http_client

        @asynccontextmanager
        async def open_http() -> AsyncGenerator[TransportStreams, None]:
            async with (
                self._client() as client,
                streamable_http_client(self.url, http_client=client) as streams,
            ):
                yield streams

        return open_http()

    def _sse(self) -> AbstractAsyncContextManager[TransportStreams]:
        from mcp.client.sse import sse_client

        return sse_client(
            self.url,
            timeout=self.connect_timeout,
            auth=self._auth(),
            httpx_client_factory=self._factory_for_sse,
        )

    def _factory_for_sse(
        self,
        headers: dict[str, str] | None = None,
        timeout: Any = None,
        auth: Any = None,
    ) -> httpx2.AsyncClient:
        import httpx2

        return httpx2.AsyncClient(
            timeout=timeout or httpx2.Timeout(self.connect_timeout, read=300.0),
            auth=auth or self._auth(),
            follow_redirects=False,
        )

    def describe(self) -> str:
        return f"url={_public_url(self.url)!r}, transport={self.transport!r}"

    def secrets(self) -> list[str]:
        found = [v for v in self.headers.values() if len(v) >= 4]
        if self.auth is not None:
            found.append(self.auth.get_secret_value())
        return found


def _public_url(url: str) -> str:
    """The URL without userinfo or query (either may carry a credential)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
