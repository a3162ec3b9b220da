"""A fetched body as text a model can read: HTML → title + main text; text and JSON as they are.

HTML goes through Beautiful Soup with Python's own `html.parser` (pure Python, tolerant of
broken markup). What a reader of the page would not see is dropped — scripts, styles,
templates, `hidden` and `aria-hidden` elements, inline `display: none` — both because it is
noise and because hidden text is where a page would put instructions meant for the model
rather than for people. Page chrome (`nav`, `header`, `footer`, `aside`, `form`) is dropped;
`<main>`, `<article>` or `role="main"` is the text when present, else `<body>`. Headings become
Markdown `#` lines, list items `- ` lines, `<pre>` blocks fenced code with their whitespace.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Page", "UnsupportedContentError", "decode_body", "html_to_text", "page_from_body"]

_DROPPED = (
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "head", "object",
    "embed", "button", "select", "input", "textarea", "dialog", "link", "meta",
)  # fmt: skip
_CHROME = ("nav", "header", "footer", "aside", "form")
_BLOCKS = (
    "p", "div", "section", "article", "main", "table", "ul", "ol", "blockquote",
    "dd", "dt", "figcaption", "hr", "address", "details", "summary",
)  # fmt: skip
_HIDDEN_STYLE = re.compile(r"(display\s*:\s*none|visibility\s*:\s*hidden)", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
_BLANKS = re.compile(r"[ \t\r\f\v\u00a0]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_PRE_MARK = "\x00pre{}\x00"
_PRE_FOUND = re.compile("\x00pre(\\d+)\x00")

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/ld+json",
        "application/xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/javascript",
        "application/x-yaml",
        "application/yaml",
        "application/toml",
    }
)


class UnsupportedContentError(ValueError):
    """The body is not text (an image, a PDF, an archive...): it is not turned into text."""


@dataclass(frozen=True, slots=True)
class Page:
    """A body as text.

    Attributes:
        text: The readable text.
        title: The page's `<title>` (or first `<h1>`), for HTML.
        media_type: The media type it was read as (`text/html`, `text/plain`...).
    """

    text: str
    title: str
    media_type: str


def _media_type(content_type: str | None) -> tuple[str, str | None]:
    if not content_type:
        return "", None
    main, *params = content_type.split(";")
    charset = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("\"'") or None
    return main.strip().lower(), charset


def _known_codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_body(data: bytes, charset: str | None, *, html: bool = False) -> str:
    """Bytes → text: a BOM, else the declared charset, else (HTML) a `<meta charset>`, else
    UTF-8; undecodable bytes become U+FFFD rather than failing (a truncated body may end in
    the middle of a character)."""
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le")):
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, errors="replace")
    if data.startswith(codecs.BOM_UTF16_BE):
        return data[2:].decode("utf-16-be", errors="replace")
    codec = _known_codec(charset)
    if codec is None and html:
        found = _META_CHARSET.search(data[:4096])
        codec = _known_codec(found.group(1).decode("ascii")) if found else None
    return data.decode(codec or "utf-8", errors="replace")


def _sniff(data: bytes) -> str:
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "text/html"
    if b"\x00" in data[:4096]:
        return "application/octet-stream"
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < 4090:  # not just a character cut at the end of the sample
            return "application/octet-stream"
    return "text/plain"


def page_from_body(data: bytes, content_type: str | None) -> Page:
    """The text of a fetched body, chosen by its `Content-Type` (sniffed when absent).

    Raises:
        UnsupportedContentError: the body is not HTML, text, JSON, XML or another text format.
    """
    media_type, charset = _media_type(content_type)
    if not media_type or media_type == "application/octet-stream":
        media_type = _sniff(data)
    if media_type in HTML_TYPES:
        title, text = html_to_text(decode_body(data, charset, html=True))
        return Page(text=text, title=title, media_type=media_type)
    if (
        media_type.startswith("text/")
        or media_type in TEXT_TYPES
        or media_type.endswith(("+json", "+xml"))
    ):
        return Page(text=decode_body(data, charset).strip(), title="", media_type=media_type)
    raise UnsupportedContentError(
        f"The page is {media_type}, not text: fetch_url reads HTML, plain text, Markdown, JSON "
        "and XML only."
    )


def _hidden(tag: Any) -> bool:
    attrs = getattr(tag, "attrs", None)
    if not attrs:
        return False
    if "hidden" in attrs or str(attrs.get("aria-hidden", "")).lower() == "true":
        return True
    return bool(_HIDDEN_STYLE.search(str(attrs.get("style", ""))))


def _is_main_role(tag: Any) -> bool:
    attrs = getattr(tag, "attrs", None)
    return bool(attrs) and str(attrs.get("role", "")).lower() == "main"


def html_to_text(html: str) -> tuple[str, str]:
    """`(title, text)` of an HTML document (see the module documentation)."""
    from bs4 import BeautifulSoup
    from bs4.element import NavigableString

    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title") or soup.find("h1")
    title = _BLANKS.sub(" ", title_tag.get_text(" ", strip=True)) if title_tag else ""
    for tag in soup.find_all(_DROPPED):
        tag.decompose()
    for tag in soup.find_all(_hidden):
        if not tag.decomposed:
            tag.decompose()
    root: Any = (
        soup.find("main")
        or soup.find("article")
        or soup.find(_is_main_role)
        or soup.find("body")
        or soup
    )
    for tag in root.find_all(_CHROME):
        if not tag.decomposed:
            tag.decompose()
    blocks: list[str] = []
    for pre in root.find_all("pre"):
        blocks.append(pre.get_text().strip("\n"))
        pre.replace_with(_PRE_MARK.format(len(blocks) - 1))
    # Source line breaks inside running text are spaces, as a browser shows them; the breaks
    # that count come from the block elements below.
    for string in root.find_all(string=True):
        if type(string) is NavigableString:
            string.replace_with(_WHITESPACE.sub(" ", string))
        else:  # comments, CDATA, doctype, processing instructions: not shown
            string.extract()
    for level in range(1, 7):
        for heading in root.find_all(f"h{level}"):
            heading.replace_with(f"\n\n{'#' * level} {heading.get_text(' ', strip=True)}\n\n")
    for item in root.find_all("li"):
        item.insert_before("\n- ")
    for br in root.find_all("br"):
        br.replace_with("\n")
    for row in root.find_all("tr"):
        row.insert_before("\n")
    for cell in root.find_all(("td", "th")):
        cell.insert_after(" | ")
    for tag in root.find_all(_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = [
        _BLANKS.sub(" ", line).strip().removesuffix(" |") for line in root.get_text().split("\n")
    ]
    text = "\n".join(lines)
    text = _PRE_FOUND.sub(lambda m: f"\n\n```\n{blocks[int(m.group(1))]}\n```\n\n", text)
    text = _MANY_NEWLINES.sub("\n\n", text).strip()
    return title, text
