"""Schema-driven fuzzing of the whole API (schemathesis, bounded): no request gets a 500, and
every error is the documented `application/problem+json`. Hostile bodies and headers the
generator does not produce (bad UTF-8, deep nesting, huge event ids, non-JSON content types) are
sent explicitly and checked against the same document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from runtime_agents import build
from runtime_helpers import ThreadServer
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from covey.knowledge import Knowledge
from covey.runtime import Registry, RuntimeSettings, create_app
from covey.testing import HashEmbedder, InMemoryStore, InMemoryVectorStore

PROBLEM = "application/problem+json"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ThreadServer]:
    agents = build()
    docs = Knowledge("docs", vector_store=InMemoryVectorStore(), embedder=HashEmbedder())
    registry = Registry(list(agents), notice=agents.notice, knowledge=[docs])
    app = create_app(
        RuntimeSettings(
            store="memory://", shutdown_grace=1.0, run_timeout=5.0, data_dir=tmp_path / "data"
        ),
        registry=registry,
        store=InMemoryStore(),
    )
    server = ThreadServer(app).start()
    try:
        yield server
    finally:
        server.stop()


def test_no_request_gets_a_server_error(server: ThreadServer) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 13
    calls: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call(base_url=server.url, timeout=30)
            calls.append(response.status_code)
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, (where, response.text)
            if response.status_code >= 400:
                content_type = response.headers["content-type"]
                if isinstance(content_type, list):
                    content_type = content_type[0]
                assert content_type.startswith(PROBLEM), where
                case.validate_response(
                    response, checks=[content_type_conformance, response_schema_conformance]
                )

        check()
    assert len(calls) >= 5 * len(operations)
    assert any(200 <= status < 300 for status in calls)


RUNS = "/v1/agents/{agent_id}/runs"
RESUME = "/v1/runs/{run_id}/resume"
EVENTS = "/v1/runs/{run_id}/events"
JSON = {"content-type": "application/json"}


def deep(depth: int) -> bytes:
    return ('{"input": "x", "state": {"a": ' + "[" * depth + "]" * depth + "}}").encode()


HOSTILE: list[tuple[str, str, bytes | None, dict[str, str], int]] = [
    ("POST", RUNS, b'{"input": "caf\xe9"}', JSON, 400),
    ("POST", RUNS, deep(1000), JSON, 400),
    ("POST", RUNS, deep(600), JSON, 400),
    ("POST", RUNS, b'{"input": "x", "stream": "yes"}', JSON, 400),
    ("POST", RUNS, b'{"input": ""}', JSON, 400),
    ("POST", RUNS, b'{"input": "x"}', {"content-type": "text/plain"}, 415),
    ("POST", RUNS, b'{"input": "x"}', {**JSON, "origin": "http://evil.example"}, 403),
    ("POST", RUNS, b'{"input": "x"}', {**JSON, "host": "evil.example"}, 400),
    ("POST", RESUME, b'{"approvals": {"d1\xff": true}}', JSON, 400),
    ("POST", RESUME, deep(900), JSON, 400),
    ("POST", RESUME, b'{"approvals": {"d1": {"approved": "yes"}}}', JSON, 400),
    ("GET", EVENTS, None, {"last-event-id": "9223372036854775808"}, 400),
    ("GET", EVENTS, None, {"last-event-id": "-1"}, 400),
    ("GET", EVENTS, None, {"last-event-id": "abc"}, 400),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status"), HOSTILE)
def test_hostile_requests_get_the_documented_problem(
    server: ThreadServer,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/schema/openapi.json")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        run_id = client.post("/v1/agents/approver/runs", json={"input": "/tmp/f"}).json()["run_id"]
        parameters = {"agent_id": "echo"} if "{agent_id}" in path else {"run_id": run_id}
        url = path.format(**parameters)
        response = client.request(method, url, content=body, headers=headers)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        case = schema[path][method].Case(path_parameters=parameters)
        case.validate_response(
            response,
            checks=[status_code_conformance, content_type_conformance, response_schema_conformance],
        )
        assert client.get(f"/v1/runs/{run_id}").json()["status"] == "paused"
        sessions = client.get("/v1/sessions").json()["items"]
        assert len(sessions) == 1, "a refused request must not start a run"
