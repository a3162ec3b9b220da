"""Covey message history -> Gemini `contents` and `systemInstruction`.

Requests become `user` turns, responses `model` turns; adjacent turns of one role are merged.
Function responses answer calls by name and, when Gemini gave the call an id, by id; they are
put in the order of the calls they answer, which is how Gemini pairs calls that have no id.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from google.genai import types
from pydantic_core import to_jsonable_python

from covey.models.google._signatures import (
    PROVIDER,
    SKIP_SIGNATURE,
    SYNTHETIC_ID_KEY,
    TRAILING_SIGNATURES_KEY,
    decode_signature,
    signature_of,
)
from covey.spec.messages import (
    AudioContent,
    DocumentContent,
    ImageContent,
    ModelRequest,
    ModelResponse,
    SystemPart,
    TextContent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
    VideoContent,
    media_placeholder,
)

__all__ = ["map_messages"]

_Role = Literal["user", "model"]


@dataclass(slots=True, frozen=True)
class _Call:
    name: str
    native_id: str | None
    """The id Gemini gave the call; `None` when it gave none or another provider made it."""
    order: tuple[int, int]
    """(response number, position among that response's calls): how answers are ordered."""


def map_messages(
    messages: Sequence[ModelRequest | ModelResponse],
) -> tuple[list[types.Content], str | None]:
    """The Gemini `contents` for a history, and the system instruction (every system part)."""
    system: list[str] = []
    contents: list[types.Content] = []
    calls: dict[str, _Call] = {}
    for number, message in enumerate(messages):
        if isinstance(message, ModelResponse):
            _append(contents, "model", _response_parts(message, number, calls))
        else:
            _append(contents, "user", _request_parts(message, calls, system))
    return contents, ("\n\n".join(system) if system else None)


def _append(contents: list[types.Content], role: _Role, parts: list[types.Part]) -> None:
    if not parts:
        return  # Gemini refuses a turn without parts.
    if contents and contents[-1].role == role and contents[-1].parts is not None:
        contents[-1].parts.extend(parts)
    else:
        contents.append(types.Content(role=role, parts=parts))


# --- model turns ---------------------------------------------------------------------------------


def _response_parts(
    message: ModelResponse, number: int, calls: dict[str, _Call]
) -> list[types.Part]:
    # Signatures and ids are only meaningful to Gemini when Gemini made them.
    ours = message.provider_name == PROVIDER
    parts: list[types.Part] = []
    position = 0
    for part in message.parts:
        details = part.provider_details if ours else None
        signature = signature_of(details)
        if isinstance(part, TextPart):
            if part.content or signature is not None:
                parts.append(types.Part(text=part.content, thought_signature=signature))
        elif isinstance(part, ThinkingPart):
            if not ours:
                continue  # another provider's reasoning means nothing to Gemini
            if signature is None and part.signature:
                signature = decode_signature(part.signature)
            if part.content or signature is not None:
                parts.append(
                    types.Part(text=part.content, thought=True, thought_signature=signature)
                )
        else:
            native_id = None
            if ours and not (details or {}).get(SYNTHETIC_ID_KEY):
                native_id = part.tool_call_id
            calls[part.tool_call_id] = _Call(part.tool_name, native_id, (number, position))
            if not ours and position == 0:
                signature = SKIP_SIGNATURE
            position += 1
            call = types.FunctionCall(name=part.tool_name, args=_call_args(part), id=native_id)
            parts.append(types.Part(function_call=call, thought_signature=signature))
        parts.extend(_trailing(details))
    return parts


def _trailing(details: dict[str, Any] | None) -> list[types.Part]:
    values: object = (details or {}).get(TRAILING_SIGNATURES_KEY)
    if not isinstance(values, list):
        return []
    out: list[types.Part] = []
    for value in values:  # pyright: ignore[reportUnknownVariableType] - provider_details is JSON
        signature = decode_signature(value) if isinstance(value, str) else None
        if signature is not None:
            out.append(types.Part(text="", thought_signature=signature))
    return out


def _call_args(part: ToolCallPart) -> dict[str, Any]:
    try:
        return part.args_as_dict()
    except ValueError:
        # The model sent arguments that are not a JSON object; replay them as they were.
        return {"_raw_arguments": part.args_as_json()}


# --- user turns ----------------------------------------------------------------------------------


def _request_parts(
    message: ModelRequest, calls: dict[str, _Call], system: list[str]
) -> list[types.Part]:
    answers: list[tuple[tuple[int, int], int, types.Part]] = []
    trailing: list[types.Part] = []
    """Tool media a function response cannot carry, sent right after the function responses."""
    others: list[types.Part] = []
    for part in message.parts:
        if isinstance(part, SystemPart):
            system.append(part.content)
        elif isinstance(part, UserPart):
            others.extend(_user_parts(part))
        elif isinstance(part, ToolReturnPart):
            key = "error" if part.is_error else "output"
            media = part.content_parts()
            if media is None:
                order, answer = _function_response(
                    part.tool_call_id, part.tool_name, {key: part.content}, calls
                )
            else:
                text, attached, extra = _tool_media(media)
                order, answer = _function_response(
                    part.tool_call_id, part.tool_name, {key: text}, calls, attached
                )
                trailing.extend(extra)
            answers.append((order, len(answers), answer))
        else:
            call = calls.get(part.tool_call_id) if part.tool_call_id else None
            if part.tool_call_id and (call is not None or part.tool_name):
                order, answer = _function_response(
                    part.tool_call_id, part.tool_name or "", {"error": part.message()}, calls
                )
                answers.append((order, len(answers), answer))
            else:
                others.append(types.Part(text=part.message()))
    answers.sort(key=lambda item: (item[0], item[1]))
    return [part for _, _, part in answers] + trailing + others


def _function_response(
    tool_call_id: str,
    tool_name: str,
    response: dict[str, Any],
    calls: dict[str, _Call],
    media: list[types.FunctionResponsePart] | None = None,
) -> tuple[tuple[int, int], types.Part]:
    call = calls.get(tool_call_id)
    name = call.name if call is not None else tool_name
    order = call.order if call is not None else (1 << 30, 0)
    payload: dict[str, Any] = to_jsonable_python(response, fallback=str)
    answer = types.FunctionResponse(
        name=name, response=payload, id=call.native_id if call is not None else None, parts=media
    )
    return order, types.Part(function_response=answer)


_FUNCTION_RESPONSE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/webp", "application/pdf", "text/plain"}
)
"""What Gemini takes inside a function response (multimodal function responses)."""


def _tool_media(
    items: list[TextContent | ImageContent | AudioContent | VideoContent | DocumentContent],
) -> tuple[str, list[types.FunctionResponsePart], list[types.Part]]:
    """A tool result with media: the response text with placeholders, the media the function
    response carries in its `parts`, and the media sent as ordinary parts after it."""
    lines: list[str] = []
    attached: list[types.FunctionResponsePart] = []
    extra: list[types.Part] = []
    numbers: dict[str, int] = {}
    for item in items:
        if isinstance(item, TextContent):
            lines.append(item.text)
            continue
        numbers[item.kind] = numbers.get(item.kind, 0) + 1
        name = f"{item.kind}_{numbers[item.kind]}"
        part = _media_part(item)
        blob, file = part.inline_data, part.file_data
        source = blob if blob is not None else file
        media_type = (source.mime_type if source is not None else None) or ""
        if media_type.lower() in _FUNCTION_RESPONSE_TYPES:
            if blob is not None:
                data = types.FunctionResponseBlob(
                    data=blob.data, mime_type=blob.mime_type, display_name=name
                )
                attached.append(types.FunctionResponsePart(inline_data=data))
            else:
                assert file is not None
                ref = types.FunctionResponseFileData(
                    file_uri=file.file_uri, mime_type=file.mime_type, display_name=name
                )
                attached.append(types.FunctionResponsePart(file_data=ref))
            note = "attached to this function response"
        else:
            extra.append(part)
            note = "attached after the function responses"
        lines.append(media_placeholder(item, numbers[item.kind], note))
    return "\n".join(lines), attached, extra


def _user_parts(part: UserPart) -> list[types.Part]:
    if isinstance(part.content, str):
        return [types.Part(text=part.content)]
    out: list[types.Part] = []
    for item in part.content:
        if isinstance(item, TextContent):
            out.append(types.Part(text=item.text))
        else:
            out.append(_media_part(item))
    return out


def _media_part(item: ImageContent | AudioContent | VideoContent | DocumentContent) -> types.Part:
    if item.data is not None:
        return types.Part(inline_data=types.Blob(data=item.data, mime_type=item.media_type))
    url = item.url or ""
    if url.startswith("data:"):
        inline = _from_data_url(url)
        if inline is not None:
            data, media_type = inline
            return types.Part(
                inline_data=types.Blob(data=data, mime_type=item.media_type or media_type)
            )
    media_type = item.media_type or _guess_media_type(url)
    return types.Part(file_data=types.FileData(file_uri=url, mime_type=media_type))


def _from_data_url(url: str) -> tuple[bytes, str] | None:
    header, sep, payload = url[len("data:") :].partition(",")
    if not sep:
        return None
    media_type, _, encoding = header.partition(";")
    if encoding == "base64":
        try:
            return base64.b64decode(payload), media_type or "application/octet-stream"
        except ValueError:
            return None
    return unquote(payload).encode(), media_type or "text/plain"


def _guess_media_type(url: str) -> str | None:
    guessed, _ = mimetypes.guess_type(urlparse(url).path)
    return guessed
