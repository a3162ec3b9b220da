"""HTML: the page's main text and title, through Beautiful Soup (extra `[html]`).

Beautiful Soup with Python's own `html.parser` is pure Python, tolerant of broken markup and
maintained for two decades; selectolax is faster but a compiled dependency, and page parsing is
not the ingestion bottleneck (embedding is).
"""

from __future__ import annotations

import re
from typing import Any

from covey.knowledge.documents import Document
from covey.knowledge.readers.base import Reader, decode_text, missing_extra

__all__ = ["HtmlReader"]

_DROPPED = ("script", "style", "noscript", "template", "svg", "canvas", "iframe", "head")
_CHROME = ("nav", "header", "footer", "aside", "form")
_BLOCKS = (
    "p", "div", "section", "article", "main", "li", "tr", "br", "table", "ul", "ol",
    "blockquote", "pre", "dd", "dt", "figcaption",
)  # fmt: skip
_BLANKS = re.compile(r"[ \t\r\f\v]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")


class HtmlReader(Reader):
    """The main text of an HTML page: `<main>` or `<article>` when present, else `<body>`.

    Scripts, styles and page chrome (`nav`, `header`, `footer`, `aside`, `form`) are dropped;
    headings become Markdown `#` lines so `MarkdownChunker` can follow them. The `<title>` (or
    the first `<h1>`) is metadata `title`.
    """

    content_types = ("text/html", "application/xhtml+xml")
    extensions = (".html", ".htm", ".xhtml")

    def read(self, data: bytes, *, name: str | None = None) -> list[Document]:
        """One document with the page's text."""
        try:
            from bs4 import BeautifulSoup
        except ImportError:
            raise missing_extra("html", "beautifulsoup4") from None
        soup = BeautifulSoup(decode_text(data, "HTML page"), "html.parser")
        title_tag = soup.find("title") or soup.find("h1")
        title = title_tag.get_text(" ", strip=True) if title_tag is not None else ""
        for tag in soup.find_all(_DROPPED):
            tag.decompose()
        root: Any = soup.find("main") or soup.find("article") or soup.find("body") or soup
        for tag in root.find_all(_CHROME):
            tag.decompose()
        for level in range(1, 7):
            for heading in root.find_all(f"h{level}"):
                heading.replace_with(f"\n\n{'#' * level} {heading.get_text(' ', strip=True)}\n\n")
        for tag in root.find_all(_BLOCKS):
            tag.insert_before("\n")
            tag.insert_after("\n")
        text = root.get_text()
        lines = [_BLANKS.sub(" ", line).strip() for line in text.split("\n")]
        text = _MANY_NEWLINES.sub("\n\n", "\n".join(lines)).strip()
        return [Document(text, {"title": title} if title else {})]
