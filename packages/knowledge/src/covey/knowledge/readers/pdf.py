"""PDF, one document per page, through pypdf (extra `[pdf]`)."""

from __future__ import annotations

import io

from covey.knowledge.documents import Document
from covey.knowledge.readers.base import Reader, missing_extra
from covey.spec.errors import InvalidInputError

__all__ = ["PdfReader"]


class PdfReader(Reader):
    """The text of each page of a PDF, with metadata `page` (counting from 1).

    Pages without text (scans) are skipped; there is no OCR. The document's title, when set,
    is metadata `title`. Encrypted PDFs are refused.
    """

    content_types = ("application/pdf",)
    extensions = (".pdf",)

    def read(self, data: bytes, *, name: str | None = None) -> list[Document]:
        """One document per page with text."""
        try:
            from pypdf import PdfReader as _PdfReader
            from pypdf.errors import PdfReadError
        except ImportError:
            raise missing_extra("pdf", "pypdf") from None
        try:
            pdf = _PdfReader(io.BytesIO(data))
            if pdf.is_encrypted:
                raise InvalidInputError("The PDF is encrypted; decrypt it before adding it.")
            title = pdf.metadata.title if pdf.metadata is not None else None
            documents: list[Document] = []
            for number, page in enumerate(pdf.pages, start=1):
                text = page.extract_text() or ""
                if text.strip():
                    meta: dict[str, object] = {"page": number}
                    if title:
                        meta["title"] = str(title)
                    documents.append(Document(text.strip(), meta))
        except PdfReadError as exc:
            raise InvalidInputError(f"The PDF cannot be read: {exc}") from None
        return documents
