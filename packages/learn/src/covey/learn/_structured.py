"""One structured-output request to a learning model, shared by `MemoryManager` and
`LearningMachine`.

`ask` sends a system prompt and a body (what is known plus the conversation as data) and reads
back one JSON object, in the way the model's profile supports: an output tool, the provider's
JSON-schema mode, or JSON in text with the schema in the instructions. Every request first claims
a slot of the user's daily cap (`_budget`) and counts against the run's cap; an unreadable answer
is retried (within the run's cap) with the reason. Nothing here raises for a failing model: the
caller reads `Asked.error`. Cancellation, timeouts and store errors propagate to the caller,
which turns them into its own report.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import anyio
from pydantic import ValidationError

from covey.learn._budget import calls_for_run, claim_call
from covey.spec.errors import CoveyError
from covey.spec.messages import (
    ModelRequest,
    ModelResponse,
    RetryPart,
    SystemPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
)
from covey.spec.models import ChatModel, ModelRequestParams, ModelSettings, OutputSchema
from covey.spec.store import Scope, Store
from covey.spec.tools import ToolDefinition
from covey.spec.usage import Usage

__all__ = ["MAX_TRANSCRIPT_CHARS", "Asked", "Request", "ask", "error_text", "transcript"]

MAX_TRANSCRIPT_CHARS = 24_000
"""The exchange is cut to its last this-many characters before it is sent to a learning model."""
MAX_TOOL_ARGS_CHARS = 300


def error_text(exc: BaseException) -> str:
    """A failure as reportable text: Covey errors are written to carry no secrets; anything
    else is reported by type only, since a third-party message may echo a request (and its
    credentials)."""
    if isinstance(exc, CoveyError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


def transcript(messages: Sequence[ModelRequest | ModelResponse], *, tool_args: bool = False) -> str:
    """The conversation as text for a learning model, to be wrapped in `<conversation>` tags.

    `tool_args` adds each tool call's arguments (trimmed), for learners that log decisions.
    """
    lines: list[str] = []
    for message in messages:
        for part in message.parts:
            if isinstance(part, UserPart):
                content = part.content
                text = (
                    content
                    if isinstance(content, str)
                    else " ".join(getattr(c, "text", f"[{c.kind}]") for c in content)
                )
                lines.append(f"User: {text}")
            elif isinstance(part, TextPart):
                lines.append(f"Assistant: {part.content}")
            elif isinstance(part, ToolCallPart):
                if tool_args:
                    args = part.args if isinstance(part.args, str) else json.dumps(part.args)
                    lines.append(
                        f"Assistant called tool {part.tool_name} with {args[:MAX_TOOL_ARGS_CHARS]}."
                    )
                else:
                    lines.append(f"Assistant called tool {part.tool_name}.")
            elif isinstance(part, ToolReturnPart):
                lines.append(f"Tool {part.tool_name} returned: {str(part.content)[:500]}")
    # The conversation is data: a user typing the closing tag must not end it early.
    text = "\n".join(lines).replace("</conversation>", "</ conversation>")
    if len(text) > MAX_TRANSCRIPT_CHARS:
        text = "[earlier conversation cut]\n" + text[-MAX_TRANSCRIPT_CHARS:]
    return text


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """What to ask, and the limits to ask it within."""

    system: str
    body: str
    output_name: str
    """The output tool's name (and the JSON schema's name)."""
    description: str
    schema: dict[str, Any]
    max_calls_per_run: int
    max_calls_per_day: int
    max_tokens: int
    timeout: float
    noun: str = "memory-model"
    """How the model is named in errors ("memory-model calls")."""
    check: Callable[[dict[str, Any]], None] | None = None
    """Raises `ValueError` when the answer's object is unusable (the model is asked again)."""


@dataclass(slots=True)
class Asked:
    """What `ask` got: the answer's object (`None` when there is none), calls and usage."""

    data: dict[str, Any] | None = None
    model_calls: int = 0
    usage: Usage = field(default_factory=Usage)
    error: str | None = None


async def ask(
    model: ChatModel,
    request: Request,
    *,
    store: Store,
    scope: Scope,
    run_id: str,
    asked: Asked | None = None,
) -> Asked:
    """Ask `model` for one JSON object, within the run's and the user's daily caps.

    Pass `asked` to keep the calls and usage counted so far when this raises (a timeout).
    """
    if asked is None:
        asked = Asked()
    mode = output_mode(model)
    system = request.system
    if mode == "prompted":
        system += (
            "\nAnswer with one JSON object, and nothing else, matching this JSON schema:\n"
            + json.dumps(request.schema, ensure_ascii=False)
        )
    conversation: list[ModelRequest | ModelResponse] = [
        ModelRequest(parts=[SystemPart(content=system), UserPart(content=request.body)])
    ]
    params = _params(model, mode, request)
    settings = ModelSettings(max_tokens=request.max_tokens, timeout=request.timeout)
    used_by_run = await calls_for_run(store, scope, run_id)
    while used_by_run < request.max_calls_per_run:
        if not await claim_call(store, scope, run_id=run_id, cap=request.max_calls_per_day):
            asked.error = (
                f"daily cap reached: {request.max_calls_per_day} {request.noun} calls for this "
                "user today"
            )
            return asked
        used_by_run += 1
        asked.model_calls += 1
        # The settings' timeout is the adapter's; this one holds even if an adapter ignores it.
        with anyio.fail_after(request.timeout):
            response = await model.request(conversation, settings, params)
        asked.usage.incr(response.usage)
        if response.usage.requests == 0:  # adapters count their request; be sure it counts
            asked.usage.requests += 1
        try:
            data = _answer(response, request.output_name)
            if request.check is not None:
                request.check(data)
        except (ValueError, ValidationError) as exc:
            # Unreadable: ask once more (within the run's cap), telling the model why.
            conversation += [response, _retry(response, exc, request.output_name)]
            asked.error = f"the {request.noun}'s answer could not be read ({type(exc).__name__})"
            continue
        asked.error = None
        asked.data = data
        return asked
    if asked.model_calls == 0:
        asked.error = f"run cap reached: {request.max_calls_per_run} {request.noun} calls"
    return asked


def output_mode(model: ChatModel) -> str:
    """`native` (JSON schema), `tool` (an output tool) or `prompted` (JSON in text)."""
    profile = model.profile
    if profile.default_output_mode == "native" and profile.supports_json_schema_output:
        return "native"
    if profile.supports_tools:
        return "tool"
    return "prompted"


def _params(model: ChatModel, mode: str, request: Request) -> ModelRequestParams:
    if mode == "tool":
        tool = ToolDefinition(
            name=request.output_name,
            description=request.description,
            parameters_json_schema=request.schema,
            kind="output",
        )
        choice = request.output_name if model.profile.supports_tool_choice_required else "auto"
        return ModelRequestParams(
            output_mode="tool", output_tools=[tool], allow_text_output=False, tool_choice=choice
        )
    if mode == "native":
        return ModelRequestParams(
            output_mode="native",
            output_schema=OutputSchema(name=request.output_name, json_schema=request.schema),
            allow_text_output=True,
        )
    return ModelRequestParams(output_mode="prompted", allow_text_output=True)


def _answer(response: ModelResponse, output_name: str) -> dict[str, Any]:
    """The answer's object. Raises `ValueError` when there is none."""
    data: Any = None
    for part in response.parts:
        if isinstance(part, ToolCallPart) and part.tool_name == output_name:
            data = json.loads(part.args) if isinstance(part.args, str) else part.args
            break
    else:
        text = "".join(p.content for p in response.parts if isinstance(p, TextPart))
        if not text.strip():
            raise ValueError("the answer has neither the output tool call nor text")
        data = json.loads(_json_in(text))
    if not isinstance(data, dict):
        raise ValueError("the answer is not a JSON object")
    return cast("dict[str, Any]", data)


def _retry(response: ModelResponse, exc: Exception, output_name: str) -> ModelRequest:
    """The retry request: every tool call of the bad answer gets its answer (providers require
    one), or a plain retry message when it had none."""
    message = (
        f"Your answer could not be read ({type(exc).__name__}). Call {output_name} once "
        "with one JSON object matching its schema."
    )
    calls = [p for p in response.parts if isinstance(p, ToolCallPart)]
    if not calls:
        return ModelRequest(parts=[RetryPart(content=message)])
    return ModelRequest(
        parts=[
            RetryPart(content=message, tool_name=c.tool_name, tool_call_id=c.tool_call_id)
            for c in calls
        ]
    )


def _json_in(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`")
        stripped = stripped.removeprefix("json").strip()
    start, end = stripped.find("{"), stripped.rfind("}")
    if start != -1 and end > start:
        return stripped[start : end + 1]
    return stripped
