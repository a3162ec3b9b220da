"""Runs become spans: names, GenAI attributes, parent/child by run ids, content only when asked,
secrets never; an in-memory exporter sees exactly what a collector would."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from otel_helpers import PASSWORD, SECRET, vault_agent

from covey.core import Agent, RunStatus, StepInput, Team, Workflow
from covey.core.observe import observers
from covey.core.testing import TestModel
from covey.otel import Tracing, TracingConfig, trace_id_for_run


def _by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {s.name: s for s in spans}


def _dump(spans: tuple[ReadableSpan, ...]) -> str:
    """Everything a collector would receive, as text (to grep for secrets)."""
    return json.dumps([json.loads(s.to_json()) for s in spans])


async def _traced(
    config: TracingConfig, runnable: Any, prompt: Any
) -> tuple[Any, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    async with Tracing(config, processors=[SimpleSpanProcessor(exporter)]):
        result = await runnable.run(prompt)
    return result, exporter


async def test_agent_run_model_request_and_tool_call_spans() -> None:
    result, exporter = await _traced(TracingConfig(), vault_agent(), "open the vault")
    assert result.status is RunStatus.COMPLETED
    spans = exporter.get_finished_spans()
    named = _by_name(spans)
    assert set(named) == {"invoke_agent vault", "chat function", "execute_tool login"}
    assert len(spans) == 4  # two model requests
    run = named["invoke_agent vault"]
    # The trace is named after the run: GET /v1/traces/{run_id} finds it.
    assert run.context.trace_id == trace_id_for_run(result.run_id) == int(result.run_id, 16)
    assert run.parent is None
    assert run.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert run.attributes["gen_ai.agent.name"] == "vault"
    assert run.attributes["covey.run.status"] == "completed"
    assert run.attributes["gen_ai.usage.input_tokens"] == result.usage.input_tokens > 0
    assert run.status.status_code.name == "OK"
    chats = [s for s in spans if s.name == "chat function"]
    for chat in chats:
        assert chat.parent is not None and chat.parent.span_id == run.context.span_id
        assert chat.attributes["gen_ai.operation.name"] == "chat"
        assert chat.attributes["gen_ai.system"] == "function"
        assert chat.attributes["gen_ai.request.model"] == "function"
        assert chat.attributes["gen_ai.usage.output_tokens"] > 0
    assert [c.attributes["gen_ai.response.finish_reasons"] for c in chats] == [
        ("tool_calls",),
        ("stop",),
    ]
    tool = named["execute_tool login"]
    assert tool.parent is not None and tool.parent.span_id == run.context.span_id
    assert tool.attributes["gen_ai.tool.name"] == "login"
    assert tool.attributes["gen_ai.tool.call.id"] == "call-1"
    # Content is off by default: no prompt, completion, arguments or result recorded.
    text = _dump(spans)
    assert "open the vault" not in text
    assert "gen_ai.tool.call.arguments" not in text
    assert SECRET not in text and PASSWORD not in text


async def test_content_is_recorded_when_enabled_and_secrets_are_redacted() -> None:
    config = TracingConfig(capture_content=True, redact_keys=("user",))
    result, exporter = await _traced(config, vault_agent(), "open the vault please")
    spans = exporter.get_finished_spans()
    named = _by_name(spans)
    assert (
        "open the vault please" in named["invoke_agent vault"].attributes["gen_ai.input.messages"]
    )
    args = json.loads(named["execute_tool login"].attributes["gen_ai.tool.call.arguments"])
    assert args == {"user": "[REDACTED]", "password": "[REDACTED]", "api_key": "[REDACTED]"}
    assert "[REDACTED]" in named["execute_tool login"].attributes["gen_ai.tool.call.result"]
    assert (
        "done; the key was [REDACTED]"
        in named["invoke_agent vault"].attributes["gen_ai.output.messages"]
    )
    text = _dump(spans)
    assert SECRET not in text and PASSWORD not in text
    assert result.output == f"done; the key was {SECRET}"  # the run itself is untouched


async def test_a_configured_secret_value_is_removed_everywhere() -> None:
    plain = "tea-with-milk-please"  # no key shape, no telling name: only the config knows it
    config = TracingConfig(capture_content=True, redact_values=(plain,))  # type: ignore[arg-type]
    _, exporter = await _traced(config, Agent(name="echo", model=TestModel()), f"say {plain}")
    assert plain not in _dump(exporter.get_finished_spans())


async def test_team_member_runs_are_children_of_the_team_run() -> None:
    writer = Agent(name="writer", model=TestModel(custom_output_text="a haiku"))
    leader = TestModel(call_tools="all", custom_output_text="here it is")
    team = Team(name="desk", members=[writer], model=leader)
    result, exporter = await _traced(TracingConfig(), team, "write")
    assert result.status is RunStatus.COMPLETED
    spans = exporter.get_finished_spans()
    runs = {
        s.attributes["gen_ai.agent.name"]: s for s in spans if s.name.startswith("invoke_agent")
    }
    assert set(runs) == {"desk", "writer"}
    assert {s.context.trace_id for s in spans} == {int(result.run_id, 16)}
    member = runs["writer"]
    assert member.attributes["covey.run.parent_id"] == result.run_id
    assert member.parent is not None
    assert member.parent.span_id == runs["desk"].context.span_id


async def test_workflow_steps_are_spans_and_step_runs_hang_under_them() -> None:
    def outline(step: StepInput[str]) -> str:
        return f"points about {step.previous}"

    writer = Agent(name="writer", model=TestModel(custom_output_text="an article"))
    flow = Workflow(name="article", steps=[outline, writer])
    result, exporter = await _traced(TracingConfig(), flow, "tea")
    assert result.status is RunStatus.COMPLETED
    spans = exporter.get_finished_spans()
    steps = [s for s in spans if s.name.startswith("step ")]
    assert len(steps) == 2
    assert all(s.attributes["covey.step.status"] == "completed" for s in steps)
    assert {s.context.trace_id for s in spans} == {int(result.run_id, 16)}
    writer_run = next(
        s
        for s in spans
        if s.name.startswith("invoke_agent") and s.attributes.get("gen_ai.agent.name") == "writer"
    )
    parent = next(s for s in spans if s.context.span_id == writer_run.parent.span_id)  # type: ignore[union-attr]
    assert parent.name == "step writer"  # the step that ran it, inside the workflow's run
    assert parent.parent is not None
    assert _by_name(spans)["invoke_agent article"].context.span_id == parent.parent.span_id


async def test_a_failed_model_request_and_run_are_error_spans() -> None:
    def broken(messages: Any, info: Any) -> Any:
        raise RuntimeError(f"upstream said: Bearer {SECRET}")

    from covey.core.testing import FunctionModel

    agent = Agent(name="broken", model=FunctionModel(broken))
    result, exporter = await _traced(TracingConfig(), agent, "hi")
    assert result.status is RunStatus.FAILED
    spans = exporter.get_finished_spans()
    run = _by_name(spans)["invoke_agent broken"]
    assert run.status.status_code.name == "ERROR"
    assert run.attributes["covey.run.status"] == "failed"
    assert "error.type" in run.attributes
    assert SECRET not in _dump(spans)


async def test_tracing_leaves_no_observer_behind_and_exports_nothing_unconfigured() -> None:
    before = observers()
    tracing = Tracing(TracingConfig())
    assert tracing.exporting is False
    async with tracing:
        assert tracing.spans in observers()
        await Agent(name="a", model=TestModel()).run("hi")
    assert observers() == before
    assert tracing.spans.open_spans() == 0


def test_bad_endpoints_are_refused() -> None:
    from pydantic import ValidationError

    for bad in ("ftp://collector", "collector:4318", "http://user:pw@collector:4318"):
        with pytest.raises(ValidationError):
            TracingConfig(otlp_endpoint=bad)
    assert TracingConfig(otlp_endpoint="http://c:4318").otlp_endpoint == "http://c:4318/v1/traces"
    secret = TracingConfig(otlp_headers={"x-api-key": SECRET})  # type: ignore[dict-item]
    assert SECRET not in repr(secret) and SECRET not in str(secret.model_dump())


def test_open_spans_stay_bounded_when_runs_never_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    from covey.otel import spans as spans_module
    from covey.spec import events as ev
    from covey.spec.store import Scope

    monkeypatch.setattr(spans_module, "MAX_OPEN", 5)
    exporter = InMemorySpanExporter()
    tracing = Tracing(TracingConfig(), processors=[SimpleSpanProcessor(exporter)])
    for i in range(12):
        tracing.spans(ev.RunStarted(run_id=f"{i:032x}", agent_name="lost"), Scope())
    assert tracing.spans.open_spans() == 5
    # The evicted ones were ended (exported), not leaked.
    assert len(exporter.get_finished_spans()) == 7
    tracing.shutdown()


def test_events_of_runs_tracing_never_saw_start_are_ignored() -> None:
    from covey.spec import events as ev
    from covey.spec.store import Scope

    exporter = InMemorySpanExporter()
    tracing = Tracing(TracingConfig(), processors=[SimpleSpanProcessor(exporter)])
    tracing.spans(ev.ToolCallCompleted(run_id="r", tool_call_id="x", tool_name="t"), Scope())
    tracing.spans(
        ev.StepCompleted(run_id="r", step_name="s", step_path="s", step_type="function"), Scope()
    )
    assert exporter.get_finished_spans() == ()
    assert tracing.spans.open_spans() == 0
    tracing.shutdown()


async def test_a_paused_run_and_its_resumption_are_two_spans_of_one_trace() -> None:
    from covey.core.testing import FunctionModel
    from covey.spec import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from covey.spec.function_toolset import tool

    @tool(requires_approval=True)
    def delete_file(path: str) -> str:
        """Delete a file."""
        return f"deleted {path}"

    def script(messages: Any, info: Any) -> ModelResponse:
        if any(isinstance(p, ToolReturnPart) for p in messages[-1].parts):
            return ModelResponse(parts=[TextPart(content="done")])
        call = ToolCallPart(tool_name="delete_file", args={"path": "/tmp/x"}, tool_call_id="d1")
        return ModelResponse(parts=[call])

    agent = Agent(name="janitor", model=FunctionModel(script), tools=[delete_file])
    exporter = InMemorySpanExporter()
    async with Tracing(TracingConfig(), processors=[SimpleSpanProcessor(exporter)]):
        paused = await agent.run("clean up")
        assert paused.status is RunStatus.PAUSED
        first = _by_name(exporter.get_finished_spans())["invoke_agent janitor"]
        assert first.attributes["covey.run.status"] == "paused"
        assert first.status.status_code.name == "UNSET"
        [requirement] = [e for e in first.events if e.name == "covey.requirement.created"]
        assert requirement.attributes["gen_ai.tool.name"] == "delete_file"
        assert requirement.attributes["covey.requirement.kind"] == "approval"
        done = await agent.resume(paused.run_id, approvals={"d1": True})
        assert done.status is RunStatus.COMPLETED
    runs = [s for s in exporter.get_finished_spans() if s.name == "invoke_agent janitor"]
    assert len(runs) == 2
    assert {s.context.trace_id for s in runs} == {int(paused.run_id, 16)}
    assert runs[1].attributes["covey.run.resumed"] is True
    assert runs[1].attributes["covey.run.status"] == "completed"
