"""Schema-driven fuzzing of the whole API (schemathesis, bounded): no request gets a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from runtime_agents import build
from runtime_helpers import ThreadServer

from covey.runtime import RuntimeSettings, create_app
from covey.spec.testing import InMemoryStore

PROBLEM = "application/problem+json"


@pytest.fixture
def server() -> Iterator[ThreadServer]:
    app = create_app(
        RuntimeSettings(store="memory://", shutdown_grace=1.0, run_timeout=5.0),
        registry=build(),
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

        check()
    assert len(calls) >= 5 * len(operations)
    assert any(200 <= status < 300 for status in calls)
