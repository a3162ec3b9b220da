"""TestModel and FunctionModel: the test doubles users write agent tests with."""

from __future__ import annotations

import datetime
import decimal
import enum
import ipaddress
import json
import re
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any, Literal

import anyio
import anyio.lowlevel
import pydantic
import pytest
from pydantic import BaseModel, Field, TypeAdapter

from covey.core.testing import (
    AgentInfo,
    DeltaThinking,
    DeltaToolCall,
    FunctionModel,
    TestModel,
    generate_json_data,
    test_model_factory,
)
from covey.spec.errors import ConfigurationError, UnexpectedModelBehavior
from covey.spec.function_schema import FunctionSchema
from covey.spec.messages import (
    ModelRequest,
    ModelResponse,
    RetryPart,
    SystemPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
)
from covey.spec.models import (
    FinalResponseEvent,
    ModelRequestParams,
    ModelSettings,
    ModelStreamEvent,
    OutputSchema,
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPartDelta,
    ThinkingPartDelta,
    ToolCallPartDelta,
)
from covey.spec.tools import ToolDefinition
from covey.spec.usage import Usage

# --- types the generated data must validate against ----------------------------------------------


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 5


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: Annotated[int, Field(ge=1, le=9)]


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool = True


class Node(BaseModel):
    value: int
    children: list[Node] = []
    parent: Node | None = None


class Address(BaseModel):
    street: Annotated[str, Field(min_length=3)]
    postcode: Annotated[str, Field(pattern=r"^\d{5}$")]


class Person(BaseModel):
    name: str
    age: Annotated[int, Field(ge=0, lt=150)]
    email: Annotated[str, Field(json_schema_extra={"format": "email"})]
    address: Address
    tags: Annotated[list[str], Field(min_length=2, max_length=4)]
    nickname: str | None = None


class Strict(BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    count: int
    ratio: float
    flag: bool
    label: str


TYPES: dict[str, Any] = {
    "str": str,
    "str_lengths": Annotated[str, Field(min_length=10, max_length=12)],
    "str_max_2": Annotated[str, Field(max_length=2)],
    "str_pattern": Annotated[str, Field(pattern=r"^[A-Z]{2}-\d{3}$")],
    "str_pattern_alternation": Annotated[str, Field(pattern=r"^(foo|bar)+_[a-f0-9]{8}$")],
    "str_pattern_min_length": Annotated[str, Field(pattern=r"^[a-z]+$", min_length=12)],
    "str_pattern_negated_class": Annotated[str, Field(pattern=r"^[^a-z0-9]{3}$")],
    "int": int,
    "positive_int": pydantic.PositiveInt,
    "negative_int": pydantic.NegativeInt,
    "non_negative_int": pydantic.NonNegativeInt,
    "int_open_range": Annotated[int, Field(gt=10, lt=12)],
    "int_multiple_of": Annotated[int, Field(multiple_of=7, ge=20)],
    "int_below": Annotated[int, Field(le=-100)],
    "float": float,
    "float_open_unit": Annotated[float, Field(gt=0, lt=1)],
    "float_multiple_of": Annotated[float, Field(multiple_of=0.25, gt=2)],
    "float_negative_multiple": Annotated[float, Field(lt=-5, multiple_of=0.5)],
    "float_tiny_range": Annotated[float, Field(ge=0.1, le=0.2)],
    "bool": bool,
    "none": None,
    "optional_int": int | None,
    "literal_str": Literal["a", "b"],
    "literal_int": Literal[3],
    "enum": Color,
    "int_enum": Priority,
    "discriminated_union": Annotated[Cat | Dog, Field(discriminator="kind")],
    "plain_union": int | str,
    "date": datetime.date,
    "datetime": datetime.datetime,
    "aware_datetime": pydantic.AwareDatetime,
    "time": datetime.time,
    "timedelta": datetime.timedelta,
    "uuid": uuid.UUID,
    "uuid1": pydantic.UUID1,
    "uuid3": pydantic.UUID3,
    "uuid4": pydantic.UUID4,
    "uuid5": pydantic.UUID5,
    "decimal": decimal.Decimal,
    "decimal_no_places": Annotated[decimal.Decimal, Field(max_digits=4, decimal_places=0)],
    "list_int": list[int],
    "set_short_str_min_3": Annotated[
        frozenset[Annotated[str, Field(max_length=4)]], Field(min_length=3)
    ],
    "set_small_int_range_full": Annotated[
        set[Annotated[int, Field(ge=0, le=2)]], Field(min_length=3)
    ],
    "set_time_min_3": Annotated[frozenset[datetime.time], Field(min_length=3)],
    "set_ipv4_min_3": Annotated[frozenset[ipaddress.IPv4Address], Field(min_length=3)],
    "set_date_min_3": Annotated[frozenset[datetime.date], Field(min_length=3)],
    "list_min_3": Annotated[list[str], Field(min_length=3)],
    "set_int": set[int],
    "frozenset_min_3": Annotated[frozenset[int], Field(min_length=3)],
    "tuple_fixed": tuple[int, str, bool],
    "tuple_variadic": tuple[float, ...],
    "dict_str_int": dict[str, int],
    "dict_int_str": dict[int, str],
    "dict_literal_keys": dict[Literal["x", "y"], float],
    "dict_any": dict[str, Any],
    "any": Any,
    "recursive_model": Node,
    "nested_model": Person,
    "strict_model": Strict,
    "list_of_union": list[Annotated[Cat | Dog, Field(discriminator="kind")]],
    "json_string": pydantic.Json[list[int]],
    "secret": pydantic.SecretStr,
    "bytes": bytes,
    "base64_bytes": pydantic.Base64Bytes,
    "http_url": pydantic.HttpUrl,
    "any_url": pydantic.AnyUrl,
    "ip_address": pydantic.IPvAnyAddress,
    "ipv4": ipaddress.IPv4Address,
    "ipv6": ipaddress.IPv6Address,
    "ip_network": pydantic.IPvAnyNetwork,
    "directory_path": pydantic.DirectoryPath,
}


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("name", sorted(TYPES))
def test_generated_data_validates_against_its_source_type(name: str, seed: int) -> None:
    """The data TestModel sends must be accepted by the type the schema came from.

    Fix: `generate_json_data` produced a value the pydantic type rejects; see the error for which
    keyword (bound, format, pattern, ...) was not honoured.
    """
    adapter: TypeAdapter[Any] = TypeAdapter(TYPES[name])
    data = generate_json_data(adapter.json_schema(), seed=seed)
    adapter.validate_json(json.dumps(data))  # what the run loop does with the model's JSON
    adapter.validate_python(data)


def test_email_format_gives_an_email_address() -> None:
    data = generate_json_data(TypeAdapter(Person).json_schema())
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", data["email"])


def test_optional_fields_are_generated_too() -> None:
    data = generate_json_data(TypeAdapter(Person).json_schema())
    assert set(data) == {"name", "age", "email", "address", "tags", "nickname"}
    assert 2 <= len(data["tags"]) <= 4


def test_recursive_schema_terminates() -> None:
    data = generate_json_data(TypeAdapter(Node).json_schema())
    depth = 0
    node: dict[str, Any] | None = data
    while node is not None and node.get("children"):
        node = node["children"][0]
        depth += 1
    assert 1 <= depth < 10


def test_different_seeds_give_different_values() -> None:
    schema = TypeAdapter(Person).json_schema()
    assert generate_json_data(schema, seed=0) != generate_json_data(schema, seed=1)
    assert generate_json_data(schema, seed=3) == generate_json_data(schema, seed=3)


def test_ref_with_sibling_default_and_all_of() -> None:
    schema = {
        "$defs": {"Base": {"type": "object", "properties": {"a": {"type": "integer"}}}},
        "allOf": [
            {"$ref": "#/$defs/Base"},
            {"properties": {"b": {"const": "fixed"}}, "required": ["b"]},
        ],
    }
    assert generate_json_data(schema) == {"a": 1, "b": "fixed"}


# --- helpers -------------------------------------------------------------------------------------


def get_weather(city: str, days: Annotated[int, Field(ge=1, le=7)] = 1) -> str:
    """Weather forecast for a city."""
    return "sunny"


def book_meeting(
    title: Annotated[str, Field(min_length=3)],
    start: datetime.datetime,
    attendees: list[Person],
    room: Literal["north", "south"] | None = None,
) -> str:
    """Book a meeting."""
    return "booked"


def ping() -> str:
    """No arguments at all."""
    return "pong"


FUNCTIONS = {f.__name__: f for f in (get_weather, book_meeting, ping)}


def tool_def(function: Any) -> ToolDefinition:
    schema = FunctionSchema(function, name=function.__name__)
    return ToolDefinition(name=function.__name__, parameters_json_schema=schema.json_schema)


def validate_call(call: ToolCallPart) -> None:
    FunctionSchema(FUNCTIONS[call.tool_name], name=call.tool_name).validate(call.args_as_dict())


class Forecast(BaseModel):
    city: str
    temperature: Annotated[float, Field(ge=-90, le=60)]
    when: datetime.date
    summary: Literal["sunny", "rainy"]


def output_tool(model: type[BaseModel] = Forecast) -> ToolDefinition:
    return ToolDefinition(
        name="final_result", kind="output", parameters_json_schema=model.model_json_schema()
    )


def params(**kwargs: Any) -> ModelRequestParams:
    kwargs.setdefault("function_tools", [tool_def(f) for f in FUNCTIONS.values()])
    return ModelRequestParams(**kwargs)


def user(text: str) -> ModelRequest:
    return ModelRequest(parts=[SystemPart(content="Be brief."), UserPart(content=text)])


def tool_returns(response: ModelResponse, contents: dict[str, Any]) -> ModelRequest:
    return ModelRequest(
        parts=[
            ToolReturnPart(
                tool_name=c.tool_name, tool_call_id=c.tool_call_id, content=contents[c.tool_name]
            )
            for c in response.tool_calls()
        ]
    )


# --- TestModel: the tool loop --------------------------------------------------------------------


async def test_first_step_calls_every_tool_once_in_one_response() -> None:
    model = TestModel()
    response = await model.request([user("hi")], None, params())
    calls = response.tool_calls()
    assert [c.tool_name for c in calls] == ["get_weather", "book_meeting", "ping"]
    assert len({c.tool_call_id for c in calls}) == 3
    assert all(c.tool_call_id for c in calls)
    for call in calls:
        validate_call(call)
    assert response.finish_reason == "tool_calls"
    assert response.model_name == "test"


async def test_call_tools_selects_the_tools() -> None:
    response = await TestModel(call_tools=["ping"]).request([user("hi")], None, params())
    assert [c.tool_name for c in response.tool_calls()] == ["ping"]
    assert response.tool_calls()[0].args == {}


async def test_call_tools_rejects_a_bare_string() -> None:
    with pytest.raises(ConfigurationError, match=r"call_tools=\['ping'\]"):
        TestModel(call_tools="ping")  # type: ignore[arg-type]


async def test_tool_choice_none_and_named() -> None:
    model = TestModel()
    answer = await model.request([user("hi")], None, params(tool_choice="none"))
    assert answer.tool_calls() == []
    assert answer.text() == "success (no tool calls)"
    named = await model.request([user("hi")], None, params(tool_choice="ping"))
    assert [c.tool_name for c in named.tool_calls()] == ["ping"]


async def test_after_tool_returns_text_mode_answers_with_the_results() -> None:
    model = TestModel(call_tools=["get_weather", "ping"])
    first = await model.request([user("weather?")], None, params())
    history = [
        user("weather?"),
        first,
        tool_returns(first, {"get_weather": "sunny", "ping": "pong"}),
    ]
    answer = await model.request(history, None, params())
    assert answer.tool_calls() == []
    assert json.loads(answer.text()) == {"get_weather": "sunny", "ping": "pong"}
    assert answer.finish_reason == "stop"


async def test_without_tools_answers_success() -> None:
    answer = await TestModel().request([user("hi")], None, params(function_tools=[]))
    assert answer.parts == [TextPart(content="success (no tool calls)")]


async def test_custom_output_text() -> None:
    model = TestModel(custom_output_text="It is sunny.")
    first = await model.request([user("q")], None, params())
    assert first.tool_calls()
    answer = await model.request(
        [user("q"), first, tool_returns(first, dict.fromkeys(FUNCTIONS, "ok"))], None, params()
    )
    assert answer.text() == "It is sunny."


async def test_second_turn_calls_tools_again_and_reports_only_its_own_results() -> None:
    model = TestModel(call_tools=["get_weather", "ping"])
    p = params()
    first = await model.request([user("one")], None, p)
    turn1 = [user("one"), first, tool_returns(first, {"get_weather": "rainy", "ping": "pong"})]
    answer1 = await model.request(turn1, None, p)
    assert json.loads(answer1.text()) == {"get_weather": "rainy", "ping": "pong"}

    # The same (stateless) model is asked about a second turn with fewer tools on offer.
    p2 = params(function_tools=[tool_def(get_weather)])
    turn2 = [*turn1, answer1, user("two")]
    second = await model.request(turn2, None, p2)
    assert [c.tool_name for c in second.tool_calls()] == ["get_weather"]
    assert second.tool_calls()[0].tool_call_id not in {c.tool_call_id for c in first.tool_calls()}
    turn2 += [second, tool_returns(second, {"get_weather": "sunny"})]
    answer2 = await model.request(turn2, None, p2)
    assert json.loads(answer2.text()) == {"get_weather": "sunny"}


async def test_tool_retry_calls_only_that_tool_again_with_fresh_args() -> None:
    model = TestModel(call_tools=["get_weather", "ping"])
    p = params()
    first = await model.request([user("q")], None, p)
    weather, ping_call = first.tool_calls()
    retry_request = ModelRequest(
        parts=[
            RetryPart(
                content="city unknown", tool_name="get_weather", tool_call_id=weather.tool_call_id
            ),
            ToolReturnPart(tool_name="ping", tool_call_id=ping_call.tool_call_id, content="pong"),
        ]
    )
    history = [user("q"), first, retry_request]
    retried = await model.request(history, None, p)
    assert [c.tool_name for c in retried.tool_calls()] == ["get_weather"]
    assert retried.tool_calls()[0].args != weather.args
    validate_call(retried.tool_calls()[0])

    # Once the retried tool returns, the model answers.
    history += [retried, tool_returns(retried, {"get_weather": "sunny"})]
    answer = await model.request(history, None, p)
    assert json.loads(answer.text()) == {"get_weather": "sunny", "ping": "pong"}


async def test_retry_of_an_unknown_tool_answers() -> None:
    model = TestModel(call_tools=[])
    history = [
        user("q"),
        ModelResponse(parts=[ToolCallPart(tool_name="nope", tool_call_id="c1")]),
        ModelRequest(
            parts=[RetryPart(content="no such tool", tool_name="nope", tool_call_id="c1")]
        ),
    ]
    answer = await model.request(history, None, params())
    assert answer.text() == "success (no tool calls)"


# --- TestModel: output modes ---------------------------------------------------------------------


async def test_tool_output_mode_calls_the_output_tool_with_valid_args() -> None:
    model = TestModel(call_tools=[])
    p = params(output_mode="tool", output_tools=[output_tool()], allow_text_output=False)
    answer = await model.request([user("q")], None, p)
    (call,) = answer.tool_calls()
    assert call.tool_name == "final_result"
    Forecast.model_validate(call.args_as_dict())


async def test_tool_output_mode_after_function_tools() -> None:
    model = TestModel(call_tools=["ping"])
    p = params(output_mode="tool", output_tools=[output_tool()], allow_text_output=False)
    first = await model.request([user("q")], None, p)
    assert [c.tool_name for c in first.tool_calls()] == ["ping"]
    answer = await model.request([user("q"), first, tool_returns(first, {"ping": "pong"})], None, p)
    assert [c.tool_name for c in answer.tool_calls()] == ["final_result"]


async def test_custom_output_args_in_tool_mode() -> None:
    forecast = Forecast(
        city="Oslo", temperature=-3, when=datetime.date(2024, 2, 1), summary="rainy"
    )
    model = TestModel(call_tools=[], custom_output_args=forecast)
    p = params(output_mode="tool", output_tools=[output_tool()], allow_text_output=False)
    (call,) = (await model.request([user("q")], None, p)).tool_calls()
    assert Forecast.model_validate(call.args_as_dict()) == forecast


async def test_custom_output_args_wrapped_for_single_parameter_output_tool() -> None:
    class Wrapped(BaseModel):
        response: list[int]

    model = TestModel(call_tools=[], custom_output_args=[1, 2, 3])
    p = params(output_mode="tool", output_tools=[output_tool(Wrapped)], allow_text_output=False)
    (call,) = (await model.request([user("q")], None, p)).tool_calls()
    assert call.args_as_dict() == {"response": [1, 2, 3]}


async def test_output_retry_answers_again_with_fresh_output() -> None:
    model = TestModel(call_tools=[])
    p = params(output_mode="tool", output_tools=[output_tool()], allow_text_output=False)
    first = await model.request([user("q")], None, p)
    (call,) = first.tool_calls()
    history = [
        user("q"),
        first,
        ModelRequest(
            parts=[
                RetryPart(content="bad", tool_name="final_result", tool_call_id=call.tool_call_id)
            ]
        ),
    ]
    (again,) = (await model.request(history, None, p)).tool_calls()
    assert again.tool_name == "final_result"
    assert again.args != call.args
    Forecast.model_validate(again.args_as_dict())


async def test_output_tool_retry_repeats_custom_output_args() -> None:
    """Custom args are what the user wants tested, so a retry sends them again."""
    model = TestModel(call_tools=[], custom_output_args={"city": "nowhere"})
    p = params(output_mode="tool", output_tools=[output_tool()], allow_text_output=False)
    (call,) = (await model.request([user("q")], None, p)).tool_calls()
    retry = RetryPart(content="bad", tool_name="final_result", tool_call_id=call.tool_call_id)
    history = [user("q"), ModelResponse(parts=[call]), ModelRequest(parts=[retry])]
    (again,) = (await model.request(history, None, p)).tool_calls()
    assert again.args == {"city": "nowhere"}


@pytest.mark.parametrize("mode", ["native", "prompted"])
async def test_json_output_modes_answer_with_valid_json_text(mode: str) -> None:
    schema = OutputSchema(json_schema=Forecast.model_json_schema())
    p = params(function_tools=[], output_mode=mode, output_schema=schema, allow_text_output=False)
    answer = await TestModel().request([user("q")], None, p)
    assert answer.tool_calls() == []
    Forecast.model_validate_json(answer.text())

    # A retry without a tool (invalid output) gets a new answer.
    history = [user("q"), answer, ModelRequest(parts=[RetryPart(content="wrong")])]
    again = await TestModel().request(history, None, p)
    Forecast.model_validate_json(again.text())
    assert again.text() != answer.text()


async def test_json_output_mode_with_custom_args() -> None:
    schema = OutputSchema(json_schema=Forecast.model_json_schema())
    p = params(function_tools=[], output_mode="native", output_schema=schema)
    model = TestModel(
        custom_output_args={
            "city": "Rome",
            "temperature": 30,
            "when": "2024-07-01",
            "summary": "sunny",
        }
    )
    answer = await model.request([user("q")], None, p)
    assert Forecast.model_validate_json(answer.text()).city == "Rome"


async def test_custom_text_when_output_tool_is_required_is_an_error() -> None:
    model = TestModel(call_tools=[], custom_output_text="plain")
    p = params(output_mode="tool", output_tools=[output_tool()], allow_text_output=False)
    with pytest.raises(ConfigurationError, match="custom_output_args"):
        await model.request([user("q")], None, p)


def test_custom_text_and_args_together_are_an_error() -> None:
    with pytest.raises(ConfigurationError, match="at most one"):
        TestModel(custom_output_text="a", custom_output_args={"b": 1})


# --- TestModel: usage, profile, factory ----------------------------------------------------------


async def test_usage_is_estimated_from_words() -> None:
    response = await TestModel().request(
        [ModelRequest(parts=[UserPart(content="one two three")])], None, params(function_tools=[])
    )
    # "success (no tool calls)" is four words.
    assert response.usage == Usage(input_tokens=3, output_tokens=4, requests=1)


def test_profile_and_names() -> None:
    model = TestModel()
    assert model.profile.supports_tools
    assert model.profile.supports_json_schema_output
    assert model.profile.supports_streaming
    assert model.profile.default_output_mode == "tool"
    assert model.provider == "test"
    assert test_model_factory("anything").model_name == "anything"


def test_model_string_resolves_to_a_test_model() -> None:
    from covey.spec.plugins import resolve_model

    model = resolve_model("test:my-model")
    assert isinstance(model, TestModel)
    assert model.model_name == "my-model"


# --- streaming -----------------------------------------------------------------------------------


async def collect(stream: AsyncIterator[ModelStreamEvent]) -> list[ModelStreamEvent]:
    return [event async for event in stream]


def reassemble(events: list[ModelStreamEvent]) -> dict[int, dict[str, Any]]:
    """Rebuild each part from its start and delta events only, as a streaming consumer would."""
    parts: dict[int, dict[str, Any]] = {}
    for event in events:
        if isinstance(event, PartStartEvent):
            part = event.part
            if isinstance(part, ToolCallPart):
                parts[event.index] = {
                    "kind": "tool-call",
                    "name": part.tool_name,
                    "id": part.tool_call_id,
                    "text": part.args if isinstance(part.args, str) else json.dumps(part.args),
                }
            else:
                parts[event.index] = {"kind": part.kind, "text": part.content}
        elif isinstance(event, PartDeltaEvent):
            delta = event.delta
            if isinstance(delta, (TextPartDelta, ThinkingPartDelta)):
                parts[event.index]["text"] += delta.content
            else:
                assert isinstance(delta, ToolCallPartDelta)
                parts[event.index]["text"] += delta.args_delta
                if delta.tool_name:
                    parts[event.index]["name"] = delta.tool_name
                if delta.tool_call_id:
                    parts[event.index]["id"] = delta.tool_call_id
    return parts


def assert_stream_matches(events: list[ModelStreamEvent], response: ModelResponse) -> None:
    assert isinstance(events[-1], FinalResponseEvent)
    assert sum(isinstance(e, FinalResponseEvent) for e in events) == 1
    final = events[-1].response
    assert final.model_dump(exclude={"timestamp"}) == response.model_dump(exclude={"timestamp"})
    rebuilt = reassemble(events)
    assert sorted(rebuilt) == list(range(len(final.parts)))
    for index, part in enumerate(final.parts):
        if isinstance(part, ToolCallPart):
            assert rebuilt[index]["name"] == part.tool_name
            assert rebuilt[index]["id"] == part.tool_call_id
            assert json.loads(rebuilt[index]["text"]) == part.args_as_dict()
        else:
            assert rebuilt[index]["text"] == part.content
    ends = {e.index: e.part for e in events if isinstance(e, PartEndEvent)}
    assert ends == dict(enumerate(final.parts))


async def test_stream_text_word_by_word_matches_request() -> None:
    model = TestModel(custom_output_text="It is sunny in Paris today.")
    p = params(function_tools=[])
    events = await collect(model.request_stream([user("q")], None, p))
    deltas = [e for e in events if isinstance(e, PartDeltaEvent)]
    assert len(deltas) == 5  # six words: one in the start event, five deltas
    assert_stream_matches(events, await model.request([user("q")], None, p))


async def test_stream_parallel_tool_calls_in_fragments_match_request() -> None:
    model = TestModel()
    events = await collect(model.request_stream([user("q")], None, params()))
    response = await model.request([user("q")], None, params())
    assert_stream_matches(events, response)
    book_index = [c.tool_name for c in response.tool_calls()].index("book_meeting")
    fragments = [e for e in events if isinstance(e, PartDeltaEvent) and e.index == book_index]
    assert len(fragments) > 3


async def test_stream_output_tool_matches_request() -> None:
    model = TestModel(call_tools=[])
    p = params(output_mode="tool", output_tools=[output_tool()], allow_text_output=False)
    events = await collect(model.request_stream([user("q")], None, p))
    assert_stream_matches(events, await model.request([user("q")], None, p))


# --- no state between requests -------------------------------------------------------------------


async def test_one_instance_serves_100_concurrent_histories() -> None:
    """Every answer must follow from its own history: TestModel keeps no per-run state.

    Fix: something about the current run is stored on the TestModel instance.
    """
    model = TestModel(call_tools=["get_weather"])
    p = params()
    results: dict[int, Any] = {}

    async def one(i: int) -> None:
        prompt = f"question {i}"
        if i % 2:  # a first step: must call the tool
            history: list[ModelRequest | ModelResponse] = [user(prompt)]
        else:  # after the tool returned: must answer with this history's result
            call = ToolCallPart(tool_name="get_weather", args={"city": "x"}, tool_call_id=f"c{i}")
            history = [
                user(prompt),
                ModelResponse(parts=[call]),
                ModelRequest(
                    parts=[
                        ToolReturnPart(
                            tool_name="get_weather", tool_call_id=f"c{i}", content=f"w{i}"
                        )
                    ]
                ),
            ]
        events: list[ModelStreamEvent] = []
        async for event in model.request_stream(history, None, p):
            events.append(event)
            await anyio.lowlevel.checkpoint()  # let the other requests interleave
        assert isinstance(events[-1], FinalResponseEvent)
        results[i] = events[-1].response

    async with anyio.create_task_group() as tg:
        for i in range(100):
            tg.start_soon(one, i)

    for i, response in results.items():
        if i % 2:
            assert [c.tool_name for c in response.tool_calls()] == ["get_weather"], i
        else:
            assert json.loads(response.text()) == {"get_weather": f"w{i}"}, i
    assert len(results) == 100


# --- FunctionModel -------------------------------------------------------------------------------


async def test_function_model_sync_function_runs_in_a_worker_thread() -> None:
    seen: dict[str, Any] = {}

    def decide(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        seen["thread"] = threading.get_ident()
        seen["messages"] = messages
        seen["info"] = info
        return ModelResponse(parts=[TextPart(content="hello there")])

    settings = ModelSettings(temperature=0.5)
    schema = OutputSchema(json_schema={"type": "object"})
    p = params(
        output_mode="native", output_schema=schema, allow_text_output=False, tool_choice="required"
    )
    history = [user("hi")]
    response = await FunctionModel(decide).request(history, settings, p)

    assert response.text() == "hello there"
    assert seen["thread"] != threading.get_ident()
    assert seen["messages"] == history
    info: AgentInfo = seen["info"]
    assert [t.name for t in info.function_tools] == list(FUNCTIONS)
    assert info.output_tools == []
    assert info.output_mode == "native"
    assert info.output_schema == schema
    assert info.allow_text_output is False
    assert info.model_settings == settings
    assert info.tool_choice == "required"
    assert response.model_name == "function"
    assert response.usage.requests == 1
    assert response.usage.output_tokens == 2


async def test_function_model_async_function_and_usage_kept() -> None:
    async def decide(
        messages: list[ModelRequest | ModelResponse], info: AgentInfo
    ) -> ModelResponse:
        await anyio.lowlevel.checkpoint()
        return ModelResponse(
            parts=[TextPart(content="async")],
            usage=Usage(input_tokens=11, requests=1),
            model_name="m",
        )

    response = await FunctionModel(decide, model_name="fn").request([user("hi")], None, params())
    assert response.usage == Usage(input_tokens=11, requests=1)
    assert response.model_name == "m"


async def test_function_model_rejects_a_wrong_return_value() -> None:
    model = FunctionModel(lambda messages, info: "text")  # type: ignore[arg-type, return-value]
    with pytest.raises(UnexpectedModelBehavior, match="must return a ModelResponse"):
        await model.request([user("hi")], None, params())


def test_function_model_needs_a_function() -> None:
    with pytest.raises(ConfigurationError, match="needs a function"):
        FunctionModel()


async def test_function_model_stream_replays_the_response_in_chunks() -> None:
    response = ModelResponse(
        parts=[
            ThinkingPart(content="let me think about it", signature="sig"),
            TextPart(content="The answer is forty two."),
            ToolCallPart(
                tool_name="get_weather", args={"city": "Paris", "days": 3}, tool_call_id="t1"
            ),
        ],
        usage=Usage(input_tokens=1, output_tokens=2, requests=1),
        model_name="scripted",
    )
    model = FunctionModel(lambda messages, info: response)
    events = await collect(model.request_stream([user("q")], None, params()))
    assert_stream_matches(events, response)
    text_deltas = [e for e in events if isinstance(e, PartDeltaEvent) and e.index == 1]
    assert len(text_deltas) == 4
    signature = [
        e.delta.signature
        for e in events
        if isinstance(e, PartDeltaEvent) and isinstance(e.delta, ThinkingPartDelta)
    ]
    assert "sig" in signature


async def test_stream_function_assembles_parallel_tool_call_fragments() -> None:
    async def stream(
        messages: list[ModelRequest | ModelResponse], info: AgentInfo
    ) -> AsyncIterator[Any]:
        yield "Let me "
        yield "check."
        yield {0: DeltaToolCall(name="get_weather", tool_call_id="a")}
        yield {1: DeltaToolCall(name="ping")}
        yield {0: DeltaToolCall(json_args='{"city": ')}
        yield {1: DeltaToolCall(json_args="{}")}
        yield {0: DeltaToolCall(json_args='"Paris"}')}

    model = FunctionModel(stream_function=stream)
    events = await collect(model.request_stream([user("q")], None, params()))
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    response = final.response
    assert response.text() == "Let me check."
    weather, ping_call = response.tool_calls()
    assert (weather.tool_name, weather.tool_call_id, weather.args_as_dict()) == (
        "get_weather",
        "a",
        {"city": "Paris"},
    )
    assert ping_call.tool_name == "ping"
    assert ping_call.tool_call_id  # generated when the stream gives none
    assert ping_call.tool_call_id != "a"
    assert ping_call.args_as_dict() == {}
    assert response.finish_reason == "tool_calls"
    assert response.model_name == "function"
    assert response.usage.requests == 1
    assert response.usage.output_tokens > 0
    # Both calls were streamed interleaved, as deltas of their own parts.
    delta_indexes = [e.index for e in events if isinstance(e, PartDeltaEvent)]
    assert delta_indexes.count(1) == 2
    assert delta_indexes.count(2) == 1
    assert reassemble(events)[1]["text"] + reassemble(events)[2]["text"] == '{"city": "Paris"}{}'


async def test_stream_function_sync_generator_runs_in_a_worker_thread() -> None:
    threads: list[int] = []

    def stream(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> Iterator[Any]:
        threads.append(threading.get_ident())
        yield DeltaThinking("hmm ")
        yield DeltaThinking("ok", signature="s1")
        yield "Hello"
        yield " world"
        yield DeltaToolCall(name="ping", json_args="{}", tool_call_id="p")
        yield "Done."

    model = FunctionModel(stream_function=stream)
    response = await model.request([user("q")], None, params())  # request drains the stream
    assert threads
    assert threads[0] != threading.get_ident()
    assert [p.kind for p in response.parts] == ["thinking", "text", "tool-call", "text"]
    thinking, hello, call, done = response.parts
    assert isinstance(thinking, ThinkingPart)
    assert thinking.content == "hmm ok"
    assert thinking.signature == "s1"
    assert isinstance(hello, TextPart)
    assert hello.content == "Hello world"
    assert isinstance(call, ToolCallPart)
    assert call.tool_call_id == "p"
    assert isinstance(done, TextPart)
    assert done.content == "Done."


async def test_stream_function_rejects_unknown_items() -> None:
    async def stream(
        messages: list[ModelRequest | ModelResponse], info: AgentInfo
    ) -> AsyncIterator[Any]:
        yield 42

    with pytest.raises(UnexpectedModelBehavior, match="yielded int"):
        await collect(
            FunctionModel(stream_function=stream).request_stream([user("q")], None, params())
        )


async def test_function_model_uses_stream_function_for_streams_and_function_for_requests() -> None:
    async def stream(
        messages: list[ModelRequest | ModelResponse], info: AgentInfo
    ) -> AsyncIterator[str]:
        yield "streamed"

    model = FunctionModel(
        lambda messages, info: ModelResponse(parts=[TextPart(content="whole")]),
        stream_function=stream,
    )
    assert (await model.request([user("q")], None, params())).text() == "whole"
    events = await collect(model.request_stream([user("q")], None, params()))
    assert isinstance(events[-1], FinalResponseEvent)
    assert events[-1].response.text() == "streamed"
