"""Readers: bytes of one source in, `Document`s out; `pick_reader` chooses one.

The reader is picked by content type, then by file extension, then by sniffing the bytes.
Readers with heavy dependencies import them on first use and, when missing, raise a
`ConfigurationError` with the `pip install "covey-knowledge[...]"` line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePosixPath

from covey.knowledge.readers.base import Reader, decode_text, missing_extra
from covey.knowledge.readers.docx import DocxReader
from covey.knowledge.readers.html import HtmlReader
from covey.knowledge.readers.pdf import PdfReader
from covey.knowledge.readers.tabular import CsvReader, JsonReader
from covey.knowledge.readers.text import MarkdownReader, TextReader
from covey.spec.errors import InvalidInputError

__all__ = [
    "DEFAULT_READERS",
    "CsvReader",
    "DocxReader",
    "HtmlReader",
    "JsonReader",
    "MarkdownReader",
    "PdfReader",
    "Reader",
    "TextReader",
    "decode_text",
    "missing_extra",
    "pick_reader",
]

DEFAULT_READERS: tuple[Reader, ...] = (
    TextReader(),
    MarkdownReader(),
    CsvReader(),
    JsonReader(),
    HtmlReader(),
    PdfReader(),
    DocxReader(),
)
"""One reader of each kind Covey ships, in the order `pick_reader` tries them."""


def _sniff(data: bytes, readers: Sequence[Reader]) -> Reader | None:
    head = data[:2048].lstrip()
    lowered = head.lower()

    def of(kind: type[Reader]) -> Reader | None:
        return next((r for r in readers if isinstance(r, kind)), None)

    if head.startswith(b"%PDF-"):
        return of(PdfReader)
    if data.startswith(b"PK\x03\x04") and b"word/" in data[:65536]:
        return of(DocxReader)
    if lowered.startswith((b"<!doctype html", b"<html")) or b"<body" in lowered:
        return of(HtmlReader)
    if head[:1] in (b"{", b"["):
        try:
            json.loads(data)
        except (ValueError, UnicodeDecodeError):
            pass
        else:
            return of(JsonReader)
    if b"\x00" in data[:8192] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    try:
        decode_text(data[:8192].rsplit(b"\n", 1)[0] if len(data) > 8192 else data)
    except InvalidInputError:
        return None
    return of(TextReader)


def pick_reader(
    data: bytes,
    *,
    name: str | None = None,
    content_type: str | None = None,
    readers: Sequence[Reader] = DEFAULT_READERS,
) -> Reader:
    """The reader for a source: by content type, then file extension, then the bytes themselves.

    Args:
        data: The source's bytes (only the start is looked at).
        name: A file name or path; its extension is the second clue.
        content_type: A MIME type (parameters such as `; charset=` are ignored).
        readers: The readers to choose from.

    Raises:
        InvalidInputError: no reader reads it; the message names the types that are read.
    """
    if content_type:
        mime = content_type.split(";", 1)[0].strip().lower()
        for reader in readers:
            if mime in reader.content_types:
                return reader
    if name:
        suffix = PurePosixPath(name.replace("\\", "/")).suffix.lower()
        for reader in readers:
            if suffix and suffix in reader.extensions:
                return reader
    reader = _sniff(data, readers)
    if reader is not None:
        return reader
    known = sorted({ext for r in readers for ext in r.extensions})
    raise InvalidInputError(
        f"Cannot tell how to read {name or 'this source'!r}"
        f"{f' (content type {content_type!r})' if content_type else ''}: it is not one of the "
        f"types read ({', '.join(known)}) and does not look like text. Give content_type= or "
        "a reader for it."
    )
