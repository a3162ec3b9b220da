"""Fetching URLs behind an SSRF guard.

A URL that a model, a user or a document supplies could point at the server's own network: a
cloud metadata endpoint (169.254.169.254), an admin port on loopback, a database on a private
subnet. So every hop, the first request and each redirect, is checked before it is made:

- only `http` and `https`;
- the host is resolved, and every address it resolves to must be public (not private,
  loopback, link-local, site-local, shared, reserved, multicast or unspecified; an IPv6
  address that carries an IPv4 one — IPv4-mapped, IPv4-compatible, NAT64, 6to4 — is judged by
  that IPv4 address), unless allowed explicitly;
- the connection goes to the address that was checked (the request carries the original `Host`
  and TLS server name), so a second DNS answer cannot swap in another address;
- at most `max_redirects` redirects, followed here rather than by the HTTP client; headers the
  caller gave (credentials, say) are sent to the first origin only;
- the body is streamed and cut off past `max_bytes`; every phase has a timeout, and `deadline`
  bounds the whole fetch (a server that trickles bytes cannot hold a call forever);
- no proxy or `.netrc` from the environment, and errors never show credentials or query strings.

This module is the one implementation: `covey-knowledge` fetches URL sources through it.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import anyio
import httpx

from covey.spec.errors import CoveyError, InvalidInputError

__all__ = [
    "FetchError",
    "Fetched",
    "UnsafeURLError",
    "fetch_url",
    "is_public_address",
    "request_url",
    "shown_url",
    "url_name",
]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LEGACY_IPV4 = re.compile(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}", re.IGNORECASE)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURLError(InvalidInputError):
    """The URL, or a redirect it led to, points somewhere the guard does not allow."""


class FetchError(CoveyError):
    """The URL could not be fetched: no connection, a timeout, or an HTTP error status."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A fetched document.

    Attributes:
        url: The URL it came from after redirects (without credentials or query string).
        content: The body.
        content_type: The `Content-Type` header, when sent.
        truncated: The body was longer than `max_bytes` and was cut off there (only when the
            fetch was asked to truncate rather than fail).
    """

    url: str
    content: bytes
    content_type: str | None
    truncated: bool = False


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, when it is one of the embedding forms."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    packed = int(address)
    if address in _NAT64 or (packed >> 32 == 0 and packed > 1):  # NAT64, or IPv4-compatible
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    """Whether `address` is a public unicast address.

    An IPv6 address embedding an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
    `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::`) is judged by the IPv4
    address, since a translator or tunnel may deliver it there; site-local `fec0::/10` is not
    public.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
        if address.is_site_local:
            return False
    return address.is_global and not address.is_multicast


def url_name(url: str) -> str:
    """A readable name for a URL: its last path segment, else its host."""
    parsed = httpx.URL(url)
    return PurePosixPath(parsed.path).name or parsed.host or url


def shown_url(url: httpx.URL | str) -> str:
    """`url` without credentials, query string or fragment: safe for errors and logs."""
    if isinstance(url, str):
        try:
            url = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            return "(an invalid URL)"
    port = f":{url.port}" if url.port else ""
    try:
        host = url.host
    except ValueError:
        host = url.raw_host.decode("ascii", errors="replace")
    host = f"[{host}]" if ":" in host else host
    return f"{url.scheme}://{host}{port}{url.path}"


_shown = shown_url


def _allowed_pairs(allow: Sequence[str]) -> set[str]:
    return {entry.strip().lower() for entry in allow}


async def _addresses(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(host):
        # `127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`: the C library reads these as IPv4
        # (inet_aton), and so does the guard, without asking DNS.
        try:
            return [ipaddress.IPv4Address(socket.inet_aton(host))]
        except OSError:
            pass
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(f"Cannot resolve host {host!r}: {exc.strerror or exc}") from None
    except UnicodeError:  # a name IDNA cannot encode (an empty or overlong label...)
        raise UnsafeURLError(f"Host {host!r} is not a valid host name") from None
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
    if not url.scheme:
        raise UnsafeURLError("The URL has no scheme: only http:// and https:// URLs are fetched")
    if url.scheme not in ("http", "https"):
        raise UnsafeURLError(f"Only http and https URLs are fetched, not {url.scheme!r}")
    try:
        host = url.host
    except ValueError:  # httpx decodes IDNA lazily: `xn--` alone, say
        raise UnsafeURLError("The URL's host is not a valid host name") from None
    if not host:
        raise UnsafeURLError("The URL has no host")
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await _addresses(host, port)
    if allow is True:
        return addresses[0]
    allowed: set[str] = _allowed_pairs(allow) if allow else set[str]()
    for address in addresses:
        if is_public_address(address):
            continue
        literal = f"[{address}]" if address.version == 6 else str(address)
        if f"{host.lower()}:{port}" in allowed or f"{literal}:{port}" in allowed:
            continue
        raise UnsafeURLError(
            f"Refusing to fetch {_shown(url)}: its host resolves to {address}, a private, "
            "loopback, link-local or otherwise non-public address. Allow it explicitly with "
            "allow_private_urls (True, or a list of 'host:port' entries) if it is trusted."
        )
    return addresses[0]


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verifying context (certifi's CAs), built once per process: loading the
    CA bundle is ~45 ms, which a client per fetch would otherwise pay every call."""
    return httpx.create_ssl_context(trust_env=False)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host.lower(), url.port)


async def fetch_url(
    url: str,
    *,
    allow_private: bool | Sequence[str] = False,
    max_bytes: int = 50 * 1024 * 1024,
    max_redirects: int = 5,
    timeout: float = 30.0,  # noqa: ASYNC109 - per phase (httpx.Timeout), not a whole deadline
    deadline: float | None = None,
    truncate: bool = False,
    headers: Mapping[str, str] | None = None,
) -> Fetched:
    """GET `url` through the SSRF guard (see the module documentation).

    Args:
        url: An `http` or `https` URL.
        allow_private: `True` allows non-public addresses; a list of `"host:port"` entries
            (`"127.0.0.1:8000"`, `"[::1]:8000"`, `"intranet:80"`) allows exactly those.
        max_bytes: The largest body accepted.
        max_redirects: The most redirects followed.
        timeout: Seconds for connecting, and between bytes read.
        deadline: Seconds the whole fetch may take, redirects included; `None` for no bound
            beyond `timeout` per phase.
        truncate: Past `max_bytes`, keep the first `max_bytes` (`Fetched.truncated`) instead of
            failing.
        headers: Extra request headers, sent to the URL's own origin only (not after a redirect
            to another origin).

    Raises:
        InvalidInputError: `url` is not a valid URL.
        UnsafeURLError: a hop is not http(s), is not a valid URL, or points at a non-public
            address not allowed.
        FetchError: no connection, a timeout, too many redirects, an error status, or a body
            over `max_bytes` (unless `truncate`).
    """
    return await request_url(
        "GET",
        url,
        allow_private=allow_private,
        max_bytes=max_bytes,
        max_redirects=max_redirects,
        timeout=timeout,
        deadline=deadline,
        truncate=truncate,
        headers=headers,
    )


async def request_url(
    method: str,
    url: str,
    *,
    params: Mapping[str, str | int] | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    allow_private: bool | Sequence[str] = False,
    max_bytes: int = 50 * 1024 * 1024,
    max_redirects: int = 5,
    timeout: float = 30.0,  # noqa: ASYNC109 - per phase (httpx.Timeout), not a whole deadline
    deadline: float | None = None,
    truncate: bool = False,
) -> Fetched:
    """Send one request through the SSRF guard; `fetch_url` is this with `GET`.

    `params` are added to the query string and `json` is sent as the body. A 303 redirect, or
    a 301/302 after another method than GET, continues with a GET without a body (as browsers
    do); 307 and 308 repeat the method and body. See `fetch_url` for the other arguments and
    the errors.
    """
    try:
        first = httpx.URL(url, params=params) if params else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise InvalidInputError(f"Not a valid URL: {exc}") from None
    try:
        with anyio.fail_after(deadline):
            return await _request(
                method,
                first,
                json,
                dict(headers or {}),
                allow_private,
                max_bytes,
                max_redirects,
                timeout,
                truncate,
            )
    except TimeoutError:
        if deadline is None:
            raise
        raise FetchError(f"Fetching {_shown(first)} took longer than {deadline:g} s") from None


async def _request(
    method: str,
    first: httpx.URL,
    body: Any,
    headers: dict[str, str],
    allow: bool | Sequence[str],
    max_bytes: int,
    max_redirects: int,
    timeout: float,  # noqa: ASYNC109 - per phase, see request_url
    truncate: bool,
) -> Fetched:
    current = first
    caller_headers = {k: v for k, v in headers.items() if k.lower() != "host"}
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        verify=_tls_context(),
    ) as client:
        for _hop in range(max_redirects + 1):
            address = await _check_hop(current, allow)
            target = current.copy_with(host=str(address))
            sent = dict(caller_headers) if _origin(current) == _origin(first) else {}
            sent["Host"] = current.netloc.decode("ascii").rpartition("@")[2]
            extensions = {"sni_hostname": current.host} if current.scheme == "https" else {}
            request = client.build_request(
                method, target, headers=sent, json=body, extensions=extensions
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.TimeoutException:
                raise FetchError(f"Cannot fetch {_shown(current)}: timed out") from None
            except httpx.RemoteProtocolError as exc:
                # httpx reads the Location of every redirect, even one it does not follow.
                if "location" in str(exc).lower():
                    raise UnsafeURLError(
                        f"{_shown(current)} redirected to an invalid URL"
                    ) from None
                raise FetchError(f"Cannot fetch {_shown(current)}: {type(exc).__name__}") from None
            except httpx.HTTPError as exc:
                raise FetchError(f"Cannot fetch {_shown(current)}: {type(exc).__name__}") from None
            try:
                if response.status_code in _REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchError(f"{_shown(current)} redirected without a Location")
                    try:
                        current = current.join(location)
                    except (httpx.InvalidURL, ValueError):  # IDNA errors are ValueErrors
                        raise UnsafeURLError(
                            f"{_shown(current)} redirected to an invalid URL"
                        ) from None
                    if response.status_code == 303 or (
                        response.status_code in (301, 302) and method != "GET"
                    ):
                        method, body = "GET", None
                    continue
                if response.status_code >= 400:
                    raise FetchError(
                        f"Fetching {_shown(current)} answered HTTP {response.status_code}"
                    )
                content, cut = await _read_capped(response, max_bytes, current, truncate)
                return Fetched(
                    url=_shown(current),
                    content=content,
                    content_type=response.headers.get("content-type"),
                    truncated=cut,
                )
            finally:
                await response.aclose()
    if max_redirects == 0:
        raise FetchError(f"Fetching {_shown(first)} answered a redirect, which is not followed")
    raise FetchError(f"Fetching {_shown(first)} redirected more than {max_redirects} times")


async def _read_capped(
    response: httpx.Response, max_bytes: int, url: httpx.URL, truncate: bool
) -> tuple[bytes, bool]:
    declared = response.headers.get("content-length")
    if not truncate and declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{_shown(url)} is {declared} bytes, over the limit of {max_bytes}")
    body = bytearray()
    try:
        async for piece in response.aiter_bytes():
            body.extend(piece)
            if len(body) > max_bytes:
                if truncate:
                    return bytes(body[:max_bytes]), True
                raise FetchError(f"{_shown(url)} is over the limit of {max_bytes} bytes")
    except httpx.TimeoutException:
        raise FetchError(f"Reading {_shown(url)} failed: timed out") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"Reading {_shown(url)} failed: {type(exc).__name__}") from None
    return bytes(body), False
