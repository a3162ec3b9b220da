"""A workflow's steps compiled into a tree of `Node`s with stable paths, checked once at
construction (a cheap walk: names only); how a function step is called is worked out on its
first run and cached."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from covey.core.workflow.steps import (
    Condition,
    Loop,
    Parallel,
    Router,
    Step,
    StepInput,
    StepKind,
    StepLike,
    Steps,
)
from covey.spec.errors import ConfigurationError

__all__ = ["FunctionCall", "Node", "compile_steps", "is_runnable"]


def is_runnable(target: object) -> bool:
    """Whether `target` has the run API of an agent (an `Agent`, a `Team`, a `Workflow`)."""
    return callable(getattr(target, "run_stream", None)) and callable(
        getattr(target, "resume_stream", None)
    )


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """How to call a function step: what it takes, what it returns, sync or async."""

    is_async: bool
    takes: Literal["none", "step", "model", "previous"]
    model: type[BaseModel] | None
    returns: type[BaseModel] | None

    @classmethod
    def of(cls, function: Any) -> FunctionCall:
        """Read `function`'s signature and type hints."""
        is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            getattr(function, "__call__", None)  # noqa: B004 - an object with an async __call__
        )
        signature = inspect.signature(function)
        try:
            hints = typing.get_type_hints(function)
        except Exception:  # unresolvable forward references: go by the raw annotations
            hints = {}
        params = [
            p
            for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        required = [p for p in params if p.default is p.empty]
        if len(required) > 1:
            raise ConfigurationError(
                f"Step function {getattr(function, '__name__', function)!r} takes "
                f"{len(required)} arguments; a step function takes one (a StepInput, or the "
                "previous output) or none"
            )
        returns = _model(hints.get("return"))
        if not params:
            return cls(is_async=is_async, takes="none", model=None, returns=returns)
        annotation = hints.get(params[0].name, params[0].annotation)
        if isinstance(annotation, str):  # a name get_type_hints could not resolve
            annotation = StepInput if annotation.split("[")[0].endswith("StepInput") else None
        if annotation in (params[0].empty, StepInput):
            return cls(is_async=is_async, takes="step", model=None, returns=returns)
        if typing.get_origin(annotation) is StepInput:
            return cls(is_async=is_async, takes="step", model=None, returns=returns)
        model = _model(annotation)
        if model is not None:
            return cls(is_async=is_async, takes="model", model=model, returns=returns)
        return cls(is_async=is_async, takes="previous", model=None, returns=returns)


def _model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


class Node:
    """One step of the compiled tree."""

    __slots__ = ("_call", "children", "kind", "name", "segment", "source", "target")

    def __init__(
        self,
        *,
        kind: StepKind,
        name: str,
        segment: str,
        source: Any,
        children: tuple[Node, ...] = (),
        target: Any = None,
    ) -> None:
        self.kind: StepKind = kind
        self.name = name
        """The step's name (a generated one for an unnamed construct)."""
        self.segment = segment
        """This node's part of a step path."""
        self.source = source
        """The definition it was compiled from (`Step`, `Parallel`, ...)."""
        self.children = children
        self.target = target
        """A leaf's agent, team, workflow or function."""
        self._call: FunctionCall | None = None

    def call(self) -> FunctionCall:
        """How to call this function step (read on first use, cached)."""
        found = self._call
        if found is None:
            found = self._call = FunctionCall.of(self.target)
        return found

    def output_model(self) -> type[BaseModel] | None:
        """The pydantic model a leaf's output is (to revive a stored output), if any."""
        if self.kind == "function":
            return self.call().returns
        return _model(getattr(self.target, "output_type", None))


def compile_steps(workflow_name: str, steps: Sequence[StepLike]) -> tuple[Node, ...]:
    """Compile a workflow's steps; refuse duplicate step names.

    Raises:
        ConfigurationError: two steps share a name, a step has no name to go by, or an item
            is neither a step, a construct, a function nor a runnable.
    """
    seen: dict[str, str] = {}
    return _compile_list(workflow_name, steps, seen)


def _compile_list(where: str, items: Sequence[StepLike], seen: dict[str, str]) -> tuple[Node, ...]:
    nodes: list[Node] = []
    segments: set[str] = set()
    for position, item in enumerate(items, start=1):
        node = _compile(where, item, position, seen)
        if node.segment in segments:
            raise ConfigurationError(
                f"Two steps of {where!r} are called {node.segment!r}: give one another name"
            )
        segments.add(node.segment)
        nodes.append(node)
    return tuple(nodes)


def _check_name(name: str) -> None:
    if any(c in name for c in ".[]"):
        raise ConfigurationError(f"Step name {name!r} may not contain '.', '[' or ']'")


def _claim(name: str, where: str, seen: dict[str, str]) -> None:
    if name in seen:
        raise ConfigurationError(
            f"Step names must be unique in a workflow: {name!r} is used in {seen[name]!r} and "
            f"in {where!r}. Pass name=... to tell them apart (e.g. Step(agent, name='review'))."
        )
    seen[name] = where


def _construct(item: object) -> tuple[StepKind, str | None, tuple[StepLike, ...]] | None:
    if isinstance(item, Steps):
        return "steps", item.name, item.steps
    if isinstance(item, Parallel):
        return "parallel", item.name, item.steps
    if isinstance(item, Condition):
        return "condition", item.name, item.steps
    if isinstance(item, Loop):
        return "loop", item.name, item.steps
    if isinstance(item, Router):
        return "router", item.name, item.choices
    return None


def _compile(where: str, item: StepLike, position: int, seen: dict[str, str]) -> Node:
    construct = _construct(item)
    if construct is not None:
        kind, given, members = construct
        name = given or f"{kind}{position}"
        if given:
            _check_name(given)
            _claim(given, where, seen)
        children = _compile_list(name, members, seen)
        return Node(kind=kind, name=name, segment=name, source=item, children=children)
    step = item if isinstance(item, Step) else Step(item)
    target = step.target
    if is_runnable(target):
        kind: StepKind = "agent"
        default = getattr(target, "name", None)
    elif callable(target):
        kind = "function"
        default = getattr(target, "__name__", None)
        if default == "<lambda>":
            default = None
    else:
        raise ConfigurationError(
            f"A workflow step must be an agent, team, workflow, function or construct (Steps, "
            f"Parallel, Condition, Loop, Router), got {target!r} in {where!r}"
        )
    name = step.name or default
    if not name or not isinstance(name, str):
        raise ConfigurationError(
            f"Step {position} of {where!r} has no name: pass Step(..., name='...') (lambdas and "
            "unnamed agents need one)"
        )
    _check_name(name)
    _claim(name, where, seen)
    return Node(kind=kind, name=name, segment=name, source=step, target=target)
