"""The `Reader` interface and the errors readers share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from covey.knowledge.documents import Document
from covey.spec.errors import ConfigurationError, InvalidInputError

__all__ = ["Reader", "decode_text", "missing_extra"]


class Reader(ABC):
    """Turns the bytes of one source into `Document`s.

    Subclasses say which content types and file extensions they read; `pick_reader` uses them.
    `read` is synchronous CPU work: `Knowledge` runs it in a worker thread.
    """

    content_types: ClassVar[tuple[str, ...]] = ()
    """MIME types it reads, e.g. `("text/csv",)`."""
    extensions: ClassVar[tuple[str, ...]] = ()
    """File extensions it reads, lower case with the dot, e.g. `(".csv",)`."""

    @abstractmethod
    def read(self, data: bytes, *, name: str | None = None) -> list[Document]:
        """The documents in `data`.

        Args:
            data: The source's bytes.
            name: The file name or title, when known.

        Raises:
            InvalidInputError: the bytes are not of this reader's type.
            ConfigurationError: the reader's optional dependency is not installed.
        """


def decode_text(data: bytes, what: str = "text") -> str:
    """`data` as text: UTF-8 (a BOM is dropped), else UTF-16 with a BOM.

    Raises:
        InvalidInputError: the bytes are not text in those encodings.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"The {what} is not UTF-8 (invalid byte at position {exc.start}); convert it to UTF-8."
        ) from None


def missing_extra(extra: str, module: str) -> ConfigurationError:
    """The error for a reader whose optional dependency is missing: it names the install line."""
    return ConfigurationError(
        f"Reading this type needs the {module!r} package, which is not installed. "
        f'Install it with: pip install "covey-knowledge[{extra}]"'
    )
