"""HTML: the page's main text and title, through covey-tools-web's extractor.

One implementation of "HTML → readable text" serves both the knowledge pipeline and the web
tools' `fetch_url` (`covey.tools.web.extract.html_to_text`): Beautiful Soup on Python's own
`html.parser`, walked once (linear in the page's size), scripts, styles, page chrome and hidden
elements dropped, headings as Markdown `#` lines so `MarkdownChunker` can follow them.
"""

from __future__ import annotations

from covey.knowledge.documents import Document
from covey.knowledge.readers.base import Reader, decode_text, missing_extra

__all__ = ["HtmlReader"]


class HtmlReader(Reader):
    """The main text of an HTML page: `<main>`, `<article>` or `role="main"` when present, else
    `<body>`.

    Scripts, styles, page chrome (`nav`, `header`, `footer`, `aside`, `form`) and hidden
    elements are dropped; headings become Markdown `#` lines, list items `- ` lines, `<pre>`
    fenced code. The `<title>` (or the first `<h1>`) is metadata `title`.
    """

    content_types = ("text/html", "application/xhtml+xml")
    extensions = (".html", ".htm", ".xhtml")

    def read(self, data: bytes, *, name: str | None = None) -> list[Document]:
        """One document with the page's text."""
        from covey.knowledge.fetch import html_to_text

        try:
            title, text = html_to_text(decode_text(data, "HTML page"))
        except ImportError:
            raise missing_extra("html", "beautifulsoup4") from None
        return [Document(text, {"title": title} if title else {})]
