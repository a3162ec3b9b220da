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
_CELLS = ("td", "th")
_RAW_TEXT = {"<script": "</script", "<style": "</style", "<!--": "-->"}
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
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


def _without_raw_text(html: str) -> str:
    """`html` without `<script>` and `<style>` elements and comments, cut out by a linear scan
    before parsing: they are often most of a page's bytes, and building Beautiful Soup's tree is
    the slow part (about 0.4 MB/s on a busy 2-core machine). An unclosed one runs to the end,
    as in a browser. (A regular expression would rescan the rest of the page for each
    unclosed opening: quadratic on a hostile page.)"""
    lower = html.lower()
    kept: list[str] = []
    at = 0
    # The next position of each opening; each is searched forward only, so every search
    # together reads the page once per kind of opening.
    ahead = {opening: lower.find(opening) for opening in _RAW_TEXT}
    while True:
        for opening, found in ahead.items():
            if found != -1 and found < at:
                ahead[opening] = lower.find(opening, at)
        starts = [(found, opening) for opening, found in ahead.items() if found != -1]
        if not starts:
            kept.append(html[at:])
            return "".join(kept)
        start, opening = min(starts)
        kept.append(html[at:start])
        stop = lower.find(_RAW_TEXT[opening], start + len(opening))
        if stop == -1:
            return "".join(kept)
        close = lower.find(">", stop)
        at = len(html) if close == -1 else close + 1


def _is_main_role(tag: Any) -> bool:
    attrs = getattr(tag, "attrs", None)
    return bool(attrs) and str(attrs.get("role", "")).lower() == "main"


def html_to_text(html: str) -> tuple[str, str]:
    """`(title, text)` of an HTML document (see the module documentation).

    The tree is walked once, with an explicit stack: linear in the page's size (editing the
    tree in place — `insert_before` on every block — is quadratic in the number of siblings,
    a minute for a 1 MB page) and safe from recursion limits on deeply nested markup.
    """
    from bs4 import BeautifulSoup
    from bs4.element import NavigableString, Tag

    soup = BeautifulSoup(_without_raw_text(html), "html.parser")
    title_tag = soup.find("title") or soup.find("h1")
    title = _BLANKS.sub(" ", title_tag.get_text(" ", strip=True)) if title_tag else ""
    root: Any = (
        soup.find("main")
        or soup.find("article")
        or soup.find(_is_main_role)
        or soup.find("body")
        or soup
    )
    out: list[str] = []
    blocks: list[str] = []
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            name = node.name
            if name in _CELLS:
                out.append(" | ")
            elif name in _BLOCKS:
                out.append("\n")
            continue
        if isinstance(node, NavigableString):
            if type(node) is NavigableString:  # not a comment, CDATA, doctype...
                out.append(_WHITESPACE.sub(" ", node))
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if node is not root and (name in _DROPPED or name in _CHROME or _hidden(node)):
            continue
        if name == "br":
            out.append("\n")
            continue
        if name == "pre":
            blocks.append(node.get_text().strip("\n"))
            out.append(_PRE_MARK.format(len(blocks) - 1))
            continue
        if name in _HEADINGS:
            level = int(name[1])
            out.append(f"\n\n{'#' * level} {node.get_text(' ', strip=True)}\n\n")
            continue
        if name == "li":
            out.append("\n- ")
        elif name == "tr" or name in _BLOCKS:
            out.append("\n")
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))
    lines = [_BLANKS.sub(" ", line).strip().removesuffix(" |") for line in "".join(out).split("\n")]
    text = "\n".join(lines)
    text = _PRE_FOUND.sub(lambda m: f"\n\n```\n{blocks[int(m.group(1))]}\n```\n\n", text)
    text = _MANY_NEWLINES.sub("\n\n", text).strip()
    return title, text
