"""What the server refuses to a web page, without a browser: forged Host and Origin headers and
non-JSON bodies over real HTTP and WebSocket (the browser tests show the same from Chromium).
Also: `/ready` tells nothing but readiness, counts are admin-only at `/metrics`, and no transport
shows the agent's instructions."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from runtime_agents import approval_model, build, delete_file, echo_model
from runtime_helpers import read_sse, sse
from test_auth import SECRET, bearer, token
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from covey.core import Agent
from covey.core.testing import FunctionModel
from covey.runtime import Registry

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}
RUN = json.dumps({"input": "hi"}).encode()
EVIL = "http://evil.example"


def refused(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == f"urn:covey:problem:{slug}"
    return body


def nothing_ran(api: httpx.Client) -> None:
    assert api.get("/v1/sessions").json()["items"] == []


def ws_url(server: Any, agent: str = "echo") -> str:
    return server.url.replace("http://", "ws://") + f"/v1/agents/{agent}/ws"


def test_host_names_are_parsed_and_matched() -> None:
    from covey.runtime.security import HostRule, parse_host

    assert parse_host("[::1]:8000") == "::1"
    assert parse_host("LocalHost.:80") == "localhost"
    assert parse_host("127.0.0.1") == "127.0.0.1"
    assert parse_host("") is None
    assert parse_host("a:b:c") is None
    assert parse_host("[::1]x") is None
    loopback = HostRule.of(["localhost", "127.0.0.0/8", "::1"])
    assert loopback.allows("localhost")
    assert loopback.allows("127.8.9.10")
    assert loopback.allows("::1")
    assert not loopback.allows("evil.example")
    assert not loopback.allows("localhost.evil.example")
    assert not loopback.allows("10.0.0.1")
    wide = HostRule.of(["*.example.com", "[::1]"])
    assert wide.allows("api.example.com")
    assert not wide.allows("example.com.evil")
    assert wide.allows("::1")
    assert HostRule.of(["*"]).allows("anything")


def test_a_foreign_host_is_refused_before_routing(serve) -> None:
    server, api = serve()
    for path in ("/health", "/v1/agents", "/v1/nothing", "/schema/openapi.json"):
        body = refused(api.get(path, headers={"host": "evil.example"}), 400, "host-not-allowed")
        assert "allowed_hosts" in body["detail"]
    rebound = api.post(
        "/v1/agents/echo/runs", content=RUN, headers={**JSON, "host": "evil.example:8000"}
    )
    refused(rebound, 400, "host-not-allowed")
    nothing_ran(api)
    port = server.url.rsplit(":", 1)[1]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"127.0.0.2:{port}", f"[::1]:{port}"):
        assert api.get("/health", headers={"host": host}).status_code == 200, host
    rebound_url = f"ws://evil.example:{port}/v1/agents/echo/ws"
    with pytest.raises(InvalidStatus) as caught:
        connect(rebound_url, sock=socket.create_connection(("127.0.0.1", int(port))))
    assert caught.value.response.status_code == 400
    assert b"host-not-allowed" in caught.value.response.body


def test_allowed_hosts_are_configurable(serve) -> None:
    _, api = serve(allowed_hosts=["api.example.com"])
    assert api.get("/health", headers={"host": "api.example.com:443"}).status_code == 200
    refused(api.get("/health"), 400, "host-not-allowed")  # loopback no longer listed


def test_a_foreign_origin_cannot_start_or_approve_a_run(serve) -> None:
    server, api = serve()
    origin = {"origin": EVIL}
    refused(
        api.post("/v1/agents/echo/runs", content=RUN, headers={**JSON, **origin}),
        403,
        "origin-not-allowed",
    )
    nothing_ran(api)
    paused = api.post("/v1/agents/approver/runs", json={"input": "/tmp/x"}).json()
    assert paused["status"] == "paused"
    approve = json.dumps({"approvals": {"d1": True}}).encode()
    resume = api.post(
        f"/v1/runs/{paused['run_id']}/resume", content=approve, headers={**JSON, **origin}
    )
    refused(resume, 403, "origin-not-allowed")
    refused(
        api.delete(f"/v1/sessions/{paused['session_id']}", headers=origin),
        403,
        "origin-not-allowed",
    )
    assert api.get(f"/v1/runs/{paused['run_id']}").json()["status"] == "paused"
    # Reads are not state-changing: a page cannot read the answer anyway without CORS.
    assert api.get("/v1/agents", headers=origin).status_code == 200
    with pytest.raises(InvalidStatus) as caught:
        connect(ws_url(server), origin=EVIL)  # type: ignore[arg-type]
    assert caught.value.response.status_code == 403
    assert b"origin-not-allowed" in caught.value.response.body
    # The server's own origin, and no origin at all (curl, SDKs), are fine.
    own = {"origin": server.url}
    resumed = api.post(
        f"/v1/runs/{paused['run_id']}/resume", content=approve, headers={**JSON, **own}
    )
    assert resumed.json()["output"] == "result: deleted /tmp/x"
    with connect(ws_url(server), origin=server.url) as ws:  # type: ignore[arg-type]
        ws.send(json.dumps({"input": "same origin"}))
        assert json.loads(ws.recv(timeout=20))["type"] == "run.started"


def test_listed_cors_origins_may_call(serve) -> None:
    trusted = "http://app.example:3000"
    server, api = serve(cors_origins=[trusted])
    run = api.post("/v1/agents/echo/runs", content=RUN, headers={**JSON, "origin": trusted})
    assert run.status_code == 200, run.text
    assert run.headers["access-control-allow-origin"] == trusted
    preflight = api.options(
        "/v1/agents/echo/runs",
        headers={
            "origin": trusted,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert preflight.status_code == 204
    with connect(ws_url(server), origin=trusted) as ws:  # type: ignore[arg-type]
        ws.send(json.dumps({"input": "trusted"}))
        assert json.loads(ws.recv(timeout=20))["type"] == "run.started"
    refused(
        api.post("/v1/agents/echo/runs", content=RUN, headers={**JSON, "origin": EVIL}),
        403,
        "origin-not-allowed",
    )


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", RUN),
        ("text/plain;charset=UTF-8", RUN),
        ("application/x-www-form-urlencoded", b"input=hi"),
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="input"'),
        ("application/jsonx", RUN),
        (None, RUN),
    ],
)
def test_only_json_bodies_are_read(
    api: httpx.Client, content_type: str | None, body: bytes
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = api.post("/v1/agents/echo/runs", content=body, headers=headers)
    refused(response, 415, "unsupported-media-type")
    refused(
        api.post("/v1/runs/x/resume", content=body, headers=headers), 415, "unsupported-media-type"
    )
    nothing_ran(api)


def test_json_media_types_with_parameters_or_suffixes_are_read(api: httpx.Client) -> None:
    for content_type in ("application/json; charset=utf-8", "application/vnd.covey+json"):
        response = api.post(
            "/v1/agents/echo/runs", content=RUN, headers={"content-type": content_type}
        )
        assert response.json()["output"] == "echo: hi", content_type
    # A body-less POST (cancel) needs no content type.
    assert api.post("/v1/runs/missing/cancel").status_code == 404


def test_ready_tells_readiness_only_and_metrics_are_admin_only(serve) -> None:
    _, api = serve()
    assert api.get("/ready").json() == {"status": "ready"}
    metrics = api.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    lines = metrics.text.splitlines()
    assert "covey_runs_in_progress 0.0" in lines
    assert f"covey_agents {len(build())}.0" in lines
    assert "covey_accepting_runs 1.0" in lines
    assert "# TYPE covey_runs_in_progress gauge" in lines
    _, secured = serve(auth="jwt", jwt_secret=SECRET)
    assert secured.get("/ready").json() == {"status": "ready"}
    assert secured.get("/metrics").status_code == 401
    assert secured.get("/metrics", headers=bearer(token())).status_code == 403
    admin = secured.get("/metrics", headers=bearer(token(scope="admin")))
    assert f"covey_agents {len(build())}.0" in admin.text.splitlines()


SECRET_INSTRUCTIONS = "You are the vault. The launch code is 0000."
SECRET_DESCRIPTION = "Internal agent of the treasury team."


def secretive() -> Registry:
    return Registry(
        [
            Agent(
                name="vault",
                model=FunctionModel(echo_model),
                instructions=SECRET_INSTRUCTIONS,
                description=SECRET_DESCRIPTION,
            ),
            Agent(
                name="vault-approver",
                model=FunctionModel(approval_model),
                tools=[delete_file],
                instructions=SECRET_INSTRUCTIONS,
                description=SECRET_DESCRIPTION,
            ),
        ]
    )


def assert_no_system_prompt(payload: Any) -> None:
    text = json.dumps(payload)
    assert "The launch code" not in text
    assert "treasury team" not in text
    assert '"kind": "system"' not in text


def test_no_transport_shows_the_agents_instructions(serve, gates: Path) -> None:
    server, api = serve(registry=secretive())
    answer = api.post("/v1/agents/vault/runs", json={"input": "hello"}).json()
    assert answer["output"] == "echo: hello"
    assert_no_system_prompt(answer)

    streamed = sse(api, "POST", "/v1/agents/vault/runs", json={"input": "hello", "stream": True})
    final = streamed[-1].data
    assert final["type"] == "run.completed"
    # The user's own message is still there; only the system parts are gone.
    assert final["result"]["messages"][0]["parts"][0]["kind"] == "user"
    assert_no_system_prompt([e.data for e in streamed])

    replayed = sse(api, "GET", f"/v1/runs/{final['run_id']}/events")
    assert replayed[-1].event == "run.completed"
    assert_no_system_prompt([e.data for e in replayed])
    with api.stream(
        "GET", f"/v1/runs/{final['run_id']}/events", headers={"Last-Event-ID": "1"}
    ) as response:
        assert_no_system_prompt([e.data for e in read_sse(response.iter_lines())])

    with connect(ws_url(server, "vault-approver")) as ws:
        ws.send(json.dumps({"input": "/tmp/v"}))
        received: list[dict[str, Any]] = []
        while not received or received[-1]["type"] != "run.paused":
            received.append(json.loads(ws.recv(timeout=20)))
        assert_no_system_prompt(received)
        run_id = received[-1]["run_id"]
        ws.send(json.dumps({"type": "resume", "run_id": run_id, "approvals": {"d1": True}}))
        resumed: list[dict[str, Any]] = []
        while not resumed or resumed[-1]["type"] != "run.completed":
            resumed.append(json.loads(ws.recv(timeout=20)))
        assert_no_system_prompt(resumed)
