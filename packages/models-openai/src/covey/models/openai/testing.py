"""`FakeOpenAIServer`: a loopback server that speaks the OpenAI HTTP protocol, for tests.

It answers `POST /v1/chat/completions` (JSON, or SSE `data: {...}` chunks ending in
`data: [DONE]`), `POST /v1/responses` (JSON, or typed SSE events ending in
`response.completed`), `POST /v1/embeddings` and `GET /v1/models`, and records every request.
Scripted replies are served in order; once they run out, each endpoint answers with a default
(chat and responses echo the last user message; embeddings are hashed bags of words, so
similar texts get similar vectors).

Nothing here imports the `openai` SDK. Point any OpenAI client at `server.url`:

```python
from covey.models.openai import OpenAIChatModel
from covey.models.openai.testing import FakeOpenAIServer, text_reply

with FakeOpenAIServer([text_reply("Hi!")]) as server:
    model = OpenAIChatModel("gpt-4.1", api_key="test", base_url=server.url)
    ...  # await model.request(...) answers "Hi!"; server.requests[0].json is what was sent
```
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

try:
    from covey.testing.http import Exchange, LoopbackServer, RecordedRequest, format_sse
except ModuleNotFoundError as error:  # the fake server is for tests: covey-testing is an extra
    if error.name is None or not error.name.startswith("covey.testing"):
        raise
    raise ImportError(
        "covey.models.openai.testing needs covey-testing: pip install covey-models-openai[testing]"
    ) from error

from covey.models.openai._fake_payloads import (
    FakeToolCall,
    chat_chunks,
    chat_completion,
    responses_events,
    responses_response,
)

__all__ = [
    "FakeOpenAIServer",
    "FakeReply",
    "FakeToolCall",
    "RecordedRequest",
    "Responder",
    "chat_chunks",
    "chat_completion",
    "embeddings_reply",
    "error_reply",
    "hashed_embedding",
    "reply",
    "responses_events",
    "responses_response",
    "text_reply",
    "tool_call_reply",
]

Api = Literal["chat", "responses"]

_WORDS = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class FakeReply:
    """One scripted HTTP answer: a JSON body or an SSE stream, with a status and headers.

    Attributes:
        status: The HTTP status.
        json: The JSON body (ignored when `sse` is set).
        sse: SSE events: a dict is sent as `data: <json>`; an `(event, dict)` pair as
            `event: <event>` plus `data: <json>`; a string as `data: <string>` (e.g. `[DONE]`).
        headers: Extra response headers (`retry-after`, ...).
        delay: Seconds to wait before answering (to exercise timeouts).
    """

    status: int = 200
    json: Any = None
    sse: Sequence[Mapping[str, Any] | tuple[str, Mapping[str, Any]] | str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    delay: float = 0.0

    def encode(self) -> tuple[bytes, str]:
        """(body, content type)."""
        if self.sse is None:
            return json.dumps(self.json).encode(), "application/json"
        chunks: list[str] = []
        for event in self.sse:
            if isinstance(event, str):
                chunks.append(format_sse(event))
            elif isinstance(event, tuple):
                name, data = event
                chunks.append(format_sse(json.dumps(data), event=name))
            else:
                chunks.append(format_sse(json.dumps(event)))
        return "".join(chunks).encode(), "text/event-stream"


Responder = Callable[[RecordedRequest], FakeReply]
"""Builds the answer to a request; used instead of (or after) a scripted list."""


# --- replies -------------------------------------------------------------------------------------


def reply(
    *,
    text: str | None = None,
    tool_calls: Sequence[FakeToolCall] = (),
    api: Api = "chat",
    stream: bool = False,
    model: str = "gpt-4.1",
    usage: Mapping[str, Any] | None = None,
) -> FakeReply:
    """A scripted successful answer of either API, whole or streamed.

    Args:
        text: The assistant's text.
        tool_calls: Tool calls after the text.
        api: `chat` (Chat Completions) or `responses`.
        stream: Answer as SSE (the request must have asked for `stream: true`).
        model: The model name reported.
        usage: The usage object, in the API's own shape (defaults to small numbers).
    """
    if api == "chat":
        if stream:
            chunks = chat_chunks(text=text or "", tool_calls=tool_calls, model=model, usage=usage)
            return FakeReply(sse=chunks)
        return FakeReply(
            json=chat_completion(text=text, tool_calls=tool_calls, model=model, usage=usage)
        )
    if stream:
        events = responses_events(text=text, tool_calls=tool_calls, model=model, usage=usage)
        return FakeReply(sse=events)
    return FakeReply(
        json=responses_response(text=text, tool_calls=tool_calls, model=model, usage=usage)
    )


def text_reply(text: str, *, api: Api = "chat", stream: bool = False) -> FakeReply:
    """A scripted text answer."""
    return reply(text=text, api=api, stream=stream)


def tool_call_reply(
    name: str,
    arguments: Mapping[str, Any] | str | None = None,
    *,
    call_id: str = "",
    api: Api = "chat",
    stream: bool = False,
) -> FakeReply:
    """A scripted answer that calls one tool."""
    call = FakeToolCall(name, arguments if arguments is not None else {}, call_id)
    return reply(tool_calls=[call], api=api, stream=stream)


def error_reply(
    status: int,
    message: str,
    *,
    code: str | None = None,
    type: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> FakeReply:
    """A scripted error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`."""
    error = {
        "message": message,
        "type": type or "invalid_request_error",
        "param": None,
        "code": code,
    }
    return FakeReply(status=status, json={"error": error}, headers=dict(headers or {}))


def _bucket(token: str, dimensions: int) -> tuple[int, float]:
    digest = hashlib.sha256(token.encode()).digest()
    return int.from_bytes(digest[:4], "big") % dimensions, (1.0 if digest[4] & 1 else -1.0)


def hashed_embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for `text`: hashed bag of words (plus word stems), so texts
    that share words are closer than texts that do not, as with a real embedding model."""
    vector = [0.0] * dimensions
    words = _WORDS.findall(text.lower())
    for word in words:
        for token in (word, word[:4]):
            index, sign = _bucket(token, dimensions)
            vector[index] += sign
    if not words:  # no word characters (emoji, punctuation): hash the whole text
        index, sign = _bucket(text, dimensions)
        vector[index] += sign
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def embeddings_reply(vectors: Sequence[Sequence[float]], *, model: str = "fake") -> FakeReply:
    """A scripted `POST /v1/embeddings` answer with `vectors`, in order."""
    data = [
        {"object": "embedding", "index": i, "embedding": list(vector)}
        for i, vector in enumerate(vectors)
    ]
    return FakeReply(
        json={
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": len(vectors), "total_tokens": len(vectors)},
        }
    )


def _last_user_text(messages: Iterable[Any]) -> str:
    for message in reversed(list(messages)):
        if isinstance(message, dict) and message.get("role") == "user":  # pyright: ignore[reportUnknownMemberType]
            content: Any = message.get("content")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(
                    str(c.get("text", ""))  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
                    for c in content  # pyright: ignore[reportUnknownVariableType]
                    if isinstance(c, dict)
                )
    return ""


# --- the server ----------------------------------------------------------------------------------


class FakeOpenAIServer(LoopbackServer[RecordedRequest, FakeReply | Responder]):
    """An OpenAI-protocol HTTP server on 127.0.0.1 (a free port), in a daemon thread.

    Use it as a context manager (or call `start` / `close`). Each request takes the next
    scripted reply (a `FakeReply`, or a `Responder` called with the request, e.g. to answer
    streamed or not as the request asks); when none is left, the `responder` (if given) or the endpoint's default
    answers: chat and responses echo the last user message (`Echo: ...`, streamed when asked),
    embeddings return `hashed_embedding` vectors of `embedding_dimensions` (or the request's
    `dimensions`), `GET /v1/models` lists `models`.

    Args:
        replies: Scripted answers, served in order, or a responder for every request.
        embedding_dimensions: The default vector length.
        models: The model names `GET /v1/models` lists.
    """

    url_path = "/v1"
    poll_interval = 0.02

    def __init__(
        self,
        replies: Sequence[FakeReply | Responder] | Responder | None = None,
        *,
        embedding_dimensions: int = 64,
        models: Sequence[str] = ("gpt-4.1", "text-embedding-3-small"),
    ) -> None:
        super().__init__(replies)
        self.embedding_dimensions = embedding_dimensions
        self.models = tuple(models)

    # -- answering --------------------------------------------------------------------------------

    def answer(self, request: RecordedRequest) -> FakeReply:
        """Record `request` and pick its reply: the next scripted one, else the responder, else
        the endpoint's default. The HTTP handler calls this; tests rarely need to."""
        _, scripted = self.record(request)
        if scripted is None and self.responder is not None:
            scripted = self.responder(request)
        if scripted is None:
            return self._default(request)
        return scripted if isinstance(scripted, FakeReply) else scripted(request)

    def serve(self, exchange: Exchange) -> None:
        """Answer one HTTP request with `answer`'s reply, after its `delay`."""
        answer = self.answer(exchange.request)
        if answer.delay:
            time.sleep(answer.delay)
        payload, content_type = answer.encode()
        exchange.send(answer.status, payload, content_type=content_type, headers=answer.headers)

    def _default(self, request: RecordedRequest) -> FakeReply:
        path = request.path.split("?", 1)[0].rstrip("/")
        try:
            body: Any = request.json or {}
        except ValueError:
            return error_reply(400, "We could not parse the JSON body of your request.")
        if request.method == "GET" and path.endswith("/models"):
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models
            ]
            return FakeReply(json={"object": "list", "data": data})
        if path.endswith("/chat/completions"):
            text = f"Echo: {_last_user_text(body.get('messages', []))}"
            return reply(
                text=text, stream=bool(body.get("stream")), model=body.get("model", "fake")
            )
        if path.endswith("/responses"):
            items = body.get("input", [])
            user = items if isinstance(items, str) else _last_user_text(items)
            return reply(
                text=f"Echo: {user}",
                api="responses",
                stream=bool(body.get("stream")),
                model=body.get("model", "fake"),
            )
        if path.endswith("/embeddings"):
            texts = body.get("input", [])
            texts = [texts] if isinstance(texts, str) else texts
            dimensions = int(body.get("dimensions") or self.embedding_dimensions)
            return embeddings_reply(
                [hashed_embedding(str(t), dimensions) for t in texts],
                model=body.get("model", "fake"),
            )
        return error_reply(404, f"Unknown path {request.path}", code="not_found")
