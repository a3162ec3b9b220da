"""CSV and JSON: structured data written out as lines of text that keep their field names."""

from __future__ import annotations

import csv
import io
import json
from typing import Any, cast

from covey.knowledge.documents import Document
from covey.knowledge.readers.base import Reader, decode_text
from covey.spec.errors import InvalidInputError

__all__ = ["CsvReader", "JsonReader"]


class CsvReader(Reader):
    """CSV with a header row: each row becomes one line `column: value | column: value`.

    Empty cells are left out; the header's columns are metadata `columns`. The delimiter is
    sniffed (comma, semicolon, tab or pipe).
    """

    content_types = ("text/csv", "application/csv", "text/tab-separated-values")
    extensions = (".csv", ".tsv")

    def read(self, data: bytes, *, name: str | None = None) -> list[Document]:
        """One document, one line per row."""
        text = decode_text(data, "CSV file")
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        rows = list(csv.reader(io.StringIO(text), dialect))
        if not rows:
            return [Document("", {"columns": []})]
        header = [h.strip() or f"column {i + 1}" for i, h in enumerate(rows[0])]
        lines: list[str] = []
        for row in rows[1:]:
            cells = [
                f"{header[i] if i < len(header) else f'column {i + 1}'}: {cell.strip()}"
                for i, cell in enumerate(row)
                if cell.strip()
            ]
            if cells:
                lines.append(" | ".join(cells))
        return [Document("\n".join(lines), {"columns": header})]


class JsonReader(Reader):
    """JSON (or JSON Lines): each scalar becomes one line `path.to.key: value`.

    Paths use `.` for keys and `[i]` for list positions, so a passage keeps the names that give
    its values their meaning.
    """

    content_types = ("application/json", "application/x-ndjson", "application/jsonl")
    extensions = (".json", ".jsonl", ".ndjson")

    def read(self, data: bytes, *, name: str | None = None) -> list[Document]:
        """One document with a line per scalar."""
        text = decode_text(data, "JSON file")
        try:
            values: list[Any] = [json.loads(text)]
        except json.JSONDecodeError as exc:
            try:
                values = [json.loads(line) for line in text.splitlines() if line.strip()]
            except json.JSONDecodeError:
                raise InvalidInputError(
                    f"The JSON is not valid: {exc.msg} at line {exc.lineno}, column {exc.colno}."
                ) from None
        lines: list[str] = []
        for value in values:
            _flatten(value, "", lines)
        return [Document("\n".join(lines))]


def _flatten(value: Any, path: str, out: list[str]) -> None:
    if isinstance(value, dict):
        mapping = cast("dict[str, Any]", value)
        for key, item in mapping.items():
            _flatten(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        for i, item in enumerate(cast("list[Any]", value)):
            _flatten(item, f"{path}[{i}]", out)
    elif value is not None and value != "":
        shown = json.dumps(value) if isinstance(value, bool) else str(value)
        out.append(f"{path}: {shown}" if path else shown)
