"""Structured output in every mode, validation retries, validators and fallbacks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pytest
from core_helpers import call, collect, last_request, text
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from covey.core import Agent, RunContext, RunStatus
from covey.core.testing import AgentInfo, FunctionModel, TestModel
from covey.spec import ModelProfile, ModelRequest, ModelResponse, RetryPart
from covey.spec import events as ev
from covey.spec.errors import ConfigurationError, ModelRetry


class Weather(BaseModel):
    """Weather report."""

    city: str
    celsius: float = Field(ge=-100, le=100)
    sky: Literal["clear", "cloudy"]


@dataclass
class Point:
    x: int
    y: int


class Movie(TypedDict):
    title: str
    year: int


@pytest.mark.parametrize(
    ("output_type", "check"),
    [
        (Weather, lambda o: isinstance(o, Weather)),
        (Point, lambda o: isinstance(o, Point)),
        (Movie, lambda o: isinstance(o, dict) and set(o) == {"title", "year"}),
        (int, lambda o: isinstance(o, int)),
        (Weather | Point, lambda o: isinstance(o, Weather | Point)),
        (list[str], lambda o: isinstance(o, list)),
    ],
)
@pytest.mark.parametrize("mode", ["tool", "native", "prompted"])
async def test_test_model_produces_valid_output(output_type: Any, check: Any, mode: str) -> None:
    agent = Agent(model=TestModel(), output_type=output_type, output_mode=mode)  # type: ignore[arg-type]
    result = await agent.run("x")
    assert result.status is RunStatus.COMPLETED, result.error
    assert check(result.output)


async def test_mode_comes_from_the_profile() -> None:
    seen: list[str] = []

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        seen.append(info.output_mode)
        return text('{"x": 1, "y": 2}')

    native = ModelProfile(supports_json_schema_output=True, default_output_mode="native")
    prompted = ModelProfile(supports_tools=False, default_output_mode="tool")
    for profile in (native, prompted):
        agent = Agent(model=FunctionModel(model, profile=profile), output_type=Point)
        assert (await agent.run("x")).output == Point(1, 2)
    assert seen == ["native", "prompted"]


async def test_prompted_mode_puts_the_schema_in_the_instructions() -> None:
    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        system = messages[0].parts[0]
        assert '"celsius"' in system.content  # type: ignore[union-attr]
        return text('```json\n{"city": "Oslo", "celsius": 3, "sky": "clear"}\n```')

    agent = Agent(model=FunctionModel(model), output_type=Weather, output_mode="prompted")
    assert (await agent.run("x")).output == Weather(city="Oslo", celsius=3, sky="clear")


async def test_native_mode_without_support_is_a_configuration_error() -> None:
    agent = Agent(
        model=TestModel(profile=ModelProfile()), output_type=Weather, output_mode="native"
    )
    result = await agent.run("x")
    assert result.status is RunStatus.FAILED
    assert isinstance(result.exception, ConfigurationError)


async def test_validation_failure_is_sent_back_then_succeeds() -> None:
    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        name = info.output_tools[0].name
        last = last_request(messages).parts[-1]
        if isinstance(last, RetryPart):
            assert "celsius" in last.message()
            return ModelResponse(
                parts=[call(name, {"city": "Oslo", "celsius": 5, "sky": "clear"}, "c2")]
            )
        return ModelResponse(parts=[call(name, {"city": "Oslo", "celsius": 500, "sky": "clear"})])

    agent = Agent(model=FunctionModel(model), output_type=Weather)
    events = await collect(agent.run_stream("x"))
    retries = [e for e in events if isinstance(e, ev.OutputRetry)]
    assert len(retries) == 1 and retries[0].errors[0]["loc"][-1] == "celsius"
    final = events[-1]
    assert isinstance(final, ev.RunCompleted)
    assert final.result.output == Weather(city="Oslo", celsius=5, sky="clear")


async def test_validation_retries_run_out_with_a_typed_error() -> None:
    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        return ModelResponse(
            parts=[call(info.output_tools[0].name, {"city": 1}, f"c{len(messages)}")]
        )

    agent = Agent(model=FunctionModel(model), output_type=Weather, output_retries=2)
    result = await agent.run("x")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and result.error.type == "OutputValidationError"
    assert result.usage.requests == 3


async def test_plain_text_in_tool_mode_is_retried() -> None:
    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return text("here you go")
        last = last_request(messages).parts[-1]
        assert isinstance(last, RetryPart) and "final_result" in last.message()
        return ModelResponse(parts=[call("final_result", {"x": 1, "y": 2})])

    assert (await Agent(model=FunctionModel(model), output_type=Point).run("x")).output == Point(
        1, 2
    )


async def test_output_validator_can_ask_for_a_retry() -> None:
    def must_be_positive(ctx: RunContext[Any], point: Point) -> Point:
        if point.x < 0:
            raise ModelRetry("x must be positive")
        return point

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        x = -1 if len(messages) == 1 else 4
        return ModelResponse(parts=[call("final_result", {"x": x, "y": 0}, f"c{x}")])

    agent = Agent(
        model=FunctionModel(model), output_type=Point, output_validators=[must_be_positive]
    )
    assert (await agent.run("x")).output == Point(4, 0)


async def test_partial_structured_output_streams() -> None:
    agent = Agent(model=TestModel(custom_output_args={"x": 12345, "y": 67890}), output_type=Point)
    events = await collect(agent.run_stream("x"))
    partials = [e.output for e in events if isinstance(e, ev.OutputDelta)]
    assert partials, "no output.delta events"
    assert events[-1].result.output == Point(12345, 67890)  # type: ignore[attr-defined]
