"""Store records, `Scope`, id checks, and the `Run` ⇄ `RunResult` round trip."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from covey.spec.errors import InvalidInputError
from covey.spec.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart
from covey.spec.runs import ErrorInfo, Requirement, RunResult, RunStatus, ToolCallRecord
from covey.spec.store import (
    MAX_ID_LENGTH,
    MAX_PAGE_SIZE,
    Page,
    Run,
    Schedule,
    Scope,
    Session,
    TraceSpan,
    check_id,
    check_limit,
)
from covey.spec.usage import Usage

T0 = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


# --- Scope ---------------------------------------------------------------------------------------


def test_scope_defaults_to_the_default_tenant_wide() -> None:
    scope = Scope()
    assert (scope.tenant_id, scope.user_id) == ("default", None)
    assert scope.is_tenant_wide
    assert not Scope("acme", "alice").is_tenant_wide


def test_scope_is_frozen_and_hashable() -> None:
    scope = Scope("acme", "alice")
    with pytest.raises(dataclasses.FrozenInstanceError):
        scope.user_id = "bob"  # pyright: ignore[reportAttributeAccessIssue]
    assert {Scope("acme", "alice"): 1}[scope] == 1
    assert Scope("acme") != Scope("acme", "alice")


def test_scope_narrows_and_widens_within_its_tenant() -> None:
    wide = Scope("acme")
    assert wide.for_user("alice") == Scope("acme", "alice")
    assert Scope("acme", "alice").for_user(None) == wide


@pytest.mark.parametrize(
    ("tenant", "user"),
    [("", None), ("x" * (MAX_ID_LENGTH + 1), None), ("bad\nid", None), ("ok", ""), ("ok", "a\x00")],
)
def test_scope_refuses_bad_ids(tenant: str, user: str | None) -> None:
    with pytest.raises(InvalidInputError):
        Scope(tenant, user)


# --- id and limit checks -------------------------------------------------------------------------


def test_check_id() -> None:
    assert check_id("x" * MAX_ID_LENGTH) == "x" * MAX_ID_LENGTH
    assert check_id("ünïcødé id with spaces/and:colons") == "ünïcødé id with spaces/and:colons"
    for bad in ("", "x" * (MAX_ID_LENGTH + 1), "a\tb", "a\rb", "\x1b[31m", "a\x7fb", "a\x85b"):
        with pytest.raises(InvalidInputError):
            check_id(bad)
    with pytest.raises(InvalidInputError, match="session_id must be a string"):
        check_id(42, "session_id")


def test_check_limit() -> None:
    assert check_limit(1) == 1
    assert check_limit(MAX_PAGE_SIZE) == MAX_PAGE_SIZE
    for bad in (0, -1, MAX_PAGE_SIZE + 1, True):
        with pytest.raises(InvalidInputError):
            check_limit(bad)


# --- records -------------------------------------------------------------------------------------


def test_timestamps_are_normalised_to_utc() -> None:
    naive = datetime(2025, 1, 1, 12, 0)
    session = Session(created_at=naive)
    assert session.created_at == datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    paris = timezone(timedelta(hours=2))
    span = TraceSpan(
        trace_id="t", span_id="s", name="n", start=datetime(2025, 1, 1, 14, tzinfo=paris)
    )
    assert span.start.utcoffset() == timedelta(0)
    assert span.start.hour == 12


def test_new_records_get_distinct_ids_and_version_zero() -> None:
    a, b = Session(), Session()
    assert a.id != b.id
    assert a.version == 0
    assert Run().status == RunStatus.RUNNING


def test_records_refuse_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        Session.model_validate({"id": "s", "sumary": "typo"})


@pytest.mark.parametrize(
    ("trigger", "spec", "ok"),
    [
        ("cron", "0 9 * * 1-5", True),
        ("cron", "0 0 9 * * 1-5", True),
        ("cron", "every day", False),
        ("interval", "300", True),
        ("interval", "0.5", True),
        ("interval", "0", False),
        ("interval", "-5", False),
        ("interval", "five", False),
    ],
)
def test_schedule_spec_is_checked(trigger: Any, spec: str, ok: bool) -> None:
    def build() -> Schedule:
        return Schedule(name="n", target_id="agent", trigger=trigger, spec=spec)

    if ok:
        assert build().spec == spec
    else:
        with pytest.raises(ValidationError):
            build()


def test_page_is_generic() -> None:
    page = Page[Session](items=[Session(id="s")], next_cursor="abc")
    assert page.items[0].id == "s"
    loaded = Page[Session].model_validate_json(page.model_dump_json())
    assert loaded == page
    with pytest.raises(ValidationError):
        Page[Session].model_validate({"items": [{"id": "s", "bogus": 1}]})


# --- Run <-> RunResult ---------------------------------------------------------------------------


def _result() -> RunResult[Any]:
    return RunResult[Any](
        run_id="r1",
        session_id="s1",
        agent_id="agent",
        parent_run_id="parent",
        user_id="alice",
        status=RunStatus.PAUSED,
        output={"answer": 42},
        usage=Usage(input_tokens=10, output_tokens=3, requests=2, tool_calls=1),
        messages=[
            ModelRequest.user("pay 5 EUR"),
            ModelResponse(
                parts=[
                    TextPart(content="Paying."),
                    ToolCallPart(tool_name="pay", args={"eur": 5}, tool_call_id="c1"),
                ]
            ),
        ],
        tool_calls=[ToolCallRecord(tool_call_id="c0", tool_name="quote", result=5)],
        requirements=[Requirement(tool_call_id="c1", tool_name="pay", kind="approval")],
        error=ErrorInfo(type="X", message="y"),
        started_at=T0,
        finished_at=T0 + timedelta(seconds=2),
    )


def test_run_from_result_copies_every_field() -> None:
    result = _result()
    run = Run.from_result(result, input="pay 5 EUR", metadata={"ip": "127.0.0.1"})
    assert run.id == "r1"
    assert (run.session_id, run.agent_id, run.parent_run_id, run.user_id) == (
        "s1",
        "agent",
        "parent",
        "alice",
    )
    assert run.status == RunStatus.PAUSED
    assert (run.input, run.output) == ("pay 5 EUR", {"answer": 42})
    assert run.messages == result.messages
    assert run.created_at == T0
    assert run.metadata == {"ip": "127.0.0.1"}
    assert run.cancel_requested is False


def test_run_to_result_round_trip() -> None:
    result = _result()
    back = Run.from_result(result).to_result()
    assert back.model_dump() == result.model_dump()


def test_run_round_trip_through_json() -> None:
    result = _result()
    run = Run.from_result(result, input={"q": "pay"})
    loaded = Run.model_validate_json(run.model_dump_json())
    assert loaded == run
    assert loaded.to_result().model_dump() == result.model_dump()


def test_run_from_result_does_not_share_objects() -> None:
    result = _result()
    run = Run.from_result(result)
    run.messages.clear()
    run.usage.requests = 99
    assert len(result.messages) == 2
    assert result.usage.requests == 2


def test_structured_output_is_stored_as_json_data() -> None:
    class Answer(BaseModel):
        value: int

    run = Run.from_result(
        RunResult[Answer](run_id="r", status=RunStatus.COMPLETED, output=Answer(value=1))
    )
    assert Run.model_validate_json(run.model_dump_json()).output == {"value": 1}


def test_run_without_start_time_is_created_now() -> None:
    before = datetime.now(UTC)
    run = Run.from_result(RunResult[Any](run_id="r", status=RunStatus.RUNNING))
    assert run.created_at >= before
    assert run.started_at is None
