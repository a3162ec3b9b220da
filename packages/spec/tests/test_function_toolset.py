"""Functions as tools: `Tool`, `@tool` and `FunctionToolset`.

A failure here means a function tool is described, called or answered wrongly: fix
`covey/spec/function_toolset.py` (or `function_schema.py` for schema and validation).
"""

import dataclasses
import inspect
import threading
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from covey.spec import function_schema as function_schema_module
from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError, ModelRetry, ToolError, ToolNotFoundError
from covey.spec.function_toolset import FunctionToolset, Tool, tool
from covey.spec.tools import ToolArgumentsError, ToolDefinition, ToolResult


@pytest.fixture
def ctx() -> RunContext[dict[str, int]]:
    return RunContext(run_id="run-1", deps={"offset": 100})


@pytest.fixture
def model_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    built: list[str] = []
    real = function_schema_module.create_model

    def counting(name: str, /, **kwargs: Any) -> Any:
        built.append(name)
        return real(name, **kwargs)

    monkeypatch.setattr(function_schema_module, "create_model", counting)
    return built


@tool
def add(a: int, b: int = 1) -> int:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


@tool(
    name="shift",
    description="Shift a number by the configured offset.",
    requires_approval=True,
    input_fields=("reason",),
    timeout=2.5,
    strict=True,
)
def shift_by_offset(ctx: RunContext[dict[str, int]], value: int, reason: str = "") -> int:
    """Not shown: the explicit description wins."""
    return value + ctx.deps["offset"]


# --- decorator and definition --------------------------------------------------------------------


def test_bare_decorator_builds_definition_from_function() -> None:
    assert isinstance(add, Tool)
    assert add.name == "add"
    assert add.definition == ToolDefinition(
        name="add",
        description="Add two numbers.",
        parameters_json_schema={
            "type": "object",
            "properties": {
                "a": {"type": "integer", "description": "The first number."},
                "b": {"type": "integer", "default": 1, "description": "The second number."},
            },
            "required": ["a"],
            "additionalProperties": False,
        },
    )


def test_decorator_with_options() -> None:
    definition = shift_by_offset.definition
    assert definition.name == "shift"
    assert definition.description == "Shift a number by the configured offset."
    assert definition.requires_approval is True
    assert definition.input_fields == ("reason",)
    assert definition.timeout == 2.5
    assert definition.strict is True
    assert definition.kind == "function"
    # The human-supplied field and the context are not shown to the model.
    assert list(definition.parameters_json_schema["properties"]) == ["value"]


def test_tool_constructor_kind_and_metadata() -> None:
    def finish(answer: str) -> str:
        return answer

    t = Tool(finish, kind="output", metadata={"team": "core"}, description="")
    assert t.definition.kind == "output"
    assert t.definition.metadata == {"team": "core"}
    assert t.definition.description == ""


def test_tool_is_still_the_function() -> None:
    assert add(2, b=3) == 5
    assert add.__name__ == "add"
    assert add.__doc__ is not None
    assert add.__doc__.startswith("Add two numbers.")
    assert add.__wrapped__ is add.function
    assert str(inspect.signature(add)) == "(a: int, b: int = 1) -> int"
    ctx = RunContext(run_id="r", deps={"offset": 1})
    assert shift_by_offset(ctx, 2) == 3


def test_takes_ctx_and_is_async() -> None:
    async def fetch(url: str) -> str:
        return url

    class Caller:
        async def __call__(self, q: str) -> str:
            return q

    assert shift_by_offset.takes_ctx
    assert not add.takes_ctx
    assert not add.is_async
    assert Tool(fetch).is_async
    assert Tool(Caller(), name="caller").is_async


@pytest.mark.parametrize("bad", ["<lambda>", "", "has space", "a" * 65, "dotted.name"])
def test_invalid_names_are_rejected(bad: str) -> None:
    with pytest.raises(ConfigurationError, match="is not valid"):
        Tool(add.function, name=bad)


def test_lambda_needs_a_name() -> None:
    with pytest.raises(ConfigurationError, match="'<lambda>' is not valid"):
        Tool(lambda x: x)
    assert Tool(lambda x: x, name="echo").name == "echo"


def test_star_args_rejected_when_decorating() -> None:
    with pytest.raises(ConfigurationError, match=r"\*\*kwargs"):

        @tool
        def anything(**kwargs: Any) -> None: ...


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"input_fields": "reason"}, "got the string 'reason'"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"timeout": -1.0}, "timeout must be a positive number"),
    ],
)
def test_bad_options_are_rejected(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Tool(add.function, **options)


# --- laziness ------------------------------------------------------------------------------------


def test_construction_builds_nothing(model_builds: list[str]) -> None:
    def lookup(ctx: RunContext, key: "NotDefinedYet") -> str:  # noqa: F821
        return key

    t = Tool(lookup)  # an unresolvable hint is fine until the schema is needed
    assert model_builds == []
    assert t._definition is None
    assert t._schema._analysis is None
    with pytest.raises(ConfigurationError, match="NotDefinedYet"):
        _ = t.definition


def test_definition_cached(model_builds: list[str]) -> None:
    def echo(text: str) -> str:
        return text

    t = Tool(echo)
    first = t.definition
    assert t.definition is first
    assert t.definition.parameters_json_schema is first.parameters_json_schema
    assert model_builds == ["echoArguments"]


async def test_validator_built_once_across_calls(
    model_builds: list[str], ctx: RunContext[Any]
) -> None:
    def echo(text: str) -> str:
        return text

    t = Tool(echo)
    for text in ("a", "b", "c"):
        assert await t.call({"text": text}, ctx) == text
    _ = t.definition
    assert model_builds == ["echoArguments"]


# --- calling -------------------------------------------------------------------------------------


async def test_sync_tool_runs_in_worker_thread(ctx: RunContext[Any]) -> None:
    @tool
    def where() -> int:
        return threading.get_ident()

    assert await where.call({}, ctx) != threading.get_ident()


async def test_sync_tool_does_not_block_event_loop(ctx: RunContext[Any]) -> None:
    released = threading.Event()

    @tool
    def wait_for_loop() -> bool:
        # If this ran on the event loop thread, nothing could set the event.
        return released.wait(timeout=5)

    async with anyio.create_task_group() as tg:

        async def release() -> None:
            await anyio.sleep(0.01)
            released.set()

        tg.start_soon(release)
        assert await wait_for_loop.call({}, ctx) is True


async def test_cancelled_sync_call_returns_promptly(ctx: RunContext[Any]) -> None:
    released = threading.Event()

    @tool
    def stuck() -> bool:
        return released.wait(timeout=10)

    with anyio.move_on_after(0.05) as scope:
        await stuck.call({}, ctx)
    released.set()  # let the abandoned worker thread finish
    assert scope.cancelled_caught


async def test_async_tool_runs_on_loop(ctx: RunContext[Any]) -> None:
    @tool
    async def where(delay: float = 0) -> int:
        await anyio.sleep(delay)
        return threading.get_ident()

    assert await where.call({"delay": "0"}, ctx) == threading.get_ident()


async def test_sync_wrapper_returning_coroutine_is_awaited(ctx: RunContext[Any]) -> None:
    async def inner(x: int) -> int:
        return x * 2

    def wrapper(x: int) -> Any:
        return inner(x)

    assert await Tool(wrapper).call({"x": 4}, ctx) == 8


async def test_context_injected_and_args_validated(ctx: RunContext[dict[str, int]]) -> None:
    assert await shift_by_offset.call({"value": "5", "reason": "test"}, ctx) == 105
    with pytest.raises(ToolArgumentsError) as info:
        await shift_by_offset.call({"value": "five"}, ctx)
    assert info.value.tool_name == "shift"
    assert [e["loc"] for e in info.value.errors] == [["value"]]


# --- the toolset ---------------------------------------------------------------------------------


class Weather(BaseModel):
    city: str
    celsius: float


@dataclasses.dataclass
class Reading:
    sensor: str
    value: int


def weather(city: str) -> Weather:
    return Weather(city=city, celsius=21.5)


def reading() -> Reading:
    return Reading(sensor="s1", value=3)


def as_text(x: int) -> str:
    return f"x={x}"


def annotated_result() -> ToolResult:
    return ToolResult(content="partial", is_error=True, metadata={"k": 1})


def opaque() -> object:
    return object()


async def test_list_tools_in_order(ctx: RunContext[Any]) -> None:
    toolset = FunctionToolset([add, weather, as_text], id="misc")
    assert toolset.id == "misc"
    definitions = await toolset.list_tools(ctx)
    assert [d.name for d in definitions] == ["add", "weather", "as_text"]
    assert definitions[0] is add.definition
    assert list(toolset.tools) == ["add", "weather", "as_text"]


@pytest.mark.parametrize(
    ("fn", "args", "content"),
    [
        (as_text, {"x": 3}, "x=3"),
        (add, {"a": 1}, 2),
        (weather, {"city": "Oslo"}, {"city": "Oslo", "celsius": 21.5}),
        (reading, {}, {"sensor": "s1", "value": 3}),
    ],
)
async def test_call_tool_converts_results(
    fn: Any, args: dict[str, Any], content: Any, ctx: RunContext[Any]
) -> None:
    result = await FunctionToolset([fn]).call_tool(fn.__name__, args, ctx)
    assert result == ToolResult(content=content)


async def test_tool_result_passed_through(ctx: RunContext[Any]) -> None:
    result = await FunctionToolset([annotated_result]).call_tool("annotated_result", {}, ctx)
    assert result == ToolResult(content="partial", is_error=True, metadata={"k": 1})


async def test_unconvertible_result_is_a_tool_error(ctx: RunContext[Any]) -> None:
    with pytest.raises(ToolError, match="'opaque' returned a object") as info:
        await FunctionToolset([opaque]).call_tool("opaque", {}, ctx)
    assert info.value.tool_name == "opaque"


async def test_unknown_tool_names_the_available_ones(ctx: RunContext[Any]) -> None:
    toolset = FunctionToolset([add, weather], id="misc")
    with pytest.raises(ToolNotFoundError) as info:
        await toolset.call_tool("ad", {"a": 1}, ctx)
    assert info.value.tool_name == "ad"
    assert str(info.value) == (
        "No tool named 'ad' in toolset 'misc'; the tools available are 'add', 'weather'. "
        "Call one of those names."
    )


async def test_tool_exceptions_propagate(ctx: RunContext[Any]) -> None:
    def picky(n: int) -> int:
        if n < 0:
            raise ModelRetry("n must be positive, try again")
        raise LookupError("backend down")

    toolset = FunctionToolset([picky])
    with pytest.raises(ModelRetry, match="must be positive"):
        await toolset.call_tool("picky", {"n": -1}, ctx)
    with pytest.raises(LookupError, match="backend down"):
        await toolset.call_tool("picky", {"n": 1}, ctx)


async def test_bad_arguments_through_toolset(ctx: RunContext[Any]) -> None:
    with pytest.raises(ToolArgumentsError) as info:
        await FunctionToolset([add]).call_tool("add", {"a": "x", "c": 1}, ctx)
    assert {tuple(e["loc"]) for e in info.value.errors} == {("a",), ("c",)}


def test_duplicate_names_rejected() -> None:
    def other_add(a: int) -> int:
        return a

    with pytest.raises(ConfigurationError, match=r"A tool named 'add'.*already in this toolset"):
        FunctionToolset([add, Tool(other_add, name="add")])

    toolset = FunctionToolset([add], id="math")
    with pytest.raises(ConfigurationError, match="already in toolset 'math'"):
        toolset.add(Tool(other_add, name="add"))
    with pytest.raises(ConfigurationError, match="already in toolset 'math'"):

        @toolset.tool(name="add")
        def third(a: int) -> int:
            return a

    assert toolset.tools["add"] is add


async def test_toolset_decorator_both_forms(ctx: RunContext[Any]) -> None:
    toolset = FunctionToolset()

    @toolset.tool
    def double(n: int) -> int:
        return n * 2

    @toolset.tool(name="triple", requires_approval=True)
    def times_three(n: int) -> int:
        return n * 3

    added = toolset.add(as_text)
    assert isinstance(added, Tool)
    assert added.name == "as_text"
    assert double(2) == 4
    assert times_three(2) == 6
    assert list(toolset.tools) == ["double", "triple", "as_text"]
    assert toolset.tools["triple"].definition.requires_approval
    assert (await toolset.call_tool("triple", {"n": 5}, ctx)).content == 15


async def test_toolset_is_an_async_context_manager(ctx: RunContext[Any]) -> None:
    async with FunctionToolset([add]) as toolset:
        assert (await toolset.call_tool("add", {"a": 1, "b": 2}, ctx)).content == 3
