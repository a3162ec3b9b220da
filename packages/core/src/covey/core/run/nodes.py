"""The steps `Agent.iter()` stops at, each before it runs (as pydantic-ai's graph nodes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic

from typing_extensions import TypeVar

from covey.spec import ModelRequest, ModelResponse, RunResult

__all__ = ["CallToolsNode", "End", "ModelRequestNode", "RunNode"]

OutputT = TypeVar("OutputT", default=Any)


@dataclass(frozen=True, slots=True)
class ModelRequestNode:
    """The model is about to be asked: `messages` is what this run sends (history aside)."""

    step: int
    messages: list[ModelRequest | ModelResponse]


@dataclass(frozen=True, slots=True)
class CallToolsNode:
    """The model answered with `response`; its tool calls (or output) are handled next."""

    step: int
    response: ModelResponse


@dataclass(frozen=True, slots=True)
class End(Generic[OutputT]):
    """The run ended (completed, failed, paused or cancelled) with `result`."""

    result: RunResult[OutputT]


RunNode = ModelRequestNode | CallToolsNode | End[Any]
