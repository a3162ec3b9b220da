"""Every reader on a real file of its type, made here; the reader choice; missing extras."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from covey.knowledge import (
    CsvReader,
    DocxReader,
    HtmlReader,
    JsonReader,
    Knowledge,
    MarkdownReader,
    PdfReader,
    TextReader,
    pick_reader,
)
from covey.spec.errors import ConfigurationError, InvalidInputError
from covey.testing import HashEmbedder, InMemoryVectorStore


def make_pdf(pages: list[str], title: str = "Field guide") -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title(title)
    pdf.set_font("helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


def make_docx() -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "Handbook"
    document.add_heading("Onboarding", level=1)
    document.add_paragraph("Welcome to the team.")
    document.add_heading("Laptops", level=2)
    document.add_paragraph("Pick a laptop on day one.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Desk"
    table.rows[0].cells[1].text = "B12"
    document.add_paragraph("Ask IT for a badge.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


HTML = b"""<!doctype html><html><head><title>Tide tables</title>
<style>body { color: red }</style><script>var secret = "do not index";</script></head>
<body><nav>Home | About</nav><main><h1>Tides</h1><p>High tide is at <b>noon</b>.</p>
<h2>Low tide</h2><p>Low tide is at six.</p></main><footer>Copyright</footer></body></html>"""


def test_pdf_reads_one_document_per_page_with_its_number() -> None:
    data = make_pdf(["Owls hunt at night.", "Hawks hunt by day."])

    docs = PdfReader().read(data)

    assert [d.metadata["page"] for d in docs] == [1, 2]
    assert "Owls hunt at night." in docs[0].text
    assert "Hawks hunt by day." in docs[1].text
    assert docs[0].metadata["title"] == "Field guide"


def test_docx_reads_headings_as_markdown_and_tables() -> None:
    [doc] = DocxReader().read(make_docx())

    assert doc.text.split("\n\n") == [
        "# Onboarding",
        "Welcome to the team.",
        "## Laptops",
        "Pick a laptop on day one.",
        "Desk | B12",
        "Ask IT for a badge.",
    ]
    assert doc.metadata == {"title": "Handbook"}


def test_html_keeps_the_main_text_and_title_and_drops_scripts_and_chrome() -> None:
    [doc] = HtmlReader().read(HTML)

    assert doc.metadata == {"title": "Tide tables"}
    assert doc.text == "# Tides\n\nHigh tide is at noon.\n\n## Low tide\n\nLow tide is at six."
    for dropped in ("secret", "color", "Home", "Copyright"):
        assert dropped not in doc.text


def test_csv_writes_each_row_with_its_header() -> None:
    data = b"name;city;age\nAnn;Oslo;31\nBob;;40\n"

    [doc] = CsvReader().read(data)

    assert doc.text == "name: Ann | city: Oslo | age: 31\nname: Bob | age: 40"
    assert doc.metadata == {"columns": ["name", "city", "age"]}


def test_json_writes_each_value_with_its_path() -> None:
    data = json.dumps({"shop": {"name": "Corner", "open": True, "items": ["tea", "jam"]}}).encode()

    [doc] = JsonReader().read(data)

    assert doc.text.splitlines() == [
        "shop.name: Corner",
        "shop.open: true",
        "shop.items[0]: tea",
        "shop.items[1]: jam",
    ]


def test_json_lines_are_read_too_and_broken_json_is_refused() -> None:
    [doc] = JsonReader().read(b'{"a": 1}\n{"a": 2}\n')
    assert doc.text == "a: 1\na: 2"
    with pytest.raises(InvalidInputError, match="not valid"):
        JsonReader().read(b"{broken")


def test_markdown_keeps_markdown_drops_front_matter_and_finds_the_title() -> None:
    [doc] = MarkdownReader().read(b"---\nlayout: x\n---\n# Guide\r\n\r\nBody.\n")
    assert doc.text == "# Guide\n\nBody.\n"
    assert doc.metadata == {"title": "Guide"}


def test_text_decodes_utf8_and_utf16_and_refuses_other_bytes() -> None:
    assert TextReader().read("café\r\nbar".encode())[0].text == "café\nbar"
    assert TextReader().read("café".encode("utf-16"))[0].text == "café"
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        TextReader().read(b"caf\xe9")


@pytest.mark.parametrize(
    ("data", "name", "content_type", "expected"),
    [
        (b"x", "a.bin", "text/csv; charset=utf-8", CsvReader),  # content type first
        (b"x", "report.PDF", None, PdfReader),  # then the extension
        (b"%PDF-1.7 ...", None, None, PdfReader),  # then the bytes
        (b"<!DOCTYPE html><p>x</p>", None, None, HtmlReader),
        (b'{"a": 1}', None, None, JsonReader),
        (b"just words", "README", None, TextReader),
        (b"# t", "notes.md", "application/octet-stream", MarkdownReader),
    ],
)
def test_pick_reader_by_type_then_extension_then_bytes(
    data: bytes, name: str | None, content_type: str | None, expected: type
) -> None:
    assert isinstance(pick_reader(data, name=name, content_type=content_type), expected)


def test_pick_reader_refuses_what_it_cannot_read() -> None:
    with pytest.raises(InvalidInputError, match=r"Cannot tell how to read 'x\.bin'"):
        pick_reader(b"\x00\x01\x02\x03", name="x.bin")


@pytest.mark.parametrize(
    ("reader", "module", "extra"),
    [(PdfReader(), "pypdf", "pdf"), (DocxReader(), "docx", "docx"), (HtmlReader(), "bs4", "html")],
)
def test_a_missing_extra_names_its_install_line(
    monkeypatch: pytest.MonkeyPatch, reader: object, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ConfigurationError, match=rf'pip install "covey-knowledge\[{extra}\]"'):
        reader.read(b"data")  # type: ignore[attr-defined]


async def test_every_type_is_ingested_and_found(kb: Knowledge, tmp_path: Path) -> None:
    files = {
        "owls.pdf": make_pdf(["Owls hunt voles at night."]),
        "handbook.docx": make_docx(),
        "tides.html": HTML,
        "people.csv": b"name,city\nAnn,Oslo\n",
        "shop.json": b'{"shop": {"name": "Corner"}}',
        "guide.md": b"# Guide\n\nRead the guide.",
        "notes.txt": b"Plain notes about kettles.",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)

    contents = await kb.ingest(tmp_path)

    assert {c.name: c.status for c in contents} == dict.fromkeys(files, "completed")
    for query, name in [
        ("owls hunt voles", "owls.pdf"),
        ("laptop day one", "handbook.docx"),
        ("low tide six", "tides.html"),
        ("Oslo", "people.csv"),
        ("Corner shop", "shop.json"),
        ("read the guide", "guide.md"),
        ("kettles", "notes.txt"),
    ]:
        hits = await kb.search(query, k=1)
        assert hits[0].name == name, query


async def test_an_html_page_served_on_loopback_is_ingested(site) -> None:
    site.add_page("/tides", HTML)
    kb = Knowledge(
        "docs",
        vector_store=InMemoryVectorStore(),
        embedder=HashEmbedder(),
        allow_private_urls=[site.host_port],
    )

    [content] = await kb.ingest(f"{site.origin}/tides", metadata={"kind": "web"})

    assert content.status == "completed"
    assert content.source == f"{site.origin}/tides"
    assert content.name == "tides"
    assert content.content_type == "text/html; charset=utf-8"
    [hit] = await kb.search("low tide", k=1)
    assert hit.source == f"{site.origin}/tides"
    assert hit.metadata == {"title": "Tide tables", "kind": "web"}
