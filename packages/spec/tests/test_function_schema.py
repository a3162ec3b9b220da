"""JSON Schema and argument validation built from a function's signature.

A failure here means models are shown a wrong schema for a tool, or their arguments are checked
or passed wrongly: fix `covey/spec/function_schema.py`.

String annotations (what `from __future__ import annotations` produces) are written out
explicitly where a test is about them; this module itself keeps evaluated annotations.
"""

import dataclasses
import enum
import json
import textwrap
import types
from typing import Annotated, Any, Literal, Optional

import pytest
from pydantic import AfterValidator, BaseModel, Field
from typing_extensions import TypedDict

from covey.spec import function_schema as function_schema_module
from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.spec.function_schema import FunctionSchema
from covey.spec.tools import ToolArgumentsError


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Address(BaseModel):
    """A postal address."""

    street: str
    city: str = "Paris"


@dataclasses.dataclass
class Point:
    x: float
    y: float


class Movie(TypedDict):
    title: str
    year: int


def schema_of(fn: Any, **kwargs: Any) -> dict[str, Any]:
    return FunctionSchema(fn, name=fn.__name__, **kwargs).json_schema


def walk(node: Any) -> list[dict[str, Any]]:
    """Every schema object in `node` (dict values and list items, recursively)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += walk(value)
    elif isinstance(node, list):
        for item in node:
            found += walk(item)
    return found


@pytest.fixture
def ctx() -> RunContext[str]:
    return RunContext(run_id="run-1", deps="the-deps")


@pytest.fixture
def model_builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the pydantic models `function_schema` builds while the test runs."""
    built: list[str] = []
    real = function_schema_module.create_model

    def counting(name: str, /, **kwargs: Any) -> Any:
        built.append(name)
        return real(name, **kwargs)

    monkeypatch.setattr(function_schema_module, "create_model", counting)
    return built


# --- types ---------------------------------------------------------------------------------------


def test_scalars_required_and_defaults() -> None:
    def f(s: str, i: int, x: float, b: bool, n: int = 3, label: str = "a") -> None: ...

    assert schema_of(f) == {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "i": {"type": "integer"},
            "x": {"type": "number"},
            "b": {"type": "boolean"},
            "n": {"type": "integer", "default": 3},
            "label": {"type": "string", "default": "a"},
        },
        "required": ["s", "i", "x", "b"],
        "additionalProperties": False,
    }


def test_no_parameters_gives_empty_object() -> None:
    def f() -> None: ...

    schema = schema_of(f)
    assert schema["type"] == "object"
    assert schema["properties"] == {}
    assert "required" not in schema


def test_optional_and_unions() -> None:
    def f(a: Optional[int], b: int | str, c: str | None = None) -> None: ...  # noqa: UP045

    props = schema_of(f)["properties"]
    assert props["a"] == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
    assert props["b"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert props["c"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    assert schema_of(f)["required"] == ["a", "b"]


def test_literal_and_enum(ctx: RunContext[str]) -> None:
    def f(mode: Literal["fast", "slow"], color: Color = Color.RED) -> None: ...

    schema = schema_of(f)
    assert schema["properties"]["mode"] == {"enum": ["fast", "slow"], "type": "string"}
    assert schema["properties"]["color"] == {"$ref": "#/$defs/Color", "default": "red"}
    assert schema["$defs"]["Color"] == {"enum": ["red", "green"], "type": "string"}
    values = FunctionSchema(f, name="f").validate({"mode": "fast", "color": "green"})
    assert values == {"mode": "fast", "color": Color.GREEN}


def test_containers() -> None:
    def f(tags: list[str], scores: dict[str, float], pair: tuple[int, str]) -> None: ...

    props = schema_of(f)["properties"]
    assert props["tags"] == {"type": "array", "items": {"type": "string"}}
    assert props["scores"] == {"type": "object", "additionalProperties": {"type": "number"}}
    assert props["pair"] == {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "minItems": 2,
        "maxItems": 2,
    }
    values = FunctionSchema(f, name="f").validate(
        {"tags": ["a"], "scores": {"x": 1}, "pair": [1, "b"]}
    )
    assert values == {"tags": ["a"], "scores": {"x": 1.0}, "pair": (1, "b")}


def test_nested_model_dataclass_and_typeddict() -> None:
    def f(address: Address, point: Point, movie: Movie) -> None: ...

    schema = schema_of(f)
    assert schema["properties"] == {
        "address": {"$ref": "#/$defs/Address"},
        "point": {"$ref": "#/$defs/Point"},
        "movie": {"$ref": "#/$defs/Movie"},
    }
    assert schema["$defs"]["Address"] == {
        "description": "A postal address.",
        "type": "object",
        "properties": {
            "street": {"type": "string"},
            "city": {"type": "string", "default": "Paris"},
        },
        "required": ["street"],
    }
    assert schema["$defs"]["Point"]["properties"] == {
        "x": {"type": "number"},
        "y": {"type": "number"},
    }
    assert schema["$defs"]["Movie"]["required"] == ["title", "year"]

    values = FunctionSchema(f, name="f").validate(
        {
            "address": {"street": "1 rue X"},
            "point": {"x": 1, "y": "2.5"},
            "movie": {"title": "Alien", "year": "1979"},
        }
    )
    assert values == {
        "address": Address(street="1 rue X", city="Paris"),
        "point": Point(x=1.0, y=2.5),
        "movie": {"title": "Alien", "year": 1979},
    }
    assert isinstance(values["address"], Address)
    assert isinstance(values["point"], Point)


def test_no_generated_titles_anywhere() -> None:
    def f(address: Address, point: Point, color: Color, items: list[Movie]) -> None: ...

    for node in walk(schema_of(f)):
        assert not isinstance(node.get("title"), str), node  # a generated title is a string
    # What is left is the TypedDict's property of that name, and its `required` entry.
    movie = schema_of(f)["$defs"]["Movie"]
    assert movie["properties"]["title"] == {"type": "string"}
    assert json.dumps(schema_of(f)).count('"title"') == 2


def test_property_named_title_and_defaults_holding_title_are_kept() -> None:
    def f(title: str, meta: dict[str, str] = {"title": "x"}) -> None:  # noqa: B006
        ...

    schema = schema_of(f)
    assert schema["properties"]["title"] == {"type": "string"}
    assert schema["properties"]["meta"]["default"] == {"title": "x"}


def test_parameters_named_like_pydantic_attributes() -> None:
    def f(json: str, schema: int, model_config: bool, _private: float = 1.0) -> None: ...

    fs = FunctionSchema(f, name="f")
    assert list(fs.json_schema["properties"]) == ["json", "schema", "model_config", "_private"]
    values = fs.validate({"json": "j", "schema": 1, "model_config": True, "_private": 2})
    assert values == {"json": "j", "schema": 1, "model_config": True, "_private": 2.0}


def test_annotated_field_constraints_and_description() -> None:
    def f(count: Annotated[int, Field(description="How many.", ge=1, le=10)]) -> None:
        """Count.

        Args:
            count: The docstring's words, which the explicit description beats.
        """

    assert schema_of(f)["properties"]["count"] == {
        "type": "integer",
        "description": "How many.",
        "minimum": 1,
        "maximum": 10,
    }
    with pytest.raises(ToolArgumentsError):
        FunctionSchema(f, name="f").validate({"count": 11})


def test_field_as_default_value() -> None:
    def f(limit: int = Field(5, description="At most this many.")) -> int:
        return limit

    fs = FunctionSchema(f, name="f")
    assert fs.json_schema["properties"]["limit"] == {
        "type": "integer",
        "default": 5,
        "description": "At most this many.",
    }
    # The real default reaches the function, not the `FieldInfo` object.
    assert fs.validate({}) == {"limit": 5}


def test_non_json_default_stays_out_of_schema_and_reaches_function(
    ctx: RunContext[str],
) -> None:
    sentinel = object()

    def f(value: Any = sentinel) -> Any:
        return value

    fs = FunctionSchema(f, name="f")
    assert fs.json_schema["properties"] == {"value": {}}
    assert "required" not in fs.json_schema
    args, kwargs = fs.bind({}, ctx)
    assert f(*args, **kwargs) is sentinel


# --- docstrings ----------------------------------------------------------------------------------


def google(city: str, days: int = 1) -> None:
    """Get the forecast.

    Args:
        city: The city name.
        days: Days ahead.
    """


def numpy(city: str, days: int = 1) -> None:
    """Get the forecast.

    Parameters
    ----------
    city : str
        The city name.
    days : int
        Days ahead.
    """


def sphinx(city: str, days: int = 1) -> None:
    """Get the forecast.

    :param city: The city name.
    :param days: Days ahead.
    """


@pytest.mark.parametrize("fn", [google, numpy, sphinx])
def test_docstring_descriptions_in_schema(fn: Any) -> None:
    fs = FunctionSchema(fn, name=fn.__name__)
    assert fs.description == "Get the forecast."
    assert fs.json_schema["properties"] == {
        "city": {"type": "string", "description": "The city name."},
        "days": {"type": "integer", "default": 1, "description": "Days ahead."},
    }


# --- the run context -----------------------------------------------------------------------------


def ctx_first(ctx: RunContext[str], city: str) -> str:
    return f"{ctx.deps}:{city}"


def ctx_middle(city: str, context: RunContext, days: int = 1) -> str:
    return f"{context.deps}:{city}:{days}"


def ctx_keyword_only(city: str, *, run: RunContext[str]) -> str:
    return f"{run.deps}:{city}"


def ctx_strings(ctx: "RunContext[str]", city: "str", days: "int" = 2) -> str:
    return f"{ctx.deps}:{city}:{days}"


def ctx_unresolvable(city: str, ctx: "RunContext[DepsOnlyForTypeCheckers]") -> str:  # noqa: F821
    return f"{ctx.deps}:{city}"


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (ctx_first, "the-deps:Oslo"),
        (ctx_middle, "the-deps:Oslo:1"),
        (ctx_keyword_only, "the-deps:Oslo"),
        (ctx_strings, "the-deps:Oslo:2"),
        (ctx_unresolvable, "the-deps:Oslo"),
    ],
)
def test_run_context_is_injected_and_hidden(fn: Any, expected: str, ctx: RunContext[str]) -> None:
    fs = FunctionSchema(fn, name=fn.__name__)
    assert fs.takes_ctx
    assert "city" in fs.json_schema["properties"]
    assert all(isinstance(p, dict) for p in fs.json_schema["properties"].values())
    assert not {"ctx", "context", "run"} & set(fs.json_schema["properties"])
    assert "RunContext" not in json.dumps(fs.json_schema)
    args, kwargs = fs.bind({"city": "Oslo"}, ctx)
    assert fn(*args, **kwargs) == expected


def test_model_cannot_supply_the_context(ctx: RunContext[str]) -> None:
    fs = FunctionSchema(ctx_first, name="ctx_first")
    with pytest.raises(ToolArgumentsError) as info:
        fs.bind({"city": "Oslo", "ctx": {"run_id": "forged"}}, ctx)
    assert [e["loc"] for e in info.value.errors] == [["ctx"]]


def test_function_without_context() -> None:
    assert not FunctionSchema(google, name="google").takes_ctx


def test_future_annotations_module(ctx: RunContext[str]) -> None:
    source = textwrap.dedent(
        """
        from __future__ import annotations

        from covey.spec.context import RunContext

        def lookup(query: str, ctx: RunContext[str], limit: Limit = 3) -> str:
            return f"{ctx.deps}:{query}:{limit}"

        Limit = int  # defined after the function: only resolvable lazily
        """
    )
    module = types.ModuleType("future_tools")
    exec(compile(source, "future_tools.py", "exec"), module.__dict__)
    lookup = module.__dict__["lookup"]
    assert isinstance(lookup.__annotations__["ctx"], str)

    fs = FunctionSchema(lookup, name="lookup")
    assert fs.json_schema["properties"] == {
        "query": {"type": "string"},
        "limit": {"type": "integer", "default": 3},
    }
    args, kwargs = fs.bind({"query": "q", "limit": "4"}, ctx)
    assert lookup(*args, **kwargs) == "the-deps:q:4"


def test_positional_only_parameters(ctx: RunContext[str]) -> None:
    def f(ctx: RunContext[str], a: int = 1, b: int = 2, /, c: int = 3) -> tuple[int, int, int]:
        return a, b, c

    fs = FunctionSchema(f, name="f")
    args, kwargs = fs.bind({"b": 20, "c": 30}, ctx)
    assert args == (ctx, 1, 20)
    assert kwargs == {"c": 30}
    assert f(*args, **kwargs) == (1, 20, 30)


# --- validation ----------------------------------------------------------------------------------


def must_be_even(value: int) -> int:
    if value % 2:
        raise ValueError("must be even")
    return value


def typed(
    name: str, count: int, address: Address, even: Annotated[int, AfterValidator(must_be_even)] = 0
) -> None: ...


def test_validation_errors_have_locations_and_are_json_safe() -> None:
    fs = FunctionSchema(typed, name="typed")
    with pytest.raises(ToolArgumentsError) as info:
        fs.validate(
            {"count": "many", "address": {"city": 3}, "even": 3, "unexpected": True},
        )
    error = info.value
    assert error.tool_name == "typed"
    locations = {tuple(e["loc"]): e["type"] for e in error.errors}
    assert locations == {
        ("name",): "missing",
        ("count",): "int_parsing",
        ("address", "street"): "missing",
        ("address", "city"): "string_type",
        ("even",): "value_error",
        ("unexpected",): "extra_forbidden",
    }
    json.dumps(error.errors)  # the ValueError in the error context was made JSON-safe
    assert all("url" not in e for e in error.errors)
    assert "address.street: Field required" in str(error)


@pytest.mark.parametrize("bad", [None, ["a"], "name=x"])
def test_non_object_arguments_are_an_arguments_error(bad: Any) -> None:
    with pytest.raises(ToolArgumentsError) as info:
        FunctionSchema(typed, name="typed").validate(bad)
    assert info.value.errors[0]["type"] == "model_type"


def test_only_given_arguments_are_returned() -> None:
    def f(a: int, b: list[int] = [], c: str = "x") -> None:  # noqa: B006
        ...

    fs = FunctionSchema(f, name="f")
    assert fs.validate({"a": "1"}) == {"a": 1}
    assert fs.validate({"a": 1, "c": "y"}) == {"a": 1, "c": "y"}


# --- configuration errors ------------------------------------------------------------------------


def test_star_args_are_rejected() -> None:
    def f(a: int, *rest: int) -> None: ...

    def g(a: int, **options: Any) -> None: ...

    with pytest.raises(ConfigurationError, match=r"'f' takes \*rest"):
        FunctionSchema(f, name="f")
    with pytest.raises(ConfigurationError, match=r"'g' takes \*\*options"):
        FunctionSchema(g, name="g")


def test_unresolvable_hint_names_the_parameter() -> None:
    def f(a: "NoSuchType") -> None: ...  # noqa: F821

    fs = FunctionSchema(f, name="f")  # nothing is resolved yet
    with pytest.raises(ConfigurationError, match=r"'NoSuchType' of parameter 'a' of tool 'f'"):
        _ = fs.json_schema


def test_type_without_schema_names_the_parameter() -> None:
    class Opaque:
        pass

    def f(ok: int, thing: Opaque) -> None: ...

    fs = FunctionSchema(f, name="f")
    with pytest.raises(ConfigurationError, match=r"parameter 'thing' has type"):
        _ = fs.json_schema


def test_omitted_parameters_are_validated_but_not_shown() -> None:
    def f(path: str, reason: str, force: bool = False) -> None: ...

    fs = FunctionSchema(f, name="f", omit=["reason"])
    assert list(fs.json_schema["properties"]) == ["path", "force"]
    assert fs.json_schema["required"] == ["path"]
    assert fs.validate({"path": "p", "reason": "r"}) == {"path": "p", "reason": "r"}
    with pytest.raises(ToolArgumentsError):
        fs.validate({"path": "p"})


def test_omitting_an_unknown_parameter_is_an_error() -> None:
    fs = FunctionSchema(ctx_first, name="ctx_first", omit=["ctx", "nope"])
    with pytest.raises(ConfigurationError, match=r"'ctx', 'nope'.*parameters are 'city'"):
        _ = fs.json_schema


# --- laziness and caching ------------------------------------------------------------------------


def uses_later(item: "DefinedLater") -> str:
    return item.label


EARLY = FunctionSchema(uses_later, name="uses_later")  # before `DefinedLater` exists


class DefinedLater(BaseModel):
    label: str


def test_schema_built_on_first_use_so_later_types_resolve() -> None:
    assert EARLY.json_schema["properties"] == {"item": {"$ref": "#/$defs/DefinedLater"}}


def test_nothing_built_at_construction(model_builds: list[str]) -> None:
    fs = FunctionSchema(typed, name="typed")
    assert model_builds == []
    assert fs._analysis is None
    assert fs._built is None


def test_schema_and_validator_built_once(model_builds: list[str], ctx: RunContext[str]) -> None:
    fs = FunctionSchema(ctx_first, name="ctx_first")
    first = fs.json_schema
    assert fs.json_schema is first
    for city in ("a", "b", "c"):
        fs.bind({"city": city}, ctx)
    with pytest.raises(ToolArgumentsError):
        fs.validate({})
    assert model_builds == ["ctx_firstArguments"]
