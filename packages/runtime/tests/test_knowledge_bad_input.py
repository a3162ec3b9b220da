"""Hostile and malformed requests to `/v1/knowledge`: each gets its typed 4xx problem and
writes nothing (no content row, no file under data_dir)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from knowledge_helpers import Served, StartServer, token

ALICE = token("alice", "acme")
URL = "/v1/knowledge/docs/contents"
PROBLEM = "application/problem+json"
DOCX_LIKE = b"PK\x03\x04" + b"\x00" * 60


def multipart(name: str, body: bytes, **fields: str) -> dict[str, Any]:
    return {"files": [("file", (name, body))], "data": fields}


CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("traversal", multipart("../../etc/passwd.md", b"x"), 400, "invalid-filename"),
    ("absolute", multipart("/etc/cron.d/x.md", b"x"), 400, "invalid-filename"),
    ("backslash", multipart("..\\..\\boot.md", b"x"), 400, "invalid-filename"),
    ("hidden", multipart(".bashrc.md", b"x"), 400, "invalid-filename"),
    ("control", multipart("a\x1bb.md", b"x"), 400, "invalid-filename"),
    ("device", multipart("con.txt", b"x"), 400, "invalid-filename"),
    ("long", multipart("a" * 300 + ".md", b"x"), 400, "invalid-filename"),
    ("exe", multipart("tool.exe", b"MZ\x90\x00"), 415, "unsupported-media-type"),
    ("no extension", multipart("README", b"hello"), 415, "unsupported-media-type"),
    ("fake pdf", multipart("paper.pdf", b"just text"), 415, "unsupported-media-type"),
    ("fake docx", multipart("memo.docx", DOCX_LIKE), 415, "unsupported-media-type"),
    ("binary text", multipart("notes.md", b"ab\x00cd"), 415, "unsupported-media-type"),
    ("latin-1 text", multipart("notes.txt", b"caf\xe9"), 415, "unsupported-media-type"),
    ("json not json", multipart("data.json", b"hello"), 415, "unsupported-media-type"),
    (
        "reserved metadata",
        multipart("a.md", b"x", metadata='{"_tenant": "globex"}'),
        400,
        "validation-error",
    ),
    ("metadata not object", multipart("a.md", b"x", metadata="[1]"), 400, "validation-error"),
    ("metadata not json", multipart("a.md", b"x", metadata="{"), 400, "bad-request"),
    ("shared not bool", multipart("a.md", b"x", shared="yes"), 400, "validation-error"),
    ("shared by a user", multipart("a.md", b"x", shared="true"), 403, "forbidden"),
    ("unknown field", multipart("a.md", b"x", owner="bob"), 400, "validation-error"),
    ("no file", {"files": [("other", ("a.md", b"x"))]}, 400, "validation-error"),
    (
        "url and text",
        {"json": {"url": "https://example.com", "text": "x", "name": "a.md"}},
        400,
        "validation-error",
    ),
    ("text without name", {"json": {"text": "x"}}, 400, "validation-error"),
    ("text traversal", {"json": {"text": "x", "name": "../a.md"}}, 400, "invalid-filename"),
    ("url loopback", {"json": {"url": "http://127.0.0.1:8000/v1/agents"}}, 400, "url-not-allowed"),
    ("url localhost", {"json": {"url": "http://localhost/"}}, 400, "url-not-allowed"),
    (
        "url metadata",
        {"json": {"url": "http://169.254.169.254/latest/meta-data/"}},
        400,
        "url-not-allowed",
    ),
    ("url private", {"json": {"url": "http://10.0.0.7/"}}, 400, "url-not-allowed"),
    ("url mapped", {"json": {"url": "http://[::ffff:127.0.0.1]/"}}, 400, "url-not-allowed"),
    ("url file", {"json": {"url": "file:///etc/passwd"}}, 400, "validation-error"),
    (
        "not json",
        {"content": b"name=a.md", "headers": {"content-type": "text/plain"}},
        415,
        "unsupported-media-type",
    ),
    (
        "form",
        {"content": b"name=a.md", "headers": {"content-type": "application/x-www-form-urlencoded"}},
        415,
        "unsupported-media-type",
    ),
    (
        "bad multipart",
        {
            "content": b"--x\r\ngarbage",
            "headers": {"content-type": "multipart/form-data; boundary=x"},
        },
        400,
        "bad-request",
    ),
    (
        "cross-site upload",
        {**multipart("a.md", b"x"), "headers": {"origin": "https://evil.example"}},
        403,
        "origin-not-allowed",
    ),
    ("too large", multipart("big.txt", b"a" * 70_000), 413, "payload-too-large"),
    (
        "too many files",
        {"files": [("file", (f"f{i}.txt", b"x")) for i in range(4)]},
        413,
        "payload-too-large",
    ),
]


def _nothing_written(served: Served) -> None:
    listing = served.client.get(URL, headers=ALICE)
    assert listing.json()["items"] == [], "a refused request must not add a document"
    assert served.uploads_on_disk() == [], "a refused request must not leave a file"


@pytest.mark.parametrize(("case", "request_", "status", "slug"), CASES, ids=[c[0] for c in CASES])
def test_bad_uploads_get_their_problem_and_write_nothing(
    kb_server: StartServer, case: str, request_: dict[str, Any], status: int, slug: str
) -> None:
    """Fails if a hostile upload is taken, answered with another status or problem, or leaves
    a row or a file behind."""
    served = kb_server(knowledge_max_upload=65_536, knowledge_max_files=3)
    headers = {**ALICE, **request_.pop("headers", {})}
    response = served.client.post(URL, headers=headers, **request_)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"] == f"urn:covey:problem:{slug}", response.json()
    _nothing_written(served)


SEARCH = "/v1/knowledge/docs/search"


@pytest.mark.parametrize(
    ("body", "slug"),
    [
        ({"query": "x", "filter": {"op": "like", "field": "a", "value": 1}}, "invalid-filter"),
        ({"query": "x", "filter": {"op": "eq", "field": "a"}}, "invalid-filter"),
        ({"query": "x", "filter": {"op": "and", "filters": "nope"}}, "invalid-filter"),
        ({"query": "x", "filter": "team = 'docs'"}, "validation-error"),
        ({"query": "   "}, "validation-error"),
        ({"query": "x", "k": 0}, "validation-error"),
        ({"query": "x", "k": 101}, "validation-error"),
        ({"query": "x", "mode": "fuzzy"}, "validation-error"),
        ({"query": "x", "extra": 1}, "validation-error"),
    ],
)
def test_bad_searches_are_400(kb_server: StartServer, body: dict[str, Any], slug: str) -> None:
    """Fails if a bogus filter, query, k or mode is not a 400 naming what is wrong."""
    served = kb_server()
    response = served.client.post(SEARCH, json=body, headers=ALICE)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == f"urn:covey:problem:{slug}"


def test_unknown_knowledge_bases_and_contents_are_404(kb_server: StartServer) -> None:
    """Fails if a knowledge base or content that does not exist answers anything but 404."""
    served = kb_server()
    client: httpx.Client = served.client
    assert (
        client.post("/v1/knowledge/nope/search", json={"query": "x"}, headers=ALICE).status_code
        == 404
    )
    assert client.get("/v1/knowledge/nope/contents", headers=ALICE).status_code == 404
    assert served.upload(ALICE, [("a.md", b"x")], kb="nope").status_code == 404
    for method in ("GET", "DELETE"):
        assert client.request(method, f"{URL}/missing", headers=ALICE).status_code == 404
    assert client.get(f"{URL}/missing/events", headers=ALICE).status_code == 404
    assert served.uploads_on_disk() == []
