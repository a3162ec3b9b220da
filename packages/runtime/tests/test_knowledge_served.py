"""`/v1/knowledge` over real HTTP with JWT auth: tenants and users kept apart, documents
uploaded, followed, searched, deleted, and ingestion resumed after a restart."""

from __future__ import annotations

import threading
from pathlib import Path

from knowledge_helpers import (
    RW,
    GatedEmbedder,
    StartServer,
    knowledge_base,
    token,
)
from runtime_helpers import read_sse

from covey.testing import InMemoryVectorStore

OTTERS = b"# Otters\n\nSea otters hold hands while they sleep so they do not drift apart.\n"
BEES = b"Honey bees dance to tell the hive where the flowers are.\n"

ALICE = token("alice", "acme")
BOB = token("bob", "acme")
ADMIN = token("root", "acme", "admin")
EVE = token("eve", "globex")


def test_a_document_uploaded_in_one_tenant_is_never_found_from_another(
    kb_server: StartServer,
) -> None:
    """Fails if a search, listing, read, follow or delete of tenant B reaches tenant A's
    document, whatever the mode or filter (a filter naming A's tenant included)."""
    served = kb_server()
    accepted = served.upload(ALICE, [("otters.md", OTTERS)])
    assert accepted.status_code == 202, accepted.text
    [row] = accepted.json()["items"]
    assert row["name"] == "otters.md"
    assert row["source"] == "upload"
    assert row["shared"] is False
    assert row["user_id"] == "alice"
    done = served.wait(ALICE, row["content_id"])
    assert done["status"] == "completed", done

    hits = served.search(ALICE, "otters sleep holding hands")
    assert hits, "the owner finds her document"
    assert hits[0]["name"] == "otters.md"
    assert hits[0]["source"] == "upload"
    assert hits[0]["content_id"] == row["content_id"]
    assert not [k for k in hits[0]["metadata"] if k.startswith("_")]

    for mode in ("vector", "text", "hybrid"):
        assert served.search(EVE, "otters sleep holding hands", mode=mode) == []
        assert (
            served.search(
                EVE, "otters", mode=mode, filter={"op": "eq", "field": "_tenant", "value": "acme"}
            )
            == []
        )
    client = served.client
    content = f"/v1/knowledge/docs/contents/{row['content_id']}"
    assert client.get("/v1/knowledge/docs/contents", headers=EVE).json()["items"] == []
    assert client.get(content, headers=EVE).status_code == 404
    assert client.get(f"{content}/events", headers=EVE).status_code == 404
    assert client.delete(content, headers=EVE).status_code == 404
    assert served.search(ALICE, "otters sleep holding hands")[0]["name"] == "otters.md"


def test_a_users_document_is_theirs_and_an_admins_shared_one_reaches_the_tenant(
    kb_server: StartServer,
) -> None:
    """Fails if one user of a tenant finds another's document, if a shared document is not
    found by every user of the tenant, or if a non-admin may share or delete a shared one."""
    served = kb_server()
    [own] = served.upload(ALICE, [("otters.md", OTTERS)]).json()["items"]
    shared = served.client.post(
        "/v1/knowledge/docs/contents",
        json={"text": BEES.decode(), "name": "bees.txt", "shared": True},
        headers=ADMIN,
    )
    assert shared.status_code == 202, shared.text
    [bees] = shared.json()["items"]
    assert bees["shared"] is True
    served.wait(ALICE, own["content_id"])
    served.wait(BOB, bees["content_id"])

    assert {h["name"] for h in served.search(BOB, "otters bees flowers sleep", k=10)} == {
        "bees.txt"
    }
    assert {h["name"] for h in served.search(ALICE, "otters bees flowers sleep", k=10)} == {
        "otters.md",
        "bees.txt",
    }
    names = [
        c["name"]
        for c in served.client.get("/v1/knowledge/docs/contents", headers=BOB).json()["items"]
    ]
    assert names == ["bees.txt"]

    refused = served.client.post(
        "/v1/knowledge/docs/contents",
        json={"text": "x", "name": "x.txt", "shared": True},
        headers=BOB,
    )
    assert refused.status_code == 403, refused.text
    gone = served.client.delete(f"/v1/knowledge/docs/contents/{bees['content_id']}", headers=BOB)
    assert gone.status_code == 404
    assert served.search(BOB, "bees flowers")[0]["name"] == "bees.txt"


def test_delete_removes_the_document_its_chunks_and_its_upload(kb_server: StartServer) -> None:
    """Fails if a deleted document is still listed, still found, or its file stays on disk."""
    served = kb_server()
    [row] = served.upload(ALICE, [("otters.md", OTTERS)]).json()["items"]
    served.wait(ALICE, row["content_id"])
    assert len(served.uploads_on_disk()) == 1
    deleted = served.client.delete(
        f"/v1/knowledge/docs/contents/{row['content_id']}", headers=ALICE
    )
    assert deleted.status_code == 204, deleted.text
    assert served.search(ALICE, "otters sleep", mode="text") == []
    assert served.client.get("/v1/knowledge/docs/contents", headers=ALICE).json()["items"] == []
    assert served.uploads_on_disk() == []


def test_uploading_a_file_of_the_same_name_again_replaces_the_document(
    kb_server: StartServer,
) -> None:
    """Fails if a second upload of `otters.md` adds a second document, or keeps the old text."""
    served = kb_server()
    [first] = served.upload(ALICE, [("otters.md", OTTERS)]).json()["items"]
    served.wait(ALICE, first["content_id"])
    [second] = served.upload(ALICE, [("otters.md", BEES)]).json()["items"]
    assert second["content_id"] == first["content_id"]
    served.wait(ALICE, second["content_id"])
    listing = served.client.get("/v1/knowledge/docs/contents", headers=ALICE).json()["items"]
    assert len(listing) == 1
    assert served.search(ALICE, "otters sleep", mode="text") == []
    assert served.search(ALICE, "bees dance", mode="text")[0]["name"] == "otters.md"


def test_ingestion_is_streamed_until_it_completes(
    kb_server: StartServer, vectors: InMemoryVectorStore
) -> None:
    """Fails if the upload waits for ingestion, or the event stream does not show the document
    processing, its progress, then completed, and end."""
    gate = threading.Event()
    embedder = GatedEmbedder(gate)
    served = kb_server(kb=knowledge_base(vectors, embedder=embedder))
    accepted = served.upload(ALICE, [("otters.md", OTTERS)])
    assert accepted.status_code == 202
    [row] = accepted.json()["items"]
    assert row["status"] in ("pending", "processing")
    assert served.client.get(row["events_url"], headers=EVE).status_code == 404
    with served.client.stream("GET", row["events_url"], headers=ALICE) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_sse(response.iter_lines())
        first = next(events)
        assert first.event == "content"
        assert first.data["status"] == "processing"
        progress = next(events)
        assert progress.event == "progress"
        assert progress.data["stage"] == "embedding"
        assert progress.data["chunks_total"] >= 1
        gate.set()
        rest = list(events)
    assert rest[-1].event == "content"
    assert rest[-1].data["status"] == "completed"
    assert rest[-1].data["content_id"] == row["content_id"]
    # A finished document's stream says so at once, and ends.
    with served.client.stream("GET", row["events_url"], headers=ALICE) as response:
        [only] = list(read_sse(response.iter_lines()))
    assert (only.event, only.data["status"]) == ("content", "completed")


def test_a_restart_finishes_what_the_stopped_server_was_ingesting(
    kb_server: StartServer, vectors: InMemoryVectorStore, tmp_path: Path
) -> None:
    """Fails if a document the server was ingesting when it stopped stays `processing` after
    the next start (the upload kept under data_dir is ingested again)."""
    store = f"sqlite:///{tmp_path / 'covey.db'}"
    gate = threading.Event()
    embedder = GatedEmbedder(gate)
    first = kb_server(kb=knowledge_base(vectors, embedder=embedder), store=store)
    [row] = first.upload(ALICE, [("otters.md", OTTERS)]).json()["items"]
    assert embedder.waiting.wait(30)
    first.stop()
    gate.set()  # not that it matters: the first server is gone

    second = kb_server(kb=knowledge_base(vectors), store=store)
    done = second.wait(ALICE, row["content_id"])
    assert done["status"] == "completed", done
    assert second.search(ALICE, "otters sleep")[0]["content_id"] == row["content_id"]


def test_knowledge_scopes_are_required(kb_server: StartServer) -> None:
    """Fails if a token without knowledge:read searches, or without knowledge:write uploads."""
    served = kb_server()
    reader = token("alice", "acme", "knowledge:read")
    runner = token("alice", "acme", "agents:run")
    assert served.upload(reader, [("otters.md", OTTERS)]).status_code == 403
    search = served.client.post("/v1/knowledge/docs/search", json={"query": "x"}, headers=runner)
    assert search.status_code == 403
    listing = served.client.get("/v1/knowledge", headers=reader)
    assert listing.status_code == 200
    assert listing.json()["items"] == [
        {
            "name": "docs",
            "description": "Test documents.",
            "contents_url": "/v1/knowledge/docs/contents",
            "search_url": "/v1/knowledge/docs/search",
        }
    ]
    assert served.client.get("/v1/knowledge").status_code == 401
    assert RW.split() == ["knowledge:read", "knowledge:write"]


def test_several_files_in_one_upload_each_become_a_document(kb_server: StartServer) -> None:
    """Fails if a multipart upload of two files does not answer both rows and ingest both."""
    served = kb_server()
    accepted = served.upload(
        ALICE,
        [("otters.md", OTTERS), ("bees.txt", BEES)],
        data={"metadata": '{"team": "zoo"}'},
    )
    assert accepted.status_code == 202, accepted.text
    rows = accepted.json()["items"]
    assert [r["name"] for r in rows] == ["otters.md", "bees.txt"]
    for row in rows:
        assert row["metadata"] == {"team": "zoo"}
        assert served.wait(ALICE, row["content_id"])["status"] == "completed"
    team = {"op": "eq", "field": "team", "value": "zoo"}
    assert len(served.search(ALICE, "otters bees", k=10, filter=team)) >= 2
    other = {"op": "eq", "field": "team", "value": "farm"}
    assert served.search(ALICE, "otters bees", filter=other) == []


def test_deleting_a_document_while_it_ingests_stops_its_ingestion(
    kb_server: StartServer, vectors: InMemoryVectorStore
) -> None:
    """Fails if a delete waits for the document's ingestion to end (it holds the document's
    lock), or if the ingestion, once let go, brings the document back."""
    gate = threading.Event()
    embedder = GatedEmbedder(gate)
    served = kb_server(kb=knowledge_base(vectors, embedder=embedder))
    [row] = served.upload(ALICE, [("otters.md", OTTERS)]).json()["items"]
    assert embedder.waiting.wait(30)
    url = f"/v1/knowledge/docs/contents/{row['content_id']}"
    assert served.client.delete(url, headers=BOB).status_code == 404
    deleted = served.client.delete(url, headers=ALICE, timeout=10)
    assert deleted.status_code == 204, deleted.text
    gate.set()
    assert served.client.get(url, headers=ALICE).status_code == 404
    assert served.search(ALICE, "otters sleep", mode="text") == []
    assert served.uploads_on_disk() == []
