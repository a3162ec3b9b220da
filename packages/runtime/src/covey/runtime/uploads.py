"""What an uploaded document may be: a plain file name, and a type its bytes confirm.

`POST /v1/knowledge/{kb}/contents` keeps each upload under the runtime's data folder, named as
the client named it. A name is refused, not cleaned, when it is anything but one plain file
name (a path, `..`, a hidden or device name, control characters), so no upload is ever written
outside its folder. The type comes from the name's extension and must agree with the bytes: a
`.pdf` starts with `%PDF-`, a `.docx` is a ZIP holding `word/document.xml`, text types are
UTF-8 without NUL bytes, HTML opens with markup.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from pathlib import PurePosixPath

from covey.runtime.problems import ApiError

__all__ = ["CONTENT_TYPES", "MAX_NAME_BYTES", "check_filename", "sniff_content_type"]

CONTENT_TYPES = {
    ".txt": "text/plain",
    ".text": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".csv": "text/csv",
    ".json": "application/json",
    ".html": "text/html",
    ".htm": "text/html",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
"""The document types uploads may have, by extension."""

MAX_NAME_BYTES = 200
"""The longest file name (UTF-8 bytes) an upload may have."""

_TEXT = frozenset({"text/plain", "text/markdown", "text/csv", "application/json"})
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
)


def check_filename(name: str | None) -> str:
    """`name` when it is one plain file name with a supported extension.

    Raises:
        ApiError: 400 `invalid-filename` for a missing, too long, hidden or path-like name, or
            one with control characters; 415 `unsupported-media-type` for an extension not in
            `CONTENT_TYPES`.
    """
    if not name or not name.strip():
        raise ApiError(400, "invalid-filename", "Every document needs a file name")
    shown = repr(name[:100])
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise ApiError(
            400, "invalid-filename", f"File name {shown} is longer than {MAX_NAME_BYTES} bytes"
        )
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in name):
        raise ApiError(400, "invalid-filename", f"File name {shown} has control characters")
    if "/" in name or "\\" in name or ":" in name:
        raise ApiError(
            400,
            "invalid-filename",
            f"File name {shown} is a path; send the document's own name only (e.g. notes.md)",
        )
    stem = name.split(".", 1)[0].strip().lower()
    if name.startswith(".") or name != name.strip() or name.endswith(".") or stem in _RESERVED:
        raise ApiError(400, "invalid-filename", f"File name {shown} is not a plain file name")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in CONTENT_TYPES:
        raise ApiError(
            415,
            "unsupported-media-type",
            f"File {shown}: {suffix or 'no extension'} is not a supported document type; "
            f"supported: {', '.join(sorted(CONTENT_TYPES))}",
        )
    return name


def sniff_content_type(name: str, data: bytes) -> str:
    """The content type of document `name` (checked by `check_filename`), confirmed by `data`.

    Raises:
        ApiError: 415 `unsupported-media-type` when the bytes are not what the extension says.
    """
    content_type = CONTENT_TYPES[PurePosixPath(name).suffix.lower()]
    if not _looks_like(content_type, data):
        raise ApiError(
            415,
            "unsupported-media-type",
            f"File {name[:100]!r} is not {content_type}: its bytes do not match its extension",
        )
    return content_type


def _looks_like(content_type: str, data: bytes) -> bool:
    if content_type == "application/pdf":
        return data.startswith(b"%PDF-")
    if content_type.endswith("wordprocessingml.document"):
        return _is_docx(data)
    if b"\x00" in data:
        return False
    if content_type == "text/html":
        head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        return head.startswith(b"<")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    if content_type == "application/json":
        return text.lstrip()[:1] in ("{", "[")
    return content_type in _TEXT


def _is_docx(data: bytes) -> bool:
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())  # the central directory only: nothing is inflated
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return "word/document.xml" in names and "[Content_Types].xml" in names
