"""The chat-model interface: settings, capability profile, request parameters and stream events.

Adapters (`covey-models-*`) implement `ChatModel`. They translate messages to the provider's wire
format and back; they never run tools.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from covey.spec.messages import (
    ModelRequest,
    ModelResponse,
    ModelResponsePart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
)
from covey.spec.tools import ToolDefinition

__all__ = [
    "ChatModel",
    "FinalResponseEvent",
    "ModelMessages",
    "ModelProfile",
    "ModelRequestParams",
    "ModelSettings",
    "ModelStreamEvent",
    "OutputMode",
    "OutputSchema",
    "PartDeltaEvent",
    "PartEndEvent",
    "PartStartEvent",
    "TextPartDelta",
    "ThinkingPartDelta",
    "ToolCallPartDelta",
    "ToolChoice",
]

ModelMessages = Sequence[ModelRequest | ModelResponse]
OutputMode = Literal["text", "native", "tool", "prompted"]
"""How structured output is obtained: plain text, the provider's JSON-schema mode, a tool the model
must call, or a schema in the prompt with JSON parsed from the text."""

ToolChoice = Literal["auto", "none", "required"] | str
"""`auto`, `none`, `required`, or the name of one tool the model must call."""


class ModelSettings(BaseModel):
    """Sampling and transport settings. Unknown names are an error, so typos never pass silently.

    Agent-level settings are merged with run-level ones (`merge`): values set later win.
    """

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    max_tokens: int | None = Field(default=None, gt=0)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, ge=0, le=1)
    top_k: int | None = Field(default=None, gt=0)
    """Sample from the k most likely tokens (Anthropic, Gemini, Ollama; ignored elsewhere)."""
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    parallel_tool_calls: bool | None = None
    timeout: float | None = Field(default=None, gt=0)
    """Seconds for one request, end to end."""
    thinking_budget: int | None = Field(default=None, ge=0)
    """Tokens the model may spend reasoning (Anthropic, Gemini); 0 turns thinking off."""
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    """Reasoning effort (OpenAI reasoning models, Anthropic effort, Gemini levels or budgets).

    Adapters send the value as is where the provider's API has it and map it to the nearest
    value it has otherwise (Anthropic has no `none` or `minimal`: both are `low`)."""
    prompt_cache: bool | None = None
    """Mark the stable prefix (system prompt, tools) cacheable where the provider needs it."""
    extra_headers: dict[str, str] | None = None
    extra_body: dict[str, Any] | None = None

    def merge(self, other: ModelSettings | None) -> ModelSettings:
        """These settings overridden by every field explicitly set in `other`."""
        if other is None:
            return self
        return self.model_copy(update=other.model_dump(exclude_unset=True))


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelProfile:
    """What a model can do; the run loop picks strategies from it, adapters declare it."""

    supports_tools: bool = True
    supports_parallel_tool_calls: bool = True
    supports_tool_choice_required: bool = True
    supports_json_schema_output: bool = False
    supports_json_object_output: bool = False
    supports_images: bool = False
    supports_audio: bool = False
    supports_video: bool = False
    supports_documents: bool = False
    supports_thinking: bool = False
    supports_streaming: bool = True
    supports_streaming_usage: bool = True
    supports_prompt_cache: bool = False
    default_output_mode: OutputMode = "tool"
    """The structured-output strategy used when the agent does not choose one."""


class OutputSchema(BaseModel):
    """The JSON schema the run's output must match, for native and prompted output modes."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    name: str = "final_result"
    description: str | None = None
    json_schema: dict[str, Any]
    strict: bool | None = None


class ModelRequestParams(BaseModel):
    """Everything about one request besides messages and settings."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    function_tools: list[ToolDefinition] = Field(default_factory=list[ToolDefinition])
    output_mode: OutputMode = "text"
    output_schema: OutputSchema | None = None
    """Set for `native` and `prompted` modes."""
    output_tools: list[ToolDefinition] = Field(default_factory=list[ToolDefinition])
    """Set for `tool` mode: calling one of these returns the run's output."""
    allow_text_output: bool = True
    """Whether a plain-text answer ends the run (False when structured output is required)."""
    tool_choice: ToolChoice = "auto"

    @property
    def all_tools(self) -> list[ToolDefinition]:
        """Function tools followed by output tools: what the adapter must declare."""
        return [*self.function_tools, *self.output_tools]


# --- streaming -----------------------------------------------------------------------------------
# Plain slotted dataclasses: one is made per token, and they never leave the process as they are
# (the run loop turns them into run events).


@dataclass(slots=True)
class TextPartDelta:
    """More text for a `TextPart`."""

    content: str


@dataclass(slots=True)
class ThinkingPartDelta:
    """More reasoning (or its signature) for a `ThinkingPart`."""

    content: str = ""
    signature: str | None = None


@dataclass(slots=True)
class ToolCallPartDelta:
    """A fragment of a tool call: its name and id arrive first, then argument JSON pieces."""

    args_delta: str = ""
    tool_name: str | None = None
    tool_call_id: str | None = None


@dataclass(slots=True)
class PartStartEvent:
    """A new part begins at `index` of the response."""

    index: int
    part: TextPart | ThinkingPart | ToolCallPart


@dataclass(slots=True)
class PartDeltaEvent:
    """The part at `index` grows."""

    index: int
    delta: TextPartDelta | ThinkingPartDelta | ToolCallPartDelta


@dataclass(slots=True)
class PartEndEvent:
    """The part at `index` is complete."""

    index: int
    part: TextPart | ThinkingPart | ToolCallPart


@dataclass(slots=True)
class FinalResponseEvent:
    """The whole response, with usage; always the last event of a stream."""

    response: ModelResponse
    extra: dict[str, Any] = field(default_factory=dict[str, Any])


ModelStreamEvent = PartStartEvent | PartDeltaEvent | PartEndEvent | FinalResponseEvent


class ChatModel(ABC):
    """A chat model behind one provider's API."""

    @property
    @abstractmethod
    def model_name(self) -> str:
        """The provider's name for the model, e.g. `gpt-4.1`."""

    @property
    def provider(self) -> str:
        """The provider's short name, e.g. `openai`."""
        return type(self).__name__

    @property
    def profile(self) -> ModelProfile:
        """What the model can do."""
        return ModelProfile()

    @abstractmethod
    async def request(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> ModelResponse:
        """Send one request and return the whole response.

        Raises:
            ModelHTTPError: and its subclasses for the provider's error statuses.
            ModelConnectionError: when the provider cannot be reached.
        """

    async def request_stream(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> AsyncIterator[ModelStreamEvent]:
        """Send one request and yield part events as they arrive, then `FinalResponseEvent`.

        The default makes one non-streaming request and replays it as events; adapters whose
        provider streams override it.
        """
        response = await self.request(messages, settings, params)
        for index, part in enumerate(response.parts):
            part_: ModelResponsePart = part
            yield PartStartEvent(index, part_)
            yield PartEndEvent(index, part_)
        yield FinalResponseEvent(response)

    async def aclose(self) -> None:
        """Release network clients. Safe to call more than once."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model_name={self.model_name!r})"
