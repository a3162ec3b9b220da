"""`qdrant://` URLs: a Qdrant server, or qdrant-client's local mode on disk or in memory."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from covey.spec.errors import ConfigurationError

__all__ = ["parse_url"]

_EXAMPLES = (
    "'qdrant://localhost:6333' (server), 'qdrants://host:6333' (server over TLS), "
    "'qdrant:///rel/path' or 'qdrant:////abs/path' (local mode on disk), "
    "'qdrant:///:memory:' (local mode in memory)"
)
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _redact(url: str) -> str:
    # A URL that (wrongly) carries a credential is shown without it.
    url = re.sub(r"(?<=://)[^/?#@]*@", "***@", url)
    return re.sub(r"(?i)(api_key=)[^&#]*", r"\1***", url)


def _bad(url: str, why: str) -> ConfigurationError:
    return ConfigurationError(f"Invalid Qdrant URL {_redact(url)!r}: {why}. Expected {_EXAMPLES}.")


def parse_url(url: str) -> str:
    """What `QdrantVectorStore` takes for a `qdrant://` URL.

    Returns:
        `"http(s)://host:port"` for a server, `":memory:"`, or a filesystem path.

    Raises:
        ConfigurationError: the URL is malformed, has an unknown parameter, or carries a
            credential (give the API key through `QDRANT_API_KEY` or `api_key=`).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise _bad(url, str(e)) from None
    scheme = parts.scheme.lower()
    if scheme not in ("qdrant", "qdrants"):
        raise _bad(url, f"the scheme is {parts.scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise _bad(url, "credentials do not belong in the URL; set QDRANT_API_KEY")
    if parts.fragment:
        raise _bad(url, "it has a fragment")
    params = parse_qs(parts.query, keep_blank_values=True)
    https = scheme == "qdrants"
    for name, values in params.items():
        if name == "api_key":
            raise _bad(url, "the API key does not belong in the URL; set QDRANT_API_KEY")
        if name != "https":
            raise _bad(url, f"unknown parameter {name!r} (only 'https' is known)")
        if len(values) > 1:
            raise _bad(url, "'https' is given twice")
        if values[0].lower() not in _TRUE | _FALSE:
            raise _bad(url, f"https={values[0]!r} is not true or false")
        https = https or values[0].lower() in _TRUE
    host = parts.hostname
    if host:
        if parts.path not in ("", "/"):
            raise _bad(url, "a server URL has no path")
        bracketed = f"[{host}]" if ":" in host else host
        return f"{'https' if https else 'http'}://{bracketed}:{port or 6333}"
    if parts.netloc:
        raise _bad(url, "the host is empty")
    if params:
        raise _bad(url, "local mode takes no parameters")
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not path:
        raise _bad(url, "it names neither a host nor a path")
    return path
