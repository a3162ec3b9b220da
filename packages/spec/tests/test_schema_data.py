"""`generate_json_data`: one generator of schema-valid, deterministic test data.

Every value is checked twice: by a JSON Schema validator against the schema itself, and (for
schemas pydantic wrote) by the pydantic type the schema came from, which is what the run loop
does with a model's tool arguments.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import ipaddress
import json
import os
import subprocess
import sys
import uuid
from typing import Annotated, Any, Literal

import jsonschema_rs
import pydantic
import pytest
from pydantic import BaseModel, Field, TypeAdapter

from covey.spec.errors import ConfigurationError
from covey.spec.schema_data import generate_arguments, generate_json_data


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


TYPES: dict[str, Any] = {
    "str": str,
    "str_lengths": Annotated[str, Field(min_length=10, max_length=12)],
    "str_max_2": Annotated[str, Field(max_length=2)],
    "str_pattern": Annotated[str, Field(pattern=r"^[A-Z]{2}-\d{3}$")],
    "str_pattern_alternation": Annotated[str, Field(pattern=r"^(foo|bar)+_[a-f0-9]{8}$")],
    "str_pattern_min_length": Annotated[str, Field(pattern=r"^[a-z]+$", min_length=12)],
    "str_pattern_negated_class": Annotated[str, Field(pattern=r"^[^a-z0-9]{3}$")],
    "str_pattern_unanchored": Annotated[str, Field(pattern=r"\d{3}")],
    "set_of_patterned_str": Annotated[
        frozenset[Annotated[str, Field(pattern=r"^[a-c]{2}$")]], Field(min_length=3)
    ],
    "int": int,
    "positive_int": pydantic.PositiveInt,
    "negative_int": pydantic.NegativeInt,
    "int_open_range": Annotated[int, Field(gt=10, lt=12)],
    "int_multiple_of": Annotated[int, Field(multiple_of=7, ge=20)],
    "int_below": Annotated[int, Field(le=-100)],
    "float": float,
    "float_open_unit": Annotated[float, Field(gt=0, lt=1)],
    "float_multiple_of": Annotated[float, Field(multiple_of=0.25, gt=2)],
    "float_tiny_range": Annotated[float, Field(ge=0.1, le=0.2)],
    "bool": bool,
    "none": None,
    "optional_int": int | None,
    "literal_str": Literal["a", "b"],
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
    "uuid4": pydantic.UUID4,
    "decimal": decimal.Decimal,
    "list_min_3": Annotated[list[str], Field(min_length=3)],
    "set_small_int_range_full": Annotated[
        set[Annotated[int, Field(ge=0, le=2)]], Field(min_length=3)
    ],
    "tuple_fixed": tuple[int, str, bool],
    "dict_str_int": dict[str, int],
    "dict_literal_keys": dict[Literal["x", "y"], float],
    "any": Any,
    "recursive_model": Node,
    "nested_model": Person,
    "json_string": pydantic.Json[list[int]],
    "http_url": pydantic.HttpUrl,
    "ipv4": ipaddress.IPv4Address,
    "ipv6": ipaddress.IPv6Address,
}


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("name", sorted(TYPES))
def test_data_validates_against_the_schema_and_its_source_type(name: str, seed: int) -> None:
    """Fix: the value breaks a keyword of the schema (bound, format, pattern, ...); see which."""
    adapter: TypeAdapter[Any] = TypeAdapter(TYPES[name])
    schema = adapter.json_schema()
    data = generate_json_data(schema, seed=seed)
    assert jsonschema_rs.validator_for(schema).is_valid(data), (schema, data)
    adapter.validate_json(json.dumps(data))


HAND_WRITTEN: dict[str, dict[str, Any]] = {
    "one_of": {"oneOf": [{"type": "integer", "minimum": 10}, {"type": "string"}]},
    "any_of_with_null_first": {"anyOf": [{"type": "null"}, {"type": "string", "minLength": 4}]},
    "ref_into_defs": {
        "type": "object",
        "properties": {"point": {"$ref": "#/$defs/Point"}},
        "required": ["point"],
        "$defs": {
            "Point": {
                "type": "object",
                "properties": {"x": {"type": "number", "maximum": -3}, "y": {"type": "number"}},
                "required": ["x", "y"],
            }
        },
    },
    "draft7_tuple_items": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "array",
        "items": [{"type": "integer"}, {"type": "string"}],
    },
    "nested_arrays": {
        "type": "array",
        "minItems": 2,
        "maxItems": 2,
        "items": {"type": "array", "items": {"enum": ["x", "y"]}, "minItems": 1},
    },
    "pattern_properties": {
        "type": "object",
        "patternProperties": {"^k[0-9]$": {"type": "boolean"}},
        "additionalProperties": False,
        "minProperties": 1,
    },
    "formats": {
        "type": "object",
        "properties": {
            f: {"type": "string", "format": f}
            for f in ("date", "date-time", "time", "email", "uri", "uuid", "ipv4", "ipv6")
        },
    },
    "exclusive_bounds": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.5},
    "type_list": {"type": ["null", "boolean"]},
    "const": {"const": {"fixed": [1, 2]}},
}


@pytest.mark.parametrize("seed", [0, 3])
@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_hand_written_schemas_get_valid_data(name: str, seed: int) -> None:
    schema = HAND_WRITTEN[name]
    data = generate_json_data(schema, seed=seed)
    validator = jsonschema_rs.validator_for(schema, validate_formats=True)
    assert validator.is_valid(data), (schema, data)


def test_optional_properties_are_filled_in_and_arrays_respect_their_bounds() -> None:
    data = generate_json_data(TypeAdapter(Person).json_schema())
    assert set(data) == {"name", "age", "email", "address", "tags", "nickname"}
    assert 2 <= len(data["tags"]) <= 4


def test_a_recursive_schema_gives_finite_data() -> None:
    data = generate_json_data(TypeAdapter(Node).json_schema())
    depth, node = 0, data
    while node.get("children"):
        node = node["children"][0]
        depth += 1
    assert 1 <= depth < 10


def test_seeds_vary_the_data_and_the_same_seed_repeats_it() -> None:
    schema = TypeAdapter(Person).json_schema()
    assert generate_json_data(schema, seed=0) != generate_json_data(schema, seed=1)
    assert generate_json_data(schema, seed=3) == generate_json_data(schema, seed=3)
    pattern = {"type": "string", "pattern": r"^[a-z]{6}$"}
    assert len({generate_json_data(pattern, seed=s) for s in range(4)}) == 4


PROBE = """
import json, sys
import covey.spec, covey.spec.schema_data
assert "hypothesis" not in sys.modules, "imported at import time"
from covey.spec.schema_data import generate_json_data
schema = {"type": "object", "properties": {
    "code": {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{3}$"},
    "tags": {"type": "array", "items": {"type": "string", "pattern": "^#[a-z]{3,8}$"},
             "minItems": 3, "uniqueItems": True}}}
print(json.dumps([generate_json_data(schema, seed=s) for s in (0, 1, 5)]))
print("hypothesis" in sys.modules)
"""


def run_probe(hash_seed: str, code: str = PROBE) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )


def test_the_same_data_in_every_process_and_hypothesis_only_on_first_use() -> None:
    """TestModel's arguments must not change between runs; `import covey.spec` stays light."""
    first, second = run_probe("1"), run_probe("2")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    values, imported = first.stdout.splitlines()
    assert imported == "True"
    for value in json.loads(values):
        assert len(set(value["tags"])) == len(value["tags"]) >= 3


def test_a_pattern_without_hypothesis_installed_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['hypothesis'] = None\n"
        "from covey.spec.schema_data import generate_json_data\n"
        "assert generate_json_data({'type': 'integer', 'minimum': 4}) == 4\n"
        "generate_json_data({'type': 'string', 'pattern': 'a+'})\n"
    )
    result = run_probe("0", code)
    assert result.returncode == 1
    assert "ConfigurationError" in result.stderr
    assert "covey-spec[testing]" in result.stderr


def test_tool_arguments_are_an_object_or_nothing() -> None:
    assert generate_arguments({"type": "object", "properties": {}}) == {}
    assert generate_arguments({"type": "string"}) == {}
    args = generate_arguments(
        {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}, seed=2
    )
    assert isinstance(args["n"], int)
    with pytest.raises(ConfigurationError):
        generate_json_data({"$ref": "https://example.com/schema.json"})
