"""Fetching URL sources behind an SSRF guard.

A URL given to a knowledge base could point at the server's own network: a cloud metadata
endpoint (169.254.169.254), an admin port on loopback, a database on a private subnet. So every
hop, the first request and each redirect, is checked before it is made:

- only `http` and `https`;
- the host is resolved, and every address it resolves to must be public (not private,
  loopback, link-local, shared, reserved, multicast or unspecified; IPv4-mapped IPv6 addresses
  are judged by their IPv4 address), unless allowed explicitly;
- the connection goes to the address that was checked (the request carries the original `Host`
  and TLS server name), so a second DNS answer cannot swap in another address;
- at most `max_redirects` redirects, followed here rather than by the HTTP client;
- the body is streamed and cut off past `max_bytes`; every phase has a timeout.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import anyio
import httpx

from covey.spec.errors import CoveyError, InvalidInputError

__all__ = ["FetchError", "Fetched", "UnsafeURLError", "fetch_url", "is_public_address", "url_name"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURLError(InvalidInputError):
    """The URL, or a redirect it led to, points somewhere the guard does not allow."""


class FetchError(CoveyError):
    """The URL could not be fetched: no connection, a timeout, or an HTTP error status."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched document.

    Attributes:
        url: The URL it came from after redirects.
        content: The body.
        content_type: The `Content-Type` header, when sent.
    """

    url: str
    content: bytes
    content_type: str | None


def is_public_address(address: IPAddress) -> bool:
    """Whether `address` is a public unicast address (IPv4-mapped IPv6 judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def url_name(url: str) -> str:
    """A readable name for a URL: its last path segment, else its host."""
    parsed = httpx.URL(url)
    return PurePosixPath(parsed.path).name or parsed.host or url


def _shown(url: httpx.URL) -> str:
    # Never echo credentials or query strings (they may hold tokens) into errors.
    port = f":{url.port}" if url.port else ""
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}{port}{url.path}"


def _allowed_pairs(allow: Sequence[str]) -> set[str]:
    return {entry.strip().lower() for entry in allow}


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(f"Cannot resolve host {host!r}: {exc.strerror or exc}") from None
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise FetchError(f"Host {host!r} resolves to no address")
    return found


async def _check_hop(url: httpx.URL, allow: bool | Sequence[str]) -> IPAddress:
    """The address to connect to for `url`, after checking the URL and every address."""
    if url.scheme not in ("http", "https"):
        raise UnsafeURLError(f"Only http and https URLs are fetched, not {url.scheme!r}")
    if not url.host:
        raise UnsafeURLError("The URL has no host")
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await _addresses(url.host, port)
    if allow is True:
        return addresses[0]
    allowed: set[str] = _allowed_pairs(allow) if allow else set[str]()
    for address in addresses:
        if is_public_address(address):
            continue
        literal = f"[{address}]" if address.version == 6 else str(address)
        if f"{url.host.lower()}:{port}" in allowed or f"{literal}:{port}" in allowed:
            continue
        raise UnsafeURLError(
            f"Refusing to fetch {_shown(url)}: its host resolves to {address}, a private, "
            "loopback, link-local or otherwise non-public address. Allow it explicitly with "
            "allow_private_urls (True, or a list of 'host:port' entries) if it is trusted."
        )
    return addresses[0]


async def fetch_url(
    url: str,
    *,
    allow_private: bool | Sequence[str] = False,
    max_bytes: int = 50 * 1024 * 1024,
    max_redirects: int = 5,
    timeout: float = 30.0,  # noqa: ASYNC109 - per phase (httpx.Timeout), not a whole deadline
) -> Fetched:
    """GET `url` through the SSRF guard (see the module documentation).

    Args:
        url: An `http` or `https` URL.
        allow_private: `True` allows non-public addresses; a list of `"host:port"` entries
            (`"127.0.0.1:8000"`, `"[::1]:8000"`, `"intranet:80"`) allows exactly those.
        max_bytes: The largest body accepted.
        max_redirects: The most redirects followed.
        timeout: Seconds for connecting, and between bytes read.

    Raises:
        UnsafeURLError: a hop is not http(s), or points at a non-public address not allowed.
        FetchError: no connection, a timeout, too many redirects, an error status, or a body
            over `max_bytes`.
    """
    try:
        current = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidInputError(f"Not a valid URL: {exc}") from None
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False
    ) as client:
        for _hop in range(max_redirects + 1):
            address = await _check_hop(current, allow_private)
            target = current.copy_with(host=str(address))
            host_header = current.netloc.decode("ascii").rpartition("@")[2]
            extensions = {"sni_hostname": current.host} if current.scheme == "https" else {}
            request = client.build_request(
                "GET", target, headers={"Host": host_header}, extensions=extensions
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise FetchError(f"Cannot fetch {_shown(current)}: {type(exc).__name__}") from None
            try:
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(f"{_shown(current)} redirected without a Location")
                    current = current.join(location)
                    continue
                if response.status_code >= 400:
                    raise FetchError(
                        f"Fetching {_shown(current)} answered HTTP {response.status_code}"
                    )
                content = await _read_capped(response, max_bytes, current)
                return Fetched(
                    url=_shown(current),
                    content=content,
                    content_type=response.headers.get("content-type"),
                )
            finally:
                await response.aclose()
    raise FetchError(
        f"Fetching {_shown(httpx.URL(url))} redirected more than {max_redirects} times"
    )


async def _read_capped(response: httpx.Response, max_bytes: int, url: httpx.URL) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{_shown(url)} is {declared} bytes, over the limit of {max_bytes}")
    body = bytearray()
    try:
        async for piece in response.aiter_bytes():
            body.extend(piece)
            if len(body) > max_bytes:
                raise FetchError(f"{_shown(url)} is over the limit of {max_bytes} bytes")
    except httpx.HTTPError as exc:
        raise FetchError(f"Reading {_shown(url)} failed: {type(exc).__name__}") from None
    return bytes(body)
