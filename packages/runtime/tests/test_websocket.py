"""`WS /v1/agents/{agent_id}/ws` over a real socket."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import check_event_log
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect


def receive_run(ws: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        message = json.loads(ws.recv(timeout=20))
        events.append(message)
        if message["type"] in ("run.completed", "run.failed", "run.paused", "run.cancelled"):
            return events


def test_runs_resume_and_errors_over_a_websocket(serve, gates: Path) -> None:
    server, _ = serve()
    url = server.url.replace("http://", "ws://") + "/v1/agents/approver/ws"
    with connect(url) as ws:
        ws.send(json.dumps({"input": "/tmp/w"}))
        paused = receive_run(ws)
        check_event_log(paused)
        assert paused[-1]["type"] == "run.paused"
        run_id = paused[-1]["run_id"]
        ws.send(json.dumps({"type": "resume", "run_id": run_id, "approvals": {"d1": True}}))
        resumed = receive_run(ws)
        assert resumed[0]["type"] == "run.started"
        assert resumed[-1]["result"]["output"] == "result: deleted /tmp/w"

        ws.send("not json")
        error = json.loads(ws.recv(timeout=10))
        assert error["type"] == "error"
        assert error["problem"]["type"] == "urn:covey:problem:validation-error"
        ws.send(json.dumps({"input": 5}))
        error = json.loads(ws.recv(timeout=10))
        assert error["problem"]["errors"][0]["field"].startswith("input")
        ws.send(json.dumps({"type": "resume", "run_id": "missing", "approvals": {}}))
        assert json.loads(ws.recv(timeout=10))["problem"]["status"] == 404
        ws.send(json.dumps({"type": "dance"}))
        assert json.loads(ws.recv(timeout=10))["problem"]["status"] == 400


def test_cancel_over_the_socket(serve, gates: Path) -> None:
    server, _ = serve()
    url = server.url.replace("http://", "ws://") + "/v1/agents/gated/ws"
    with connect(url) as ws:
        ws.send(json.dumps({"input": "never"}))
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "run.started"
        ws.send(json.dumps({"type": "cancel", "run_id": first["run_id"]}))
        rest = receive_run(ws)
        assert rest[-1]["type"] == "run.cancelled"
        check_event_log([first, *rest])


def test_socket_refuses_unknown_agents_and_missing_tokens(serve) -> None:
    server, _ = serve()
    with (
        pytest.raises(InvalidStatus),
        connect(server.url.replace("http", "ws") + "/v1/agents/x/ws"),
    ):
        pass
    secured, _ = serve(auth="jwt", jwt_secret="x" * 40)
    with (
        pytest.raises(InvalidStatus),
        connect(secured.url.replace("http", "ws") + "/v1/agents/echo/ws"),
    ):
        pass
