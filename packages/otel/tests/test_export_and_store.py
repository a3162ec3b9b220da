"""Spans leave the process only to a configured OTLP endpoint (a real receiver on loopback),
with the configured headers; they are kept in a real store, sampled by trace id; and no secret
reaches a span, a stored row, an exported body or a log line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from otel_helpers import PASSWORD, SECRET, vault_agent
from otlp_receiver import OtlpReceiver

from covey.core import Agent, RunStatus
from covey.core.testing import TestModel
from covey.db.memory import MemoryStore
from covey.db.sql import SqlStore
from covey.otel import Tracing, TracingConfig
from covey.spec.store import Scope, Store


async def test_spans_reach_a_real_otlp_receiver_with_the_configured_headers() -> None:
    with OtlpReceiver() as receiver:
        config = TracingConfig(
            otlp_endpoint=receiver.url,
            otlp_headers={"x-api-key": "collector-key-1234"},  # type: ignore[dict-item]
            service_name="billing-agents",
            capture_content=True,
        )
        async with Tracing(config) as tracing:
            result = await vault_agent().run("open the vault")
            await tracing.flush()
        assert result.status is RunStatus.COMPLETED
        spans = receiver.spans()
        names = sorted(s.name for s in spans)
        assert names == [
            "chat function",
            "chat function",
            "execute_tool login",
            "invoke_agent vault",
        ]
        assert {s.trace_id.hex() for s in spans} == {result.run_id}
        assert receiver.service_names() == {"billing-agents"}
        request = receiver.requests[0]
        assert request.path == "/v1/traces"
        assert request.headers["content-type"] == "application/x-protobuf"
        assert request.headers["x-api-key"] == "collector-key-1234"
        bodies = b"".join(r.body for r in receiver.requests)
        assert SECRET.encode() not in bodies and PASSWORD.encode() not in bodies
        assert b"[REDACTED]" in bodies  # content was captured, then cleaned


async def test_nothing_is_sent_without_an_endpoint_even_with_otel_variables_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with OtlpReceiver() as receiver:
        # A variable left over in the environment must not start an export.
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{receiver.url}/v1/traces")
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
        tracing = Tracing(TracingConfig())
        async with tracing:
            await Agent(name="quiet", model=TestModel()).run("hi")
            await tracing.flush()
        assert receiver.requests == []


async def test_export_sampling_keeps_whole_traces_by_trace_id() -> None:
    with OtlpReceiver() as receiver:
        async with Tracing(
            TracingConfig(otlp_endpoint=receiver.url, export_sample_ratio=0.0)
        ) as tracing:
            await Agent(name="a", model=TestModel()).run("hi")
            await tracing.flush()
        assert receiver.spans() == []


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    the_store: Store = (
        MemoryStore()
        if request.param == "memory"
        else SqlStore(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    )
    migrate = getattr(the_store, "migrate", None)
    if migrate is not None:
        await migrate()
    async with the_store:
        yield the_store


async def test_spans_are_stored_in_the_runs_scope_and_read_back_by_run_id(store: Store) -> None:
    scope = Scope("acme", "ada")
    async with Tracing(TracingConfig(capture_content=True), store=store) as tracing:
        result = await vault_agent().run("open the vault", user_id="ada", tenant_id="acme")
        await tracing.flush()
    assert tracing.stored is not None and tracing.stored.dropped == 0
    spans = await store.list_spans(scope, result.run_id)
    assert spans[0].name == "invoke_agent vault"
    assert sorted(s.name for s in spans) == sorted(
        ["invoke_agent vault", "chat function", "chat function", "execute_tool login"]
    )
    root = spans[0]
    assert root.parent_span_id is None and root.status == "ok" and root.end is not None
    assert all(s.user_id == "ada" for s in spans)
    assert {s.parent_span_id for s in spans[1:]} == {root.span_id}
    chat = next(s for s in spans if s.name == "chat function")
    assert chat.attributes["gen_ai.usage.input_tokens"] > 0
    assert chat.attributes["span.kind"] == "client"
    rows = "".join(s.model_dump_json() for s in spans)
    assert SECRET not in rows and PASSWORD not in rows
    # Another tenant, and another user of the tenant, see nothing of it.
    assert await store.list_spans(Scope("other"), result.run_id) == []
    assert await store.list_spans(Scope("acme", "bob"), result.run_id) == []


async def test_store_sampling_zero_keeps_nothing(store: Store) -> None:
    async with Tracing(TracingConfig(store_sample_ratio=0.0), store=store) as tracing:
        result = await Agent(name="a", model=TestModel()).run("hi")
        await tracing.flush()
    assert await store.list_spans(Scope(), result.run_id) == []


async def test_no_secret_in_any_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with OtlpReceiver() as receiver:
        config = TracingConfig(
            otlp_endpoint=receiver.url,
            otlp_headers={"authorization": f"Bearer {SECRET}"},  # type: ignore[dict-item]
            capture_content=True,
        )
        async with Tracing(config, store=MemoryStore()) as tracing:
            await vault_agent().run("open the vault")
            await tracing.flush()
        assert receiver.requests
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert SECRET not in text and PASSWORD not in text
    assert SECRET not in repr(config) and SECRET not in repr(tracing.config)


async def test_an_unreachable_collector_fails_no_run_and_leaks_no_header(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with OtlpReceiver() as receiver:
        dead = receiver.url  # a port that was served and is closed now
    config = TracingConfig(
        otlp_endpoint=dead,
        otlp_headers={"authorization": f"Bearer {SECRET}"},  # type: ignore[dict-item]
        otlp_timeout=0.5,
    )
    async with Tracing(config):
        result = await vault_agent().run("open the vault")
    assert result.status is RunStatus.COMPLETED
    text = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "export" in text.lower()  # the exporter said it could not send
    assert SECRET not in text
