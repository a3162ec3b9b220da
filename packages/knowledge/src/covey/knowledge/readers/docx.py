"""Word documents (.docx), through python-docx (extra `[docx]`)."""

from __future__ import annotations

import io
import re
import zipfile

from covey.knowledge.documents import Document
from covey.knowledge.readers.base import Reader, missing_extra
from covey.spec.errors import InvalidInputError

__all__ = ["DocxReader"]

_HEADING = re.compile(r"^(?:Heading|Überschrift|Titre)\s*(\d)$", re.IGNORECASE)


class DocxReader(Reader):
    """The paragraphs and tables of a .docx file, headings written as Markdown `#` lines.

    So `MarkdownChunker` keeps the heading path of each passage. The core property `title`,
    when set, is metadata `title`.
    """

    content_types = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)
    extensions = (".docx",)

    def read(self, data: bytes, *, name: str | None = None) -> list[Document]:
        """One document with the text."""
        try:
            import docx
            from docx.table import Table
        except ImportError:
            raise missing_extra("docx", "python-docx") from None
        try:
            document = docx.Document(io.BytesIO(data))
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise InvalidInputError(f"The DOCX file cannot be read: {exc}") from None
        lines: list[str] = []
        # Paragraphs and tables in document order.
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                for row in block.rows:
                    cells = [cell.text.strip() for cell in row.cells if cell.text.strip()]
                    if cells:
                        lines.append(" | ".join(cells))
                continue
            text = block.text.strip()
            if not text:
                continue
            style = block.style.name if block.style is not None else ""
            level = _HEADING.match(style or "")
            if style == "Title":
                lines.append(f"# {text}")
            elif level:
                lines.append(f"{'#' * min(int(level.group(1)), 6)} {text}")
            else:
                lines.append(text)
        title = document.core_properties.title
        return [Document("\n\n".join(lines), {"title": title} if title else {})]
