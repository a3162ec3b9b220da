"""The console: a control plane in the browser, served by the runtime at `/console`.

The files under `static/` are the whole console: plain ES modules, one stylesheet, no build
step, no framework, nothing fetched from anywhere but this server. They use only the public HTTP
API (with the bearer token the person signs in with), so the console can do nothing a token
cannot do with curl.

Serving rules, all decided here:

- Only the files found under `static/` when the console is first asked for are served (a fixed
  table: no path from a request ever reaches the file system, so `..` and friends are 404).
- Any other path under `/console/` is a page of the single-page app and gets `index.html`, so a
  link such as `/console/runs/<id>` opens that run after a reload.
- Every answer carries a strict Content-Security-Policy (scripts, styles and API calls from this
  origin only, no inline script, no framing), `nosniff` and `no-referrer`.
- Text files are sent gzipped when the browser accepts it, with an ETag; the browser revalidates
  them (`no-cache`), so an upgraded runtime never serves a stale console.
- The console's files need no token (they hold no data); every API call they make does.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Redirect

__all__ = ["CONSOLE_PATH", "CSP", "console_handlers"]

CONSOLE_PATH = "/console"
STATIC = Path(__file__).parent / "static"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
"""The console's Content-Security-Policy: nothing inline, nothing from another origin."""

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
}
_COMPRESSIBLE = frozenset({".html", ".js", ".css", ".svg", ".json", ".webmanifest"})
_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "x-frame-options": "DENY",
}


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    gzipped: bytes | None
    media_type: str
    etag: str


class _Assets:
    """The console's files, read once on first use (nothing at import or app construction)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[str, _Asset] | None = None

    def files(self) -> dict[str, _Asset]:
        if self._files is None:
            found: dict[str, _Asset] = {}
            for path in sorted(self.root.rglob("*")):
                if not path.is_file() or path.suffix not in _TYPES:
                    continue
                body = path.read_bytes()
                gzipped = gzip.compress(body, 9, mtime=0) if path.suffix in _COMPRESSIBLE else None
                etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
                found[path.relative_to(self.root).as_posix()] = _Asset(
                    body, gzipped, _TYPES[path.suffix], etag
                )
            self._files = found
        return self._files


_assets = _Assets(STATIC)


def _answer(request: Request[Any, Any, Any], asset: _Asset) -> Response[bytes]:
    headers = {
        **_HEADERS,
        "etag": asset.etag,
        "cache-control": "no-cache",
        "vary": "accept-encoding",
    }
    if request.headers.get("if-none-match") == asset.etag:
        return Response(b"", status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
        body = asset.gzipped
        headers["content-encoding"] = "gzip"
    return Response(body, media_type=asset.media_type, headers=headers)


def _not_found() -> Response[bytes]:
    return Response(
        b"Not found", status_code=404, media_type="text/plain; charset=utf-8", headers=_HEADERS
    )


@get(f"{CONSOLE_PATH}/{{path:path}}", include_in_schema=False, sync_to_thread=False)
def _console_file(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[bytes]:
    """A console file (`/console/assets/...`), or `index.html` for any page of the app."""
    files = _assets.files()
    name = path.lstrip("/")
    if name.startswith("assets/"):
        asset = files.get(name.removeprefix("assets/"))
        return _answer(request, asset) if asset is not None else _not_found()
    return _answer(request, files["index.html"])


@get(CONSOLE_PATH, include_in_schema=False, sync_to_thread=False)
def _console_root(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The console's start page (Litestar routes `/console/` here too)."""
    return _answer(request, _assets.files()["index.html"])


@get("/", include_in_schema=False, sync_to_thread=False)
def _site_root() -> Redirect:
    return Redirect(f"{CONSOLE_PATH}/", status_code=307)


def console_handlers() -> list[Any]:
    """The routes serving the console (`/`, `/console`, `/console/...`)."""
    return [_site_root, _console_root, _console_file]
