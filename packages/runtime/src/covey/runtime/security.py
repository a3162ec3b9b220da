"""`BrowserGuard`: what the server refuses before routing, so a web page cannot drive it.

A server without auth listens on loopback, but every page the developer opens runs on the same
machine. Three checks keep those pages out, for HTTP and WebSocket alike:

- **Host.** The `Host` header must name an allowed host (`allowed_hosts`: loopback by default),
  so a DNS-rebound name (`evil.example` resolving to 127.0.0.1) gets 400 `host-not-allowed`.
- **Origin.** A WebSocket handshake and every POST, PUT, PATCH and DELETE that carries an
  `Origin` must come from the server's own origin or one listed in `cors_origins`; otherwise 403
  `origin-not-allowed`. Requests without `Origin` (curl, SDKs) are not from a browser page.
- **Content type.** A POST, PUT or PATCH body must be JSON (`application/json` or
  `application/*+json`); anything else is 415 `unsupported-media-type`. Browsers send
  `text/plain`, forms and multipart across sites without a CORS preflight; JSON they do not.
  The one exception is `multipart/form-data` on the upload routes (`upload_paths`): such a
  request is refused when its `Sec-Fetch-Site` says another site sent it, and, like every
  write, when its `Origin` is not allowed (browsers send `Origin` on every cross-site POST).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from litestar.types import ASGIApp, Receive, Scope, Send

from covey.runtime.problems import PROBLEM_MEDIA_TYPE, problem_body

__all__ = ["LOOPBACK_HOSTS", "BrowserGuard", "HostRule", "parse_host"]

LOOPBACK_HOSTS = ("localhost", "127.0.0.0/8", "::1")
"""The hosts allowed by default: loopback names and addresses, with any port."""

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BODIES = frozenset({"POST", "PUT", "PATCH"})

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_host(value: str) -> str | None:
    """The host name or address of a `Host` header or origin authority, port dropped.

    `[::1]:8000` → `::1`, `LocalHost.:80` → `localhost`; `None` for an empty or malformed value.
    """
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or (value[end + 1 :] and not _is_port(value[end + 1 :])):
            return None
        host = value[1:end]
    else:
        host, colon, port = value.rpartition(":")
        if not colon:
            host = value
        elif not _is_port(":" + port) or ":" in host:
            return None
    host = host.rstrip(".")
    return host or None


def _is_port(text: str) -> bool:
    return text.startswith(":") and text[1:].isdigit() and len(text) <= 6


@dataclass(frozen=True, slots=True)
class HostRule:
    """The hosts a request may name: exact names, `*.domain` suffixes, IP networks, or `*`.

    Args:
        patterns: Each a host name (`api.example.com`), a wildcard (`*.example.com`), an address
            or network (`127.0.0.0/8`, `::1`, `[::1]`), or `*` for any host.
    """

    names: frozenset[str]
    suffixes: tuple[str, ...]
    networks: tuple[IpNetwork, ...]
    any_host: bool

    @classmethod
    def of(cls, patterns: Sequence[str]) -> HostRule:
        """The rule for `patterns` (see the class)."""
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[IpNetwork] = []
        any_host = False
        for raw in patterns:
            pattern = raw.strip().lower()
            if pattern == "*":
                any_host = True
            elif pattern.startswith("*."):
                suffixes.append(pattern[1:])
            else:
                try:
                    networks.append(ipaddress.ip_network(pattern.strip("[]"), strict=False))
                except ValueError:
                    names.add(pattern.rstrip("."))
        return cls(frozenset(names), tuple(suffixes), tuple(networks), any_host)

    def allows(self, host: str) -> bool:
        """Whether `host` (as `parse_host` returns it) is allowed."""
        if self.any_host or host in self.names:
            return True
        if any(host.endswith(suffix) for suffix in self.suffixes):
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


class BrowserGuard:
    """ASGI middleware checking host, origin and content type before the app routes a request.

    Args:
        app: The ASGI app to protect.
        allowed_hosts: Host patterns (see `HostRule`).
        allowed_origins: Origins allowed besides the server's own (`cors_origins`; `*` for any).
        upload_paths: Regular expressions of the paths that take `multipart/form-data` POSTs.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Sequence[str],
        allowed_origins: Sequence[str],
        upload_paths: Sequence[str] = (),
    ) -> None:
        self.app = app
        self.hosts = HostRule.of(allowed_hosts)
        self.origins = frozenset(o.strip().lower().rstrip("/") for o in allowed_origins)
        self.uploads = (
            re.compile("|".join(f"(?:{p})" for p in upload_paths)) if upload_paths else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(cast("list[tuple[bytes, bytes]]", scope["headers"]))
        method = cast("dict[str, Any]", scope).get("method", "GET")
        problem = self._refusal(kind, method, headers, scope["path"])
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, slug, detail = problem
        body = json.dumps(problem_body(status, slug, detail, instance=scope["path"])).encode()
        if kind == "http":
            await _send_problem(send, "http.response", status, body)
        else:
            await _refuse_socket(scope, receive, send, status, body)

    def _refusal(
        self, kind: str, method: str, headers: dict[str, str], path: str
    ) -> tuple[int, str, str] | None:
        raw_host = headers.get("host", "")
        host = parse_host(raw_host)
        if host is None or not self.hosts.allows(host):
            return (
                400,
                "host-not-allowed",
                f"Host {raw_host[:100]!r} is not served here; list it in allowed_hosts "
                "(COVEY_ALLOWED_HOSTS) to serve it",
            )
        origin = headers.get("origin")
        checked = kind == "websocket" or method in _WRITES
        if origin is not None and checked and not self._origin_allowed(origin, raw_host):
            return (
                403,
                "origin-not-allowed",
                f"Requests from origin {origin[:200]!r} are not allowed; list it in "
                "cors_origins (COVEY_CORS_ORIGINS) to allow it",
            )
        if kind == "http" and method in _BODIES:
            content_type = headers.get("content-type")
            if content_type is None:
                if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
                    return (415, "unsupported-media-type", _JSON_ONLY + "; none was given")
            elif not _is_json(content_type) and not self._upload(method, content_type, path):
                return (415, "unsupported-media-type", f"{_JSON_ONLY}; got {content_type[:100]!r}")
            elif (
                not _is_json(content_type)
                and headers.get("sec-fetch-site") in _OTHER_SITES
                and (origin is None or not self._origin_allowed(origin, raw_host))
            ):
                return (403, "origin-not-allowed", "Uploads from other sites are not allowed")
        return None

    def _upload(self, method: str, content_type: str, path: str) -> bool:
        media = content_type.split(";", 1)[0].strip().lower()
        return (
            method == "POST"
            and media == "multipart/form-data"
            and self.uploads is not None
            and self.uploads.fullmatch(path) is not None
        )

    def _origin_allowed(self, origin: str, raw_host: str) -> bool:
        origin = origin.strip().lower().rstrip("/")
        if "*" in self.origins or origin in self.origins:
            return True
        scheme, sep, authority = origin.partition("://")
        # The server's own pages: same host and port; the scheme may differ behind a TLS proxy.
        return bool(sep) and scheme in ("http", "https") and authority == raw_host.strip().lower()


_OTHER_SITES = frozenset({"cross-site", "same-site"})

_JSON_ONLY = "The body must be JSON: Content-Type application/json (or application/*+json)"


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    wanted = ("host", "origin", "content-type", "content-length", "transfer-encoding")
    found: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        if key in wanted and key not in found:
            found[key] = value.decode("latin-1")
    return found


async def _send_problem(send: Send, prefix: str, status: int, body: bytes) -> None:
    await send(
        cast(
            Any,
            {
                "type": f"{prefix}.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            },
        )
    )
    await send(cast(Any, {"type": f"{prefix}.body", "body": body, "more_body": False}))


async def _refuse_socket(
    scope: Scope, receive: Receive, send: Send, status: int, body: bytes
) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    extensions = cast("dict[str, Any] | None", cast("dict[str, Any]", scope).get("extensions"))
    if extensions is not None and "websocket.http.response" in extensions:
        await _send_problem(send, "websocket.http.response", status, body)
    else:
        # Without the denial-response extension the server answers the handshake with 403.
        await send(cast(Any, {"type": "websocket.close", "code": 4000 + status}))
