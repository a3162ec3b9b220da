"""Bad input over HTTP and WebSocket: a typed 4xx naming the problem, nothing run or stored.

Each case here used to answer 500, cut the stream, close the socket with 4500, or run anyway.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

from covey.testing import InMemoryStore

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}
DEPTH = 64
"""The documented nesting limit (`covey.runtime.json_body.MAX_JSON_DEPTH`)."""


def nested(depth: int) -> str:
    """`{"input": "x", "state": {"a": [[...]]}}` with arrays and objects `depth` levels deep."""
    return '{"input": "x", "state": {"a": ' + "[" * (depth - 2) + "]" * (depth - 2) + "}}"


def refused(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == f"urn:covey:problem:{slug}", body
    assert body["status"] == status
    assert body["detail"]
    return body


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def client(serve, store: InMemoryStore) -> httpx.Client:
    return serve(store=store)[1]


def nothing_stored(client: httpx.Client) -> None:
    assert client.get("/v1/sessions").json()["items"] == []


def paused_run(client: httpx.Client) -> str:
    run = client.post("/v1/agents/approver/runs", json={"input": "/tmp/p"}).json()
    assert run["status"] == "paused"
    return run["run_id"]


def test_invalid_utf8_is_a_400(client: httpx.Client) -> None:
    bad = b'{"input": "caf\xe9"}'
    body = refused(
        client.post("/v1/agents/echo/runs", content=bad, headers=JSON), 400, "invalid-encoding"
    )
    assert "UTF-8" in body["detail"]
    nothing_stored(client)
    run_id = paused_run(client)
    refused(
        client.post(
            f"/v1/runs/{run_id}/resume", content=b'{"approvals": {"d1\xff": true}}', headers=JSON
        ),
        400,
        "invalid-encoding",
    )
    assert client.get(f"/v1/runs/{run_id}").json()["status"] == "paused"


@pytest.mark.parametrize("depth", [DEPTH + 1, 600, 1000])
def test_json_nested_past_the_limit_is_refused_before_anything_runs(
    client: httpx.Client, depth: int
) -> None:
    body = refused(
        client.post("/v1/agents/echo/runs", content=nested(depth).encode(), headers=JSON),
        400,
        "too-deep",
    )
    assert str(DEPTH) in body["detail"]
    nothing_stored(client)
    run_id = paused_run(client)
    deep_resume = '{"approvals": {"d1": true}, "results": {"x": ' + "[" * 200 + "]" * 200 + "}}"
    refused(
        client.post(f"/v1/runs/{run_id}/resume", content=deep_resume.encode(), headers=JSON),
        400,
        "too-deep",
    )
    assert client.get(f"/v1/runs/{run_id}").json()["status"] == "paused"


def test_json_at_the_limit_runs(client: httpx.Client) -> None:
    run = client.post("/v1/agents/echo/runs", content=nested(DEPTH).encode(), headers=JSON)
    assert run.status_code == 200, run.text
    assert run.json()["status"] == "completed"
    # Brackets inside strings are text, not nesting.
    text = json.dumps({"input": "[" * 5000 + "{" * 5000})
    assert client.post("/v1/agents/echo/runs", content=text, headers=JSON).status_code == 200


@pytest.mark.parametrize(
    "value",
    [
        "9223372036854775808",
        "4611686018427387905",
        "-1",
        "abc",
        "1_0",
        "+5",
        "١".encode(),
        "9" * 5000,
    ],
)
def test_bad_last_event_ids_are_400(client: httpx.Client, value: str | bytes) -> None:
    run_id = client.post("/v1/agents/echo/runs", json={"input": "hi"}).json()["run_id"]
    body = refused(
        client.get(f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": value}),
        400,
        "validation-error",
    )
    assert body["errors"][0]["field"] == "Last-Event-ID"


def test_the_largest_last_event_id_is_read(client: httpx.Client) -> None:
    run_id = client.post("/v1/agents/echo/runs", json={"input": "hi"}).json()["run_id"]
    response = client.get(f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": str(2**62)})
    assert response.status_code == 200
    assert "data:" not in response.text


@pytest.mark.parametrize(
    "body",
    [
        {"input": "x", "stream": "yes"},
        {"input": "x", "stream": 1},
        {"input": "x", "background": "true"},
        {"input": "x", "background": 0},
    ],
)
def test_booleans_are_strict_when_starting_a_run(client: httpx.Client, body: Any) -> None:
    problem = refused(client.post("/v1/agents/echo/runs", json=body), 400, "validation-error")
    assert {"stream", "background"} & {e["field"] for e in problem["errors"]}
    nothing_stored(client)


@pytest.mark.parametrize(
    "body",
    [
        {"approvals": {"d1": {"approved": "yes"}}},
        {"approvals": {"d1": {"approved": 1}}},
        {"approvals": {"d1": True}, "stream": "yes"},
        {"approvals": {"d1": True}, "background": 1},
    ],
)
def test_booleans_are_strict_when_resuming(client: httpx.Client, body: Any) -> None:
    run_id = paused_run(client)
    refused(client.post(f"/v1/runs/{run_id}/resume", json=body), 400, "validation-error")
    assert client.get(f"/v1/runs/{run_id}").json()["status"] == "paused"


@pytest.mark.parametrize("value", ["", "   \n\t", []])
def test_an_empty_input_is_refused(client: httpx.Client, value: Any) -> None:
    problem = refused(
        client.post("/v1/agents/echo/runs", json={"input": value}), 400, "validation-error"
    )
    assert [e["field"] for e in problem["errors"]] == ["input"]
    nothing_stored(client)


def socket_url(client: httpx.Client, agent: str = "echo") -> str:
    return str(client.base_url).replace("http://", "ws://").rstrip("/") + f"/v1/agents/{agent}/ws"


@pytest.mark.parametrize(
    ("payload", "slug"),
    [
        (b'{"input": "caf\xe9"}', "invalid-encoding"),
        (nested(1000).encode(), "too-deep"),
        (nested(600).encode(), "too-deep"),
    ],
)
def test_unreadable_socket_messages_get_an_error_frame_and_a_4400_close(
    client: httpx.Client, payload: bytes, slug: str
) -> None:
    with connect(socket_url(client)) as ws:
        if slug == "too-deep":
            ws.send(payload.decode())
        else:
            ws.send(payload)  # a binary frame: text frames cannot carry invalid UTF-8
        error = json.loads(ws.recv(timeout=10))
        assert error["type"] == "error"
        assert error["problem"]["type"] == f"urn:covey:problem:{slug}"
        assert error["problem"]["status"] == 400
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4400
    nothing_stored(client)


def test_socket_messages_are_validated_like_request_bodies(client: httpx.Client) -> None:
    with connect(socket_url(client)) as ws:
        for message in ({"input": ""}, {"input": "x", "session_id": True}):
            ws.send(json.dumps(message))
            error = json.loads(ws.recv(timeout=10))
            assert error["problem"]["type"] == "urn:covey:problem:validation-error"
        run_id = paused_run(client)
        ws.send(json.dumps({"type": "resume", "run_id": run_id, "approvals": {"d1": "yes"}}))
        assert json.loads(ws.recv(timeout=10))["problem"]["status"] == 400
        ws.send(
            json.dumps({"type": "resume", "run_id": run_id, "approvals": {"d1": {"approved": 1}}})
        )
        assert json.loads(ws.recv(timeout=10))["problem"]["status"] == 400
        # A binary frame holding UTF-8 JSON is a message like any other.
        ws.send(json.dumps({"input": "binary"}).encode())
        assert json.loads(ws.recv(timeout=20))["type"] == "run.started"
    assert client.get(f"/v1/runs/{run_id}").json()["status"] == "paused"
