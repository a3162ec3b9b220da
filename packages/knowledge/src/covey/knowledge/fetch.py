"""Fetching URL sources behind an SSRF guard: re-exported from `covey.tools.web.fetch`.

The guard (every hop checked, the connection pinned to the checked address, redirects followed
by hand, bodies capped) has one implementation, in `covey-tools-web`; these names stay
importable from here so code written against `covey.knowledge.fetch` keeps working. So does
HTML → text (`html_to_text`, used by `HtmlReader`). This module is covey-knowledge's one door
to covey-tools-web (the import-linter contract allows this module only).
"""

from __future__ import annotations

from covey.tools.web.extract import html_to_text
from covey.tools.web.fetch import (
    Fetched,
    FetchError,
    UnsafeURLError,
    fetch_url,
    is_public_address,
    url_name,
)

__all__ = [
    "FetchError",
    "Fetched",
    "UnsafeURLError",
    "fetch_url",
    "html_to_text",
    "is_public_address",
    "url_name",
]
