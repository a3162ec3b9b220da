"""Fetching URL sources behind an SSRF guard: re-exported from `covey.tools.web.fetch`.

The guard (every hop checked, the connection pinned to the checked address, redirects followed
by hand, bodies capped) has one implementation, in `covey-tools-web`; these names stay
importable from here so code written against `covey.knowledge.fetch` keeps working.
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

__all__ = ["FetchError", "Fetched", "UnsafeURLError", "fetch_url", "is_public_address", "url_name"]
