"""`EchoChatModel`: a chat model that answers with what the user said, offline."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator

import anyio.lowlevel

from covey.spec.messages import (
    ModelRequest,
    ModelResponse,
    RetryPart,
    SystemPart,
    ToolReturnPart,
    UserPart,
)
from covey.spec.models import (
    ChatModel,
    FinalResponseEvent,
    ModelMessages,
    ModelProfile,
    ModelRequestParams,
    ModelSettings,
    ModelStreamEvent,
)
from covey.spec.schema_data import generate_arguments, generate_json_data
from covey.spec.streaming import ResponseAssembler
from covey.spec.tools import ToolDefinition
from covey.spec.usage import Usage

__all__ = ["EchoChatModel"]

_CHUNK = re.compile(r"\S+\s*|\s+")
_NOTHING = "(nothing to echo)"


def _last_user_text(messages: ModelMessages) -> str:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in reversed(message.parts):
                if isinstance(part, UserPart):
                    return part.text()
    return ""


def _words(text: str) -> int:
    return len(text.split())


def _input_words(messages: ModelMessages) -> int:
    count = 0
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, SystemPart):
                    count += _words(part.content)
                elif isinstance(part, UserPart):
                    count += _words(part.text())
                elif isinstance(part, ToolReturnPart):
                    count += _words(part.content_as_text())
                else:
                    count += _words(part.message())
        else:
            count += _words(message.text())
    return count


def _answers_a_tool_call(messages: ModelMessages) -> bool:
    if not messages or not isinstance(messages[-1], ModelRequest):
        return False
    return any(
        isinstance(p, ToolReturnPart) or (isinstance(p, RetryPart) and p.tool_call_id)
        for p in messages[-1].parts
    )


class EchoChatModel(ChatModel):
    """Answers every request with the text of the last user message, streamed word by word.

    - With `call_tools=True`, when the request offers function tools and the last message does
      not answer a tool call, it calls the first tool with arguments built from its schema
      (required properties only); the next request, which carries the tool's return, is echoed.
    - When text output is not allowed and output tools are offered, it calls the first output
      tool with schema-built arguments; in `native` or `prompted` output mode it answers with a
      JSON value built from the output schema.

    Usage counts words: input words of the whole request, output words of the answer.

    Args:
        call_tools: Call the first function tool before answering.
        model_name: The name it reports.

    Example:
        ```python
        model = EchoChatModel()
        response = await model.request([ModelRequest.user("hi")], None, ModelRequestParams())
        assert response.text() == "hi"
        ```
    """

    def __init__(self, *, call_tools: bool = False, model_name: str = "echo") -> None:
        self._call_tools = call_tools
        self._model_name = model_name
        self._call_ids = itertools.count(1)

    @property
    def model_name(self) -> str:
        """The name given at construction (`echo` by default)."""
        return self._model_name

    @property
    def provider(self) -> str:
        """`covey-test`."""
        return "covey-test"

    @property
    def profile(self) -> ModelProfile:
        """Tools, native JSON-schema output and streaming usage."""
        return ModelProfile(supports_json_schema_output=True, default_output_mode="tool")

    def _tool_to_call(
        self, messages: ModelMessages, params: ModelRequestParams
    ) -> ToolDefinition | None:
        if self._call_tools and params.function_tools and not _answers_a_tool_call(messages):
            return params.function_tools[0]
        if not params.allow_text_output and params.output_tools:
            return params.output_tools[0]
        return None

    def _events(
        self, messages: ModelMessages, params: ModelRequestParams
    ) -> list[ModelStreamEvent]:
        assembler = ResponseAssembler()
        events: list[ModelStreamEvent] = []
        tool = self._tool_to_call(messages, params)
        if tool is not None:
            key = "tool"
            call_id = f"echo-call-{next(self._call_ids)}"
            args = json.dumps(generate_arguments(tool.parameters_json_schema))
            events += assembler.tool_call(key=key, tool_name=tool.name, tool_call_id=call_id)
            events += assembler.tool_call(key=key, args_delta=args)
            events += assembler.end(key)
            output_words = 0
            finish_reason = "tool_calls"
        else:
            if params.output_mode in ("native", "prompted") and params.output_schema is not None:
                text = json.dumps(generate_json_data(params.output_schema.json_schema))
            else:
                text = _last_user_text(messages) or _NOTHING
            for chunk in _CHUNK.findall(text):
                events += assembler.text(chunk)
            output_words = _words(text)
            finish_reason = "stop"
        usage = Usage(requests=1, input_tokens=_input_words(messages), output_tokens=output_words)
        events += assembler.finish(
            usage=usage,
            model_name=self._model_name,
            provider_name=self.provider,
            finish_reason=finish_reason,
        )
        return events

    async def request(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> ModelResponse:
        """Answer at once; see the class documentation."""
        final = self._events(messages, params)[-1]
        assert isinstance(final, FinalResponseEvent)
        return final.response

    async def request_stream(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> AsyncIterator[ModelStreamEvent]:
        """Stream the answer word by word, yielding to the event loop between events."""
        for event in self._events(messages, params):
            await anyio.lowlevel.checkpoint()
            yield event
