"""`FakeAnthropicServer`: a loopback server of the Messages API, for offline tests and examples.

It speaks `POST /v1/messages` as Anthropic does: a JSON `Message`, or, when the request says
`"stream": true`, the same message as server-sent events (`message_start`, `content_block_*`,
`message_delta`, `message_stop`). Responses are scripted in order, or built by a function from
the request; every request is recorded for assertions. It imports neither the SDK nor Covey's
adapter, so it serves any client of the Anthropic protocol.

Example:
    ```python
    from covey.models.anthropic.testing import FakeAnthropicServer, text_message

    with FakeAnthropicServer([text_message("Hi!")]) as server:
        ...  # point a client at server.url, with any API key
        assert server.requests[0].body["model"]
    ```
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

try:
    from covey.testing.http import Exchange, LoopbackServer
except ModuleNotFoundError as error:  # the fake server is for tests: covey-testing is an extra
    if error.name is None or not error.name.startswith("covey.testing"):
        raise
    raise ImportError(
        "covey.models.anthropic.testing needs covey-testing: pip install covey-models-anthropic[testing]"
    ) from error

__all__ = [
    "DEFAULT_REPLY",
    "FakeAnthropicServer",
    "FakeResponse",
    "RecordedRequest",
    "Responder",
    "error_body",
    "message",
    "message_events",
    "text_message",
    "thinking_message",
    "tool_call_message",
]

DEFAULT_REPLY = "Hello from FakeAnthropicServer."
"""The text a server built without a script answers every request with."""

SSEEvent = tuple[str, Mapping[str, Any]]
"""One server-sent event: its name (`event:` line) and its JSON data (`data:` line)."""


# --- wire bodies ---------------------------------------------------------------------------------


def message(
    content: Sequence[Mapping[str, Any]],
    *,
    stop_reason: str | None = "end_turn",
    model: str = "claude-fake",
    message_id: str = "msg_fake",
    input_tokens: int = 10,
    output_tokens: int = 5,
    cache_read_input_tokens: int | None = None,
    cache_creation_input_tokens: int | None = None,
    thinking_tokens: int | None = None,
) -> dict[str, Any]:
    """A Messages API `Message` body with the given content blocks and usage."""
    usage: dict[str, Any] = {"input_tokens": input_tokens, "output_tokens": output_tokens}
    if cache_read_input_tokens is not None:
        usage["cache_read_input_tokens"] = cache_read_input_tokens
    if cache_creation_input_tokens is not None:
        usage["cache_creation_input_tokens"] = cache_creation_input_tokens
    if thinking_tokens is not None:
        usage["output_tokens_details"] = {"thinking_tokens": thinking_tokens}
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [dict(block) for block in content],
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def text_message(text: str, **kwargs: Any) -> dict[str, Any]:
    """A `Message` answering `text`; keyword arguments as for `message`."""
    kwargs.setdefault("stop_reason", "end_turn")
    return message([{"type": "text", "text": text}], **kwargs)


def tool_call_message(
    name: str,
    arguments: Mapping[str, Any],
    *,
    tool_call_id: str = "toolu_fake_1",
    text: str | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """A `Message` calling one tool (after optional text), with `stop_reason` `tool_use`.

    For several calls in one message, build the `tool_use` blocks and call `message`.
    """
    blocks: list[Mapping[str, Any]] = []
    if text:
        blocks.append({"type": "text", "text": text})
    blocks.append({"type": "tool_use", "id": tool_call_id, "name": name, "input": dict(arguments)})
    kwargs.setdefault("stop_reason", "tool_use")
    return message(blocks, **kwargs)


def thinking_message(
    thinking: str, text: str, *, signature: str = "sig_fake", **kwargs: Any
) -> dict[str, Any]:
    """A `Message` with one signed thinking block, then text."""
    return message(
        [
            {"type": "thinking", "thinking": thinking, "signature": signature},
            {"type": "text", "text": text},
        ],
        **kwargs,
    )


def error_body(error_type: str, error_message: str) -> dict[str, Any]:
    """An Anthropic error body, e.g. `error_body("overloaded_error", "Overloaded")`."""
    return {
        "type": "error",
        "error": {"type": error_type, "message": error_message},
        "request_id": "req_fake",
    }


def _chunks(text: str) -> list[str]:
    # Word-sized pieces (whitespace kept), so a stream has several deltas per block.
    return re.findall(r"\s*\S+\s*|\s+", text) or [text]


def _fragments(text: str, size: int = 8) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def message_events(body: Mapping[str, Any]) -> list[SSEEvent]:
    """The server-sent events the API streams for the `Message` `body`.

    Text and thinking arrive in word-sized deltas, tool input as `input_json_delta` fragments,
    the thinking signature as a `signature_delta`; usage comes in `message_start` (input side)
    and `message_delta` (cumulative output tokens).
    """
    usage: dict[str, Any] = dict(body.get("usage") or {})
    start_usage = {k: v for k, v in usage.items() if k != "output_tokens_details"}
    start_usage["output_tokens"] = min(int(usage.get("output_tokens", 0)), 1)
    start: dict[str, Any] = {
        **body,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    events: list[SSEEvent] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
    ]
    blocks = cast(list[Mapping[str, Any]], body.get("content") or [])
    for index, block in enumerate(blocks):
        events.extend(_block_events(index, block))
    delta_usage: dict[str, Any] = {"output_tokens": usage.get("output_tokens", 0)}
    if "output_tokens_details" in usage:
        delta_usage["output_tokens_details"] = usage["output_tokens_details"]
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": body.get("stop_reason"),
                    "stop_sequence": body.get("stop_sequence"),
                },
                "usage": delta_usage,
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _block_events(index: int, block: Mapping[str, Any]) -> list[SSEEvent]:
    def start(content_block: Mapping[str, Any]) -> SSEEvent:
        return (
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": content_block},
        )

    def delta(payload: Mapping[str, Any]) -> SSEEvent:
        return (
            "content_block_delta",
            {"type": "content_block_delta", "index": index, "delta": payload},
        )

    stop: SSEEvent = ("content_block_stop", {"type": "content_block_stop", "index": index})
    kind = block.get("type")
    if kind == "text":
        text = str(block.get("text", ""))
        return [
            start({"type": "text", "text": ""}),
            *(delta({"type": "text_delta", "text": piece}) for piece in _chunks(text)),
            stop,
        ]
    if kind == "thinking":
        thinking = str(block.get("thinking", ""))
        return [
            start({"type": "thinking", "thinking": "", "signature": ""}),
            *(delta({"type": "thinking_delta", "thinking": p}) for p in _chunks(thinking)),
            delta({"type": "signature_delta", "signature": block.get("signature", "")}),
            stop,
        ]
    if kind == "tool_use":
        arguments = json.dumps(block.get("input") or {})
        return [
            start({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
            *(
                delta({"type": "input_json_delta", "partial_json": piece})
                for piece in _fragments(arguments)
            ),
            stop,
        ]
    return [start(block), stop]  # redacted thinking and server blocks arrive whole


# --- scripted responses --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FakeResponse:
    """One scripted HTTP response.

    Build it with `FakeResponse.message`, `FakeResponse.stream`, `FakeResponse.error` or
    `FakeResponse.raw`. A plain dict in a script stands for `FakeResponse.message(dict)`.
    """

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    json_body: Any = None
    """A JSON body. A `Message` body is sent as events instead when the request streams."""
    events: Sequence[SSEEvent] | None = None
    """Server-sent events, sent as they are whatever the request asked for."""
    body: bytes | None = None
    """Raw bytes, sent as they are."""
    event_delay: float = 0.0
    """Seconds to wait before each event, to test slow or cancelled streams."""

    @classmethod
    def message(
        cls, body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> FakeResponse:
        """A `Message`, as JSON or as an event stream, whichever the request asks for."""
        return cls(json_body=dict(body), headers=dict(headers or {}))

    @classmethod
    def stream(
        cls,
        events: Iterable[SSEEvent],
        *,
        headers: Mapping[str, str] | None = None,
        event_delay: float = 0.0,
    ) -> FakeResponse:
        """A server-sent event stream, e.g. `message_events(body)` plus an `error` event."""
        return cls(events=list(events), headers=dict(headers or {}), event_delay=event_delay)

    @classmethod
    def error(
        cls,
        status: int,
        error_type: str,
        error_message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> FakeResponse:
        """An error status with Anthropic's error body, e.g. `error(529, "overloaded_error", ...)`."""
        return cls(
            status=status,
            json_body=error_body(error_type, error_message),
            headers=dict(headers or {}),
        )

    @classmethod
    def raw(
        cls, body: bytes, *, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> FakeResponse:
        """Raw bytes with the given status and headers."""
        return cls(status=status, body=body, headers=dict(headers or {}))


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    body: Any
    """The parsed JSON body (`None` when the body was empty or not JSON)."""
    raw: bytes

    @property
    def streamed(self) -> bool:
        """Whether the request asked for an event stream."""
        body: Any = self.body
        return isinstance(body, dict) and cast(dict[str, Any], body).get("stream") is True


Responder = Callable[[RecordedRequest], "FakeResponse | Mapping[str, Any]"]
"""Builds the response to a request; a mapping stands for a `Message` body."""


class FakeAnthropicServer(LoopbackServer[RecordedRequest, FakeResponse | Mapping[str, Any]]):
    """A Messages API server on 127.0.0.1 (a free port), in a daemon thread.

    Use it as a context manager (or call `start` and `close`). Point a client at `url`.

    Args:
        responses: A script of responses, used one per request in order (a dict is a `Message`
            body); or a function that builds each response from the request; or `None` to
            answer every request with `DEFAULT_REPLY`. A request past the end of the script is
            answered with a 500 `api_error` saying so. Responses queued with `add` are served
            first, before the function or the default answers.
        api_key: When given, requests must carry it (`x-api-key` or `Authorization: Bearer`);
            others get a 401 `authentication_error`.
    """

    server_version = "FakeAnthropicServer/1"
    methods = ("POST", "GET", "PUT", "DELETE")

    def __init__(
        self,
        responses: Iterable[FakeResponse | Mapping[str, Any]] | Responder | None = None,
        *,
        api_key: str | None = None,
    ) -> None:
        super().__init__(responses, default_responder=lambda request: text_message(DEFAULT_REPLY))
        self._api_key = api_key

    # -- what tests look at --

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request. Raises `LookupError` when there was none."""
        with self._lock:
            if not self._requests:
                raise LookupError("FakeAnthropicServer has received no request yet.")
            return self._requests[-1]

    # -- serving --

    def serve(self, exchange: Exchange) -> None:
        """Answer one HTTP request: record it, pick its response, write it."""
        raw = exchange.request
        request = RecordedRequest(
            method=raw.method,
            path=raw.path,
            headers=dict(raw.headers),
            body=raw.json_or_none(),
            raw=raw.body,
        )
        _write(exchange, self._respond(request), streamed=request.streamed)

    def _respond(self, request: RecordedRequest) -> FakeResponse:
        number, scripted = self.record(request)
        if request.method != "POST" or request.path.split("?", 1)[0].rstrip("/") != "/v1/messages":
            return FakeResponse.error(
                404,
                "not_found_error",
                f"FakeAnthropicServer serves POST /v1/messages only, "
                f"not {request.method} {request.path}",
            )
        if self._api_key is not None and _given_key(request.headers) != self._api_key:
            return FakeResponse.error(401, "authentication_error", "invalid x-api-key")
        if scripted is None and self.responder is not None:
            scripted = self.responder(request)
        if scripted is None:
            return FakeResponse.error(
                500,
                "api_error",
                f"FakeAnthropicServer has no scripted response left for request #{number}",
            )
        if isinstance(scripted, FakeResponse):
            return scripted
        return FakeResponse.message(scripted)


def _given_key(headers: Mapping[str, str]) -> str | None:
    if "x-api-key" in headers:
        return headers["x-api-key"]
    auth = headers.get("authorization", "")
    return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None


def _message_body(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict) and cast(dict[str, Any], value).get("type") == "message":
        return cast(dict[str, Any], value)
    return None


def _write(exchange: Exchange, response: FakeResponse, *, streamed: bool) -> None:
    events = response.events
    body = _message_body(response.json_body)
    if events is None and streamed and response.status == 200 and body is not None:
        events = message_events(body)
    headers = {"request-id": "req_fake", **response.headers}
    if events is not None:
        exchange.start_stream(
            response.status, content_type="text/event-stream; charset=utf-8", headers=headers
        )
        for name, data in events:
            if response.event_delay:
                time.sleep(response.event_delay)
            exchange.send_event(json.dumps(data), event=name)
        return
    if response.body is not None:
        payload = response.body
        content_type = headers.pop("content-type", "application/octet-stream")
    else:
        json_body: Any = response.json_body
        payload = json.dumps(json_body).encode()
        content_type = headers.pop("content-type", "application/json")
    exchange.send(response.status, payload, content_type=content_type, headers=headers)
