"""Usage arithmetic, settings merging and strictness, and secrets in errors."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from covey.spec import ModelSettings, RunResult, RunStatus, Usage
from covey.spec.errors import (
    DuplicatePluginError,
    GuardrailTripped,
    ModelHTTPError,
    PluginNotFoundError,
    RateLimitedError,
)
from covey.spec.runs import ErrorInfo


def test_usage_adds_every_counter_and_details() -> None:
    a = Usage(input_tokens=10, output_tokens=2, cache_read_tokens=4, requests=1, details={"x": 1})
    b = Usage(
        input_tokens=5, reasoning_tokens=3, tool_calls=2, requests=1, details={"x": 2, "y": 1}
    )
    total = a + b
    assert (total.input_tokens, total.output_tokens, total.cache_read_tokens) == (15, 2, 4)
    assert (total.reasoning_tokens, total.tool_calls, total.requests) == (3, 2, 2)
    assert total.details == {"x": 3, "y": 1}
    assert total.total_tokens == 17
    assert a.input_tokens == 10, "addition must not change its operands"
    a.incr(b)
    assert a == total
    assert not Usage().has_values()


def test_settings_merge_and_refuse_typos() -> None:
    base = ModelSettings(temperature=0.2, max_tokens=100)
    merged = base.merge(ModelSettings(max_tokens=50, seed=1))
    assert (merged.temperature, merged.max_tokens, merged.seed) == (0.2, 50, 1)
    assert base.merge(None) is base
    with pytest.raises(ValidationError, match="temprature"):
        ModelSettings(temprature=0.1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        ModelSettings(max_tokens=0)


def test_error_messages_say_what_to_do() -> None:
    missing = PluginNotFoundError("models", "acme", ["openai"])
    assert "pip install covey-models-acme" in str(missing)
    assert "openai" in str(missing)
    duplicate = DuplicatePluginError("covey.models", "x", "dist-a", "dist-b")
    assert "dist-a" in str(duplicate) and "dist-b" in str(duplicate)
    limited = RateLimitedError(retry_after=3.5, model_name="m")
    assert limited.retry_after == 3.5 and limited.status_code == 429
    assert isinstance(limited, ModelHTTPError)
    info = ErrorInfo.from_exception(limited)
    assert info.type == "RateLimitedError" and info.details["retry_after"] == 3.5


def test_a_tripped_guardrail_is_described_by_name_stage_and_reason() -> None:
    tripped = GuardrailTripped("email found", guardrail="pii", stage="input")
    assert str(tripped) == "Guardrail 'pii' tripped: email found"
    info = ErrorInfo.from_exception(tripped)
    assert info.type == "GuardrailTripped"
    assert info.details == {"reason": "email found", "guardrail": "pii", "stage": "input"}


def test_run_result_keeps_history_and_exception_out_of_its_json() -> None:
    result = RunResult(run_id="r", status=RunStatus.FAILED)
    result._exception = RuntimeError("secret-ish detail")
    data = result.model_dump(mode="json")
    assert "_exception" not in data and "_history" not in data
    assert RunStatus.FAILED.is_final and not RunStatus.PAUSED.is_final
