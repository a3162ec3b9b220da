"""The JSON Schema of a Python function's parameters, and the validator for a model's arguments.

Built from type hints and the docstring with pydantic, once, on first use: decorating a function
only inspects its signature, so tools may refer to types defined later in their module.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
import threading
import types
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, cast, get_args, get_origin, get_type_hints

import pydantic_core
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PydanticUndefinedAnnotation,
    PydanticUserError,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pydantic.fields import FieldInfo

from covey.spec.context import RunContext
from covey.spec.docstrings import parse_docstring
from covey.spec.errors import ConfigurationError
from covey.spec.tools import ToolArgumentsError

__all__ = ["FunctionSchema"]

_EMPTY = inspect.Parameter.empty
# What a string annotation naming the run context looks like when it cannot be evaluated
# (e.g. imported under `if TYPE_CHECKING:`).
_CONTEXT_STRING = re.compile(r"(?:[A-Za-z_][\w.]*\.)?RunContext(?:\[.*\])?")
# Keys whose value maps names to sub-schemas, or is one sub-schema, or a list of them.
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_SCHEMA_ONE = (
    "items",
    "additionalProperties",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
)
_SCHEMA_LIST = ("anyOf", "oneOf", "allOf", "prefixItems")


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    positional_only: bool
    annotation: Any
    default: Any
    is_context: bool
    description: str | None


@dataclass(frozen=True, slots=True)
class _Analysis:
    params: tuple[_Param, ...]
    description: str


@dataclass(frozen=True, slots=True)
class _Built:
    validator: type[BaseModel]
    param_names: dict[str, str]
    """Model field name -> parameter name."""
    always: frozenset[str]
    """Fields passed even when the model left them out: their default is a pydantic `Field`."""
    json_schema: dict[str, Any]


class FunctionSchema:
    """The arguments a model must give to call `function`, and how to check them.

    A parameter annotated as `RunContext` (any parametrisation, in any position) is filled by the
    framework and never shown to the model. Nothing is computed until first used; everything is
    computed once and cached, safely across threads.

    Args:
        function: The function to describe. `*args` and `**kwargs` are not allowed.
        name: The tool's name, used in error messages.
        omit: Parameters left out of `json_schema` (a human supplies them); they are still
            validated by `validate`.

    Raises:
        ConfigurationError: `function` has no inspectable signature, or takes `*args`/`**kwargs`.
    """

    __slots__ = ("_analysis", "_built", "_function", "_lock", "_name", "_omit", "_signature")

    def __init__(
        self, function: Callable[..., Any], *, name: str, omit: Collection[str] = ()
    ) -> None:
        self._function = function
        self._name = name
        self._omit = frozenset(omit)
        self._signature = _signature(function, name)
        self._lock = threading.Lock()
        self._analysis: _Analysis | None = None
        self._built: _Built | None = None

    @property
    def function(self) -> Callable[..., Any]:
        """The function described."""
        return self._function

    @property
    def description(self) -> str:
        """The docstring's description (its text before any parameter or returns section)."""
        return self._analyse().description

    @property
    def takes_ctx(self) -> bool:
        """Whether the function has a `RunContext` parameter."""
        return any(p.is_context for p in self._analyse().params)

    @property
    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema (an object) of the arguments the model gives. Cached: do not mutate."""
        return self._build().json_schema

    def validate(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Check a model's arguments against the parameters' types.

        Args:
            args: The arguments, by parameter name, as the model gave them.

        Returns:
            The validated values by parameter name (coerced, e.g. nested models instantiated).
            Parameters the model left out are absent, so the function's own defaults apply.

        Raises:
            ToolArgumentsError: an argument is missing, unknown or of the wrong type; `errors`
                lists each problem with its location.
        """
        built = self._build()
        try:
            validated = built.validator.model_validate(args)
        except ValidationError as e:
            errors = pydantic_core.to_jsonable_python(e.errors(include_url=False), fallback=str)
            raise ToolArgumentsError(self._name, errors) from e
        given = validated.model_fields_set | built.always
        return {built.param_names[f]: getattr(validated, f) for f in given}

    def bind(
        self, args: Mapping[str, Any], ctx: RunContext[Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Validate `args` and turn them into the positional and keyword arguments of a call.

        Args:
            args: The model's arguments, by parameter name.
            ctx: The run context, passed to every `RunContext` parameter.

        Returns:
            `(positional, keyword)`, ready for `function(*positional, **keyword)`.

        Raises:
            ToolArgumentsError: the arguments do not validate.
        """
        values = self.validate(args)
        positional: list[Any] = []
        keyword: dict[str, Any] = {}
        for param in self._analyse().params:
            if param.is_context:
                value = ctx
            elif param.name in values:
                value = values[param.name]
            elif param.positional_only:
                # A later positional-only argument may be given: fill this one's default.
                value = param.default
            else:
                continue
            if param.positional_only:
                positional.append(value)
            else:
                keyword[param.name] = value
        return tuple(positional), keyword

    def _analyse(self) -> _Analysis:
        if self._analysis is None:
            with self._lock:
                if self._analysis is None:
                    self._analysis = _analyse(
                        self._function, self._signature, self._name, self._omit
                    )
        return self._analysis

    def _build(self) -> _Built:
        if self._built is None:
            analysis = self._analyse()
            with self._lock:
                if self._built is None:
                    self._built = _build(analysis, self._name, self._omit)
        return self._built


def _signature(function: Callable[..., Any], name: str) -> inspect.Signature:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as e:
        raise ConfigurationError(
            f"Cannot read the signature of tool {name!r} ({e}). "
            "Wrap it in a plain `def` function with typed parameters."
        ) from e
    for param in signature.parameters.values():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            star = "*" if param.kind is inspect.Parameter.VAR_POSITIONAL else "**"
            raise ConfigurationError(
                f"Tool {name!r} takes {star}{param.name}, but a tool's parameters must be named "
                "so the model can be shown their types. Replace it with named, typed parameters "
                "(or a single parameter typed as a pydantic model or dict)."
            )
    return signature


def _globals_of(function: Callable[..., Any]) -> dict[str, Any]:
    target: Any = inspect.unwrap(function)
    if isinstance(target, functools.partial):
        target = inspect.unwrap(target.func)
    namespace = getattr(target, "__globals__", None)
    if namespace is None:  # a callable object: the module its class was defined in
        module = sys.modules.get(getattr(target, "__module__", "") or "")
        namespace = vars(module) if module is not None else {}
    return namespace


def _is_context(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    origin = get_origin(annotation) or annotation
    return isinstance(origin, type) and issubclass(origin, RunContext)


def _resolve(annotation: Any, namespace: dict[str, Any], tool: str, param: str) -> tuple[Any, bool]:
    """The evaluated annotation of one parameter, and whether it is the run context."""
    if annotation is _EMPTY:
        return Any, False
    try:
        # One parameter at a time, so an unresolvable hint elsewhere cannot hide the context.
        holder = types.SimpleNamespace(__annotations__={param: annotation})
        resolved = get_type_hints(holder, globalns=namespace, include_extras=True)[param]
    except Exception as e:
        if isinstance(annotation, str) and _CONTEXT_STRING.fullmatch(annotation.strip()):
            return Any, True
        raise ConfigurationError(
            f"Cannot resolve the type hint {annotation!r} of parameter {param!r} of tool "
            f"{tool!r}: {e}. Define or import the type at module level (not only under "
            "`if TYPE_CHECKING:`, and not inside a function)."
        ) from e
    return resolved, _is_context(resolved)


def _analyse(
    function: Callable[..., Any], signature: inspect.Signature, name: str, omit: frozenset[str]
) -> _Analysis:
    namespace = _globals_of(function)
    docstring = parse_docstring(inspect.getdoc(function))
    params: list[_Param] = []
    for p in signature.parameters.values():
        annotation, is_context = _resolve(p.annotation, namespace, name, p.name)
        params.append(
            _Param(
                name=p.name,
                positional_only=p.kind is inspect.Parameter.POSITIONAL_ONLY,
                annotation=annotation,
                default=p.default,
                is_context=is_context,
                description=docstring.params.get(p.name),
            )
        )
    model_params = {p.name for p in params if not p.is_context}
    if unknown := sorted(omit - model_params):
        raise ConfigurationError(
            f"Tool {name!r} lists {', '.join(map(repr, unknown))} as human-supplied input fields, "
            f"but its parameters are {', '.join(map(repr, sorted(model_params))) or 'none'}. "
            "Name parameters of the function (not its RunContext)."
        )
    return _Analysis(params=tuple(params), description=docstring.description)


def _is_json_default(value: Any) -> bool:
    try:
        pydantic_core.to_json(value)
    except (pydantic_core.PydanticSerializationError, ValueError, TypeError):
        return False
    return True


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _field(param: _Param, field_name: str) -> tuple[Any, FieldInfo]:
    # Fields get neutral names and the parameter name as alias, so parameters such as `json`,
    # `schema` or `_private` cannot clash with pydantic's own attributes.
    annotation = param.annotation
    if isinstance(param.default, FieldInfo):
        return Annotated[annotation, param.default], Field(alias=param.name)
    if param.default is _EMPTY:
        return annotation, Field(alias=param.name)
    if _is_json_default(param.default):
        return annotation, Field(default=param.default, alias=param.name)
    # Not JSON-able (a sentinel, say): keep it out of the schema; the function applies it.
    return annotation, Field(default_factory=_constant(param.default), alias=param.name)


def _model(name: str, fields: dict[str, tuple[Any, FieldInfo]]) -> type[BaseModel]:
    model_name = re.sub(r"\W", "_", name) + "Arguments"
    definitions: dict[str, Any] = fields  # `create_model` types its field kwargs loosely
    return create_model(model_name, __config__=ConfigDict(extra="forbid"), **definitions)


def _build(analysis: _Analysis, name: str, omit: frozenset[str]) -> _Built:
    params = {f"p{i}": p for i, p in enumerate(analysis.params) if not p.is_context}
    fields = {f: _field(p, f) for f, p in params.items()}
    try:
        validator = _model(name, fields)
        shown = {f: spec for f, spec in fields.items() if params[f].name not in omit}
        schema_model = validator if len(shown) == len(fields) else _model(name, shown)
        json_schema = schema_model.model_json_schema()
    except (PydanticUserError, PydanticUndefinedAnnotation, TypeError) as e:
        raise _schema_error(name, params.values(), e) from e
    _strip_titles(json_schema)
    properties: dict[str, Any] = json_schema.setdefault("properties", {})
    for param in params.values():
        prop = properties.get(param.name)
        if param.description and isinstance(prop, dict) and "description" not in prop:
            prop["description"] = param.description
    return _Built(
        validator=validator,
        param_names={f: p.name for f, p in params.items()},
        always=frozenset(f for f, p in params.items() if isinstance(p.default, FieldInfo)),
        json_schema=json_schema,
    )


def _schema_error(name: str, params: Collection[_Param], error: Exception) -> ConfigurationError:
    """Name the parameter pydantic could not handle, when one alone is the cause."""
    reason = str(error).split("\n", 1)[0]
    for param in params:
        try:
            TypeAdapter(param.annotation).json_schema()
        except Exception as e:
            reason = str(e).split("\n", 1)[0]
            return ConfigurationError(
                f"Tool {name!r}: parameter {param.name!r} has type {param.annotation!r}, for "
                f"which no JSON Schema can be built ({reason}). Use JSON-like types (str, int, "
                "float, bool, lists, dicts, Literal, Enum), pydantic models, dataclasses or "
                "TypedDicts, or annotate it as RunContext to have the run context passed in."
            )
    return ConfigurationError(
        f"Cannot build the argument schema of tool {name!r}: {reason}. Check its parameters' "
        "type hints."
    )


def _strip_titles(schema: object) -> None:
    """Drop the `title`s pydantic adds, walking only sub-schemas (never `default` or `enum`)."""
    if not isinstance(schema, dict):
        return
    node = cast("dict[str, Any]", schema)
    if isinstance(node.get("title"), str):
        del node["title"]
    for key in _SCHEMA_MAPS:
        children = node.get(key)
        if isinstance(children, dict):
            for child in cast("dict[str, Any]", children).values():
                _strip_titles(child)
    for key in _SCHEMA_ONE:
        _strip_titles(node.get(key))
    for key in _SCHEMA_LIST:
        children = node.get(key)
        if isinstance(children, list):
            for child in cast("list[Any]", children):
                _strip_titles(child)
