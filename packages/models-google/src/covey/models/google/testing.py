"""`FakeGeminiServer`: a loopback fake of the Gemini API, for tests, docs and benchmarks.

It speaks the wire protocol `GoogleModel` and `GoogleEmbedder` use, on `127.0.0.1`, in a daemon
thread, with no SDK involved:

- `POST /{version}/models/{model}:generateContent`
- `POST /{version}/models/{model}:streamGenerateContent?alt=sse`
- `POST /{version}/models/{model}:embedContent` and `:batchEmbedContents`
- `POST /{version}/models/{model}:countTokens`

and the same under Vertex AI's resource path,
`/{version}/projects/{project}/locations/{location}/publishers/google/models/{model}:...`, plus
Vertex's `:predict` for `text-embedding-*` models (`covey.models.google.testing_vertex` adds
authentication checks and a fake OAuth token endpoint).

Script it with answers (JSON bodies, SSE streams, error statuses with headers) or with a function
of the request; with neither, it echoes the last user text and embeds texts deterministically.
A whole `generateContent` answer given for a streaming request is streamed in small chunks, so one
script serves both. Every request is recorded (path, query, headers, JSON body).

Example:
    ```python
    from covey.models.google import GoogleModel
    from covey.models.google.testing import FakeGeminiServer, text_answer

    with FakeGeminiServer([text_answer("Hello!")]) as server:
        model = GoogleModel("gemini-2.5-flash", api_key="test", base_url=server.url)
        ...
        assert server.requests[0].body["contents"][0]["parts"][0]["text"] == "Hi"
    ```
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

try:
    from covey.testing.http import Exchange, LoopbackServer
except ModuleNotFoundError as error:  # the fake server is for tests: covey-testing is an extra
    if error.name is None or not error.name.startswith("covey.testing"):
        raise
    raise ImportError(
        "covey.models.google.testing needs covey-testing: pip install covey-models-google[testing]"
    ) from error

__all__ = [
    "Exchange",
    "FakeGeminiServer",
    "LoopbackServer",
    "RecordedRequest",
    "Responder",
    "ScriptedResponse",
    "answer",
    "embedding_answer",
    "error_answer",
    "function_call_answer",
    "function_call_part",
    "stream_answer",
    "text_answer",
    "text_part",
    "usage_metadata",
]

_PATH = re.compile(
    r"^/(?P<version>[^/]+)/"
    r"(?:projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/)?"
    r"(?:publishers/(?P<publisher>[^/]+)/)?"
    r"models/(?P<model>[^:/]+):(?P<action>[A-Za-z]+)$"
)
_STATUS_TEXT = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_NATIVE_DIMENSIONS = 3072
_ids = itertools.count(1)


# --- requests and scripted responses -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the fake server received.

    Attributes:
        method: The HTTP method, e.g. `POST`.
        path: The path without the query, e.g. `/v1beta/models/gemini-2.5-flash:generateContent`.
        query: The query parameters, e.g. `{"alt": "sse"}`.
        headers: The headers, names in lower case.
        body: The JSON body, parsed (`None` when there was none or it was not JSON).
        api_version: `v1beta` (or whatever version the path names).
        model: The model in the path, e.g. `gemini-2.5-flash`.
        action: The method after the colon, e.g. `generateContent`.
        project: The project of a Vertex AI path (`None` for the Gemini API).
        location: The location of a Vertex AI path, e.g. `us-central1`.
        publisher: The publisher of a Vertex AI path, e.g. `google`.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    api_version: str | None = None
    model: str | None = None
    action: str | None = None
    project: str | None = None
    location: str | None = None
    publisher: str | None = None

    @property
    def vertex(self) -> bool:
        """Whether the path is a Vertex AI one (`.../publishers/google/models/...`)."""
        return self.publisher is not None

    @property
    def stream(self) -> bool:
        """Whether this is a `streamGenerateContent` request."""
        return self.action == "streamGenerateContent"

    def user_text(self) -> str:
        """The text parts of the last `user` turn of a `generateContent` body, joined."""
        body = _as_dict(self.body) or {}
        for content in reversed(cast(list[dict[str, Any]], body.get("contents", []))):
            if content.get("role", "user") != "user":
                continue
            texts = [p["text"] for p in content.get("parts", []) if isinstance(p.get("text"), str)]
            if texts:
                return "\n".join(texts)
        return ""


@dataclass(frozen=True, slots=True)
class ScriptedResponse:
    """One answer of the fake server.

    Attributes:
        body: The JSON body (a dict or list), or raw `str` / `bytes`. Ignored when `events` is set.
        status: The HTTP status.
        headers: Extra response headers (e.g. `retry-after`).
        events: Server-sent events: each item is sent as one `data: <json>` event, and the
            response is `text/event-stream`.
        delay: Seconds to wait before answering (to test timeouts).
    """

    body: Any = None
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    events: Sequence[Any] | None = None
    delay: float = 0.0


Responder = Callable[[RecordedRequest], ScriptedResponse | Mapping[str, Any]]
"""Builds the answer to a request: a `ScriptedResponse`, or a JSON body answered with 200."""


def _as_dict(value: Any) -> dict[str, Any] | None:
    return cast(dict[str, Any], value) if isinstance(value, dict) else None


# --- wire-format builders ------------------------------------------------------------------------


def usage_metadata(
    prompt: int = 8,
    candidates: int = 4,
    *,
    thoughts: int | None = None,
    cached: int | None = None,
    tool_use_prompt: int | None = None,
) -> dict[str, Any]:
    """A `usageMetadata` object; `totalTokenCount` is the sum of every count."""
    usage: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": candidates}
    if cached is not None:
        usage["cachedContentTokenCount"] = cached
    if thoughts is not None:
        usage["thoughtsTokenCount"] = thoughts
    if tool_use_prompt is not None:
        usage["toolUsePromptTokenCount"] = tool_use_prompt
    usage["totalTokenCount"] = prompt + candidates + (thoughts or 0) + (tool_use_prompt or 0)
    return usage


def text_part(
    text: str, *, thought: bool = False, thought_signature: str | None = None
) -> dict[str, Any]:
    """A text part (a thought summary with `thought=True`), with an optional signature."""
    part: dict[str, Any] = {"text": text}
    if thought:
        part["thought"] = True
    if thought_signature is not None:
        part["thoughtSignature"] = thought_signature
    return part


def function_call_part(
    name: str,
    args: Mapping[str, Any] | None = None,
    *,
    id: str | None = None,
    thought_signature: str | None = None,
) -> dict[str, Any]:
    """A `functionCall` part; Gemini often sends no `id`."""
    call: dict[str, Any] = {"name": name, "args": dict(args or {})}
    if id is not None:
        call["id"] = id
    part: dict[str, Any] = {"functionCall": call}
    if thought_signature is not None:
        part["thoughtSignature"] = thought_signature
    return part


def answer(
    parts: Sequence[Mapping[str, Any]],
    *,
    finish_reason: str = "STOP",
    usage: Mapping[str, Any] | None = None,
    model_version: str = "gemini-fake",
    response_id: str | None = None,
) -> dict[str, Any]:
    """A whole `GenerateContentResponse` body with one candidate made of `parts`."""
    words = sum(len(str(p.get("text", "")).split()) for p in parts)
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [dict(p) for p in parts]},
                "finishReason": finish_reason,
                "index": 0,
            }
        ],
        "usageMetadata": dict(usage) if usage is not None else usage_metadata(8, max(1, words)),
        "modelVersion": model_version,
        "responseId": response_id or f"fake-{next(_ids)}",
    }


def text_answer(
    text: str,
    *,
    thinking: str | None = None,
    thought_signature: str | None = None,
    finish_reason: str = "STOP",
    usage: Mapping[str, Any] | None = None,
    model_version: str = "gemini-fake",
) -> dict[str, Any]:
    """An answer with `text`, after a thought summary when `thinking` is given.

    `thought_signature` goes on the text part (where Gemini puts the signature of an answer
    without function calls).
    """
    parts: list[dict[str, Any]] = []
    if thinking is not None:
        parts.append(text_part(thinking, thought=True))
    parts.append(text_part(text, thought_signature=thought_signature))
    return answer(parts, finish_reason=finish_reason, usage=usage, model_version=model_version)


def function_call_answer(
    name: str,
    args: Mapping[str, Any] | None = None,
    *,
    id: str | None = None,
    thought_signature: str | None = None,
    usage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An answer that calls one function (for parallel calls, use `answer` with several
    `function_call_part`s)."""
    part = function_call_part(name, args, id=id, thought_signature=thought_signature)
    return answer([part], usage=usage)


def stream_answer(
    chunks: Iterable[Mapping[str, Any]], *, headers: Mapping[str, str] | None = None
) -> ScriptedResponse:
    """An SSE stream sending each `GenerateContentResponse` chunk as one event, as given."""
    return ScriptedResponse(events=[dict(c) for c in chunks], headers=dict(headers or {}))


def error_answer(
    status: int,
    message: str = "",
    *,
    status_text: str | None = None,
    retry_delay: str | None = None,
    reason: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> ScriptedResponse:
    """A Google API error body (`{"error": {"code", "message", "status", "details"}}`).

    Args:
        status: The HTTP status, e.g. 429.
        message: The error message.
        status_text: The `google.rpc.Code` name; default from `status` (`RESOURCE_EXHAUSTED`...).
        retry_delay: Adds a `google.rpc.RetryInfo` detail, e.g. `"37s"`.
        reason: Adds a `google.rpc.ErrorInfo` detail, e.g. `"API_KEY_INVALID"`.
        headers: Response headers, e.g. `{"retry-after": "2"}`.
    """
    details: list[dict[str, Any]] = []
    if reason is not None:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        )
    if retry_delay is not None:
        details.append(
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}
        )
    error: dict[str, Any] = {
        "code": status,
        "message": message or f"Fake error {status}",
        "status": status_text or _STATUS_TEXT.get(status, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return ScriptedResponse(body={"error": error}, status=status, headers=dict(headers or {}))


def embedding_answer(vectors: Sequence[Sequence[float]]) -> dict[str, Any]:
    """A `batchEmbedContents` body with these vectors."""
    return {"embeddings": [{"values": [float(x) for x in v]} for v in vectors]}


# --- default behaviour ---------------------------------------------------------------------------


def _fake_embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector from hashed words: texts sharing words point alike."""
    vector = [0.0] * dimensions
    words = re.findall(r"\w+", text.lower()) or [text]
    for word in words:
        digest = hashlib.sha256(word.encode()).digest()
        for i in range(0, 8, 2):
            index = int.from_bytes(digest[i : i + 2], "big") % dimensions
            vector[index] += 1.0 if digest[i + 8] % 2 == 0 else -1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def _default_response(request: RecordedRequest) -> ScriptedResponse | dict[str, Any]:
    body = _as_dict(request.body) or {}
    if request.action in ("generateContent", "streamGenerateContent"):
        said = request.user_text()
        return text_answer(f"Echo: {said}" if said else "Hello from FakeGeminiServer.")
    if request.action == "batchEmbedContents":
        vectors: list[list[float]] = []
        for item in cast(list[dict[str, Any]], body.get("requests", [])):
            vectors.append(_embed_request(item))
        return embedding_answer(vectors)
    if request.action == "embedContent":
        return {"embedding": {"values": _embed_request(body)}}
    if request.action == "predict":  # Vertex AI's text-embedding-* models
        return _predict_answer(body)
    if request.action == "countTokens":
        words = len(json.dumps(body.get("contents", [])).split())
        return {"totalTokens": words}
    return error_answer(404, f"FakeGeminiServer does not implement {request.path}")


def _embed_request(item: Mapping[str, Any]) -> list[float]:
    content = cast(dict[str, Any], item.get("content", {}))
    text = " ".join(str(p.get("text", "")) for p in content.get("parts", []))
    config = cast(dict[str, Any], item.get("embedContentConfig") or {})  # Vertex AI's shape
    size = (
        item.get("outputDimensionality")
        or item.get("output_dimensionality")
        or config.get("outputDimensionality")
    )
    return _fake_embedding(text, int(size) if size else _NATIVE_DIMENSIONS)


_PREDICT_DIMENSIONS = 768  # text-embedding-005 and text-multilingual-embedding-002


def _predict_answer(body: Mapping[str, Any]) -> dict[str, Any]:
    """Vertex AI's `:predict` answer for `{"instances": [{"content": ...}], "parameters": ...}`."""
    parameters = cast(dict[str, Any], body.get("parameters") or {})
    size = int(parameters.get("outputDimensionality") or _PREDICT_DIMENSIONS)
    predictions: list[dict[str, Any]] = []
    for instance in cast(list[dict[str, Any]], body.get("instances", [])):
        text = str(instance.get("content", ""))
        statistics = {"token_count": len(text.split()), "truncated": False}
        values = _fake_embedding(text, size)
        predictions.append({"embeddings": {"values": values, "statistics": statistics}})
    return {"predictions": predictions, "metadata": {"billableCharacterCount": 0}}


def _as_events(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A whole `GenerateContentResponse` as the chunks Gemini would stream: text in a few pieces
    (a part's signature on its last piece), each function call whole, usage and the finish
    reason on the last chunk."""
    candidates = cast(list[dict[str, Any]], body.get("candidates") or [{}])
    candidate = candidates[0]
    parts = cast(list[dict[str, Any]], candidate.get("content", {}).get("parts", []))
    meta = {k: body[k] for k in ("modelVersion", "responseId") if k in body}
    chunks: list[dict[str, Any]] = []
    for part in parts:
        pieces: list[dict[str, Any]] = []
        if "text" in part and "functionCall" not in part:
            words = re.findall(r"\S+\s*|\s+", str(part["text"])) or [""]
            size = max(1, math.ceil(len(words) / 3))
            for start in range(0, len(words), size):
                piece: dict[str, Any] = {"text": "".join(words[start : start + size])}
                if part.get("thought"):
                    piece["thought"] = True
                pieces.append(piece)
            if "thoughtSignature" in part:
                pieces[-1]["thoughtSignature"] = part["thoughtSignature"]
        else:
            pieces.append(dict(part))
        for piece in pieces:
            chunks.append(
                {
                    "candidates": [{"content": {"role": "model", "parts": [piece]}, "index": 0}],
                    **meta,
                }
            )
    last: dict[str, Any] = chunks[-1] if chunks else {"candidates": [{"index": 0}], **meta}
    if not chunks:
        chunks.append(last)
    if "finishReason" in candidate:
        last["candidates"][0]["finishReason"] = candidate["finishReason"]
    if "usageMetadata" in body:
        last["usageMetadata"] = body["usageMetadata"]
    if "promptFeedback" in body:
        chunks[0]["promptFeedback"] = body["promptFeedback"]
    return chunks


# --- the server ----------------------------------------------------------------------------------


class FakeGeminiServer(LoopbackServer[RecordedRequest, ScriptedResponse | Mapping[str, Any]]):
    """A Gemini API on `127.0.0.1` (a free port) for tests; use it as a context manager.

    Args:
        script: The answers, in order: `ScriptedResponse`s or JSON bodies (answered with 200).
            Or a `Responder` that builds each answer from the request. With none, the server
            echoes the last user text and embeds texts deterministically. When a scripted list
            runs out, requests get a 500 error saying so. Answers queued with `add` are served
            first, before the function or the default answers.

    Attributes:
        requests: Every request received, in order.
    """

    protocol_version = "HTTP/1.1"
    server_version = "FakeGeminiServer/1.0"

    def __init__(
        self,
        script: Iterable[ScriptedResponse | Mapping[str, Any]] | Responder | None = None,
    ) -> None:
        super().__init__(script, default_responder=_default_response)

    def stop(self) -> None:
        """Stop serving and free the port (idempotent); the same as `close`."""
        self.close()

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request."""
        with self._lock:
            if not self._requests:
                raise AssertionError("FakeGeminiServer has received no request")
            return self._requests[-1]

    # --- serving ----------------------------------------------------------------------------------

    def respond(self, request: RecordedRequest) -> ScriptedResponse:
        """Record `request` and choose its answer (what the HTTP handler calls)."""
        responder = self.responder
        number, scripted = self.record(request)
        if scripted is None and responder is not None:
            scripted = responder(request)
        if scripted is None:
            return error_answer(
                500,
                f"FakeGeminiServer: no scripted response left for request "
                f"{number} ({request.method} {request.path})",
                status_text="INTERNAL",
            )
        if not isinstance(scripted, ScriptedResponse):
            scripted = ScriptedResponse(body=dict(scripted))
        if (
            request.stream
            and scripted.events is None
            and scripted.status == 200
            and "candidates" in (body := _as_dict(scripted.body) or {})
        ):
            return ScriptedResponse(
                events=_as_events(body), headers=scripted.headers, delay=scripted.delay
            )
        return scripted

    def serve(self, exchange: Exchange) -> None:
        """Answer one HTTP request: parse it, `respond`, then write the answer after its delay."""
        raw = exchange.request
        split = urlsplit(raw.path)
        match = _PATH.match(split.path)
        request = RecordedRequest(
            method=raw.method,
            path=split.path,
            query=dict(parse_qsl(split.query)),
            headers=dict(raw.headers),
            body=raw.json_or_none(),
            api_version=match.group("version") if match else None,
            model=match.group("model") if match else None,
            action=match.group("action") if match else None,
            project=match.group("project") if match else None,
            location=match.group("location") if match else None,
            publisher=match.group("publisher") if match else None,
        )
        scripted = self.respond(request)
        if scripted.delay:
            time.sleep(scripted.delay)
        if scripted.events is not None:
            exchange.start_stream(scripted.status, headers=scripted.headers)
            for event in scripted.events:
                exchange.send_event(
                    event if isinstance(event, str) else json.dumps(event), newline="\r\n"
                )
            return
        if isinstance(scripted.body, bytes):
            payload, content_type = scripted.body, "application/octet-stream"
        elif isinstance(scripted.body, str):
            payload, content_type = scripted.body.encode(), "text/plain; charset=utf-8"
        else:
            payload = json.dumps(scripted.body if scripted.body is not None else {}).encode()
            content_type = "application/json; charset=UTF-8"
        exchange.send(scripted.status, payload, content_type=content_type, headers=scripted.headers)
