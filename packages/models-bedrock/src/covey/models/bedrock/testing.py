"""`FakeBedrockServer`: a loopback server of the Bedrock runtime API, for offline tests and examples.

It speaks the wire format the AWS SDK speaks, so boto3 runs unchanged against it (pass
`endpoint_url=server.url`, with any static credentials):

- `POST /model/{modelId}/converse`: a Converse response as JSON;
- `POST /model/{modelId}/converse-stream`: the same response as AWS's binary event stream
  (`application/vnd.amazon.eventstream`: `messageStart`, `contentBlockStart/Delta/Stop`,
  `messageStop`, `metadata`), or scripted events, exceptions included;
- `POST /model/{modelId}/invoke`: Titan text embeddings v2 and Cohere embed JSON bodies;
- errors as AWS sends them: the status, an `x-amzn-errortype` header and `{"message": ...}`.

Every request is recorded with its decoded model id, JSON body and headers (the SigV4
`Authorization` header among them). With `access_key_id`, a request signed with another key is
refused as AWS does (403 `UnrecognizedClientException`). It imports neither boto3 nor Covey's
adapter.

Example:
    ```python
    from covey.models.bedrock.testing import FakeBedrockServer, text_response

    with FakeBedrockServer([text_response("Hi!")]) as server:
        ...  # boto3.client("bedrock-runtime", endpoint_url=server.url, ...)
    ```
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import struct
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import unquote

try:
    from covey.testing.http import Exchange, LoopbackServer
except ModuleNotFoundError as error:  # the fake server is for tests: covey-testing is an extra
    if error.name is None or not error.name.startswith("covey.testing"):
        raise
    raise ImportError(
        "covey.models.bedrock.testing needs covey-testing: pip install covey-models-bedrock[testing]"
    ) from error

__all__ = [
    "DEFAULT_REPLY",
    "BedrockRequest",
    "FakeBedrockServer",
    "FakeResponse",
    "StreamEvent",
    "converse_response",
    "decode_bytes",
    "encode_event",
    "encode_message",
    "exception_event",
    "fake_embedding",
    "response_events",
    "text_response",
    "tool_call_response",
]

DEFAULT_REPLY = "Hello from FakeBedrockServer."
"""The text a server built without a script answers every Converse request with."""

EVENTSTREAM = "application/vnd.amazon.eventstream"

StreamEvent = tuple[str, Mapping[str, Any]]
"""One ConverseStream event: its type (`contentBlockDelta`...) and its JSON payload. An
exception event has a type ending in `Exception` (`throttlingException`)."""


# --- the binary event stream ---------------------------------------------------------------------


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    # name length (1 byte), name, value type 7 (string), value length (2 bytes), value
    return (
        struct.pack("!B", len(raw_name))
        + raw_name
        + struct.pack("!BH", 7, len(raw_value))
        + raw_value
    )


def encode_message(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One message of the `application/vnd.amazon.eventstream` framing.

    A prelude (total length and headers length, 4 bytes each, big-endian, then the CRC32 of
    those 8 bytes), the headers (string-valued), the payload, and the CRC32 of everything
    before it.
    """
    raw_headers = b"".join(_header(name, value) for name, value in headers.items())
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack("!II", total, len(raw_headers))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + raw_headers + payload
    return body + struct.pack("!I", binascii.crc32(body) & 0xFFFFFFFF)


def encode_event(event_type: str, payload: Mapping[str, Any]) -> bytes:
    """A ConverseStream event (or, for a type ending in `Exception`, an exception event)."""
    data = json.dumps(payload).encode()
    if event_type.endswith("Exception"):
        headers = {
            ":message-type": "exception",
            ":exception-type": event_type,
            ":content-type": "application/json",
        }
    else:
        headers = {
            ":message-type": "event",
            ":event-type": event_type,
            ":content-type": "application/json",
        }
    return encode_message(headers, data)


def exception_event(exception_type: str, message: str) -> StreamEvent:
    """An exception inside a stream, e.g. `exception_event("throttlingException", "Slow down")`."""
    return (exception_type, {"message": message})


# --- Converse bodies -----------------------------------------------------------------------------


def converse_response(
    content: Sequence[Mapping[str, Any]],
    *,
    stop_reason: str = "end_turn",
    input_tokens: int = 10,
    output_tokens: int = 5,
    cache_read_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    trace: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A Converse response body with these content blocks and usage.

    `input_tokens` is what Bedrock counts outside the cache; `totalTokens` adds everything.
    Blocks are the wire's: `{"text": ...}`, `{"toolUse": {...}}`, `{"reasoningContent": {...}}`
    (a `redactedContent` there is base64 text, as on the wire).
    """
    usage: dict[str, Any] = {
        "inputTokens": input_tokens,
        "outputTokens": output_tokens,
        "totalTokens": input_tokens
        + output_tokens
        + (cache_read_tokens or 0)
        + (cache_write_tokens or 0),
    }
    if cache_read_tokens is not None:
        usage["cacheReadInputTokens"] = cache_read_tokens
    if cache_write_tokens is not None:
        usage["cacheWriteInputTokens"] = cache_write_tokens
    body: dict[str, Any] = {
        "output": {"message": {"role": "assistant", "content": [dict(b) for b in content]}},
        "stopReason": stop_reason,
        "usage": usage,
        "metrics": {"latencyMs": 12},
    }
    if trace is not None:
        body["trace"] = dict(trace)
    return body


def text_response(text: str, **kwargs: Any) -> dict[str, Any]:
    """A Converse response answering `text`; keyword arguments as for `converse_response`."""
    return converse_response([{"text": text}], **kwargs)


def tool_call_response(
    name: str,
    arguments: Mapping[str, Any],
    *,
    tool_use_id: str = "tooluse_fake_1",
    text: str | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """A Converse response calling one tool (after optional text), with `stopReason` `tool_use`."""
    blocks: list[Mapping[str, Any]] = [{"text": text}] if text else []
    blocks.append({"toolUse": {"toolUseId": tool_use_id, "name": name, "input": dict(arguments)}})
    kwargs.setdefault("stop_reason", "tool_use")
    return converse_response(blocks, **kwargs)


def _halves(text: str) -> list[str]:
    cut = max(1, len(text) // 2)
    return [piece for piece in (text[:cut], text[cut:]) if piece]


def response_events(body: Mapping[str, Any]) -> list[StreamEvent]:
    """The ConverseStream events that carry a Converse response body, as Bedrock sends them:
    text and tool input in two delta fragments each, `contentBlockStart` for tool use only, and
    usage in the closing `metadata` event."""
    message = cast(Mapping[str, Any], body["output"]["message"])
    events: list[StreamEvent] = [("messageStart", {"role": "assistant"})]
    for index, raw in enumerate(cast(Sequence[Mapping[str, Any]], message["content"])):
        block = dict(raw)
        if "text" in block:
            for piece in _halves(str(block["text"])) or [""]:
                events.append(
                    ("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}})
                )
        elif "toolUse" in block:
            use = cast(Mapping[str, Any], block["toolUse"])
            start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
            events.append(("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            for piece in _halves(json.dumps(use.get("input", {}))):
                delta = {"toolUse": {"input": piece}}
                events.append(("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        elif "reasoningContent" in block:
            reasoning = cast(Mapping[str, Any], block["reasoningContent"])
            deltas: list[dict[str, Any]] = []
            if "redactedContent" in reasoning:
                deltas.append({"redactedContent": reasoning["redactedContent"]})
            else:
                text_block = cast(Mapping[str, Any], reasoning.get("reasoningText", {}))
                deltas.extend({"text": piece} for piece in _halves(str(text_block.get("text", ""))))
                if text_block.get("signature"):
                    deltas.append({"signature": text_block["signature"]})
            for delta in deltas:
                events.append(
                    (
                        "contentBlockDelta",
                        {"contentBlockIndex": index, "delta": {"reasoningContent": delta}},
                    )
                )
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
    events.append(("messageStop", {"stopReason": body.get("stopReason", "end_turn")}))
    metadata: dict[str, Any] = {"usage": body.get("usage", {}), "metrics": {"latencyMs": 12}}
    if "trace" in body:
        metadata["trace"] = body["trace"]
    events.append(("metadata", metadata))
    return events


# --- requests and scripted answers ---------------------------------------------------------------

_PATH = re.compile(r"^/model/(?P<model>[^/]+)/(?P<operation>converse-stream|converse|invoke)$")


@dataclass(frozen=True, slots=True)
class BedrockRequest:
    """One request the server received.

    Attributes:
        method: `POST`.
        path: The raw path, model id percent-encoded as the SDK sent it.
        operation: `converse`, `converse-stream`, `invoke`, or `""` for an unknown path.
        model_id: The model id or inference profile ARN, decoded.
        headers: Header names lower-cased (`authorization`, `x-amz-date`...).
        body: The JSON body (`None` when empty or not JSON).
    """

    method: str
    path: str
    operation: str
    model_id: str
    headers: Mapping[str, str]
    body: Any

    @property
    def streaming(self) -> bool:
        """Whether this is a ConverseStream request."""
        return self.operation == "converse-stream"


@dataclass(frozen=True, slots=True)
class FakeResponse:
    """One scripted answer. A plain dict in a script stands for `FakeResponse.json(dict)`.

    Build it with `json` (a Converse body, streamed when the request streams), `stream`
    (events sent as they are), or `error` (an AWS error).
    """

    status: int = 200
    json_body: Any = None
    events: Sequence[StreamEvent | bytes] | None = None
    """Stream events; a `bytes` item is sent as it is (a corrupted frame, say)."""
    headers: Mapping[str, str] = field(default_factory=dict[str, str])
    drop: bool = False
    """End the stream without its closing chunk: the connection drops mid-response."""
    hold_after: int | None = None
    """Stream this many events, then wait for `release` before the rest (a stalled stream)."""
    release: threading.Event | None = None

    @classmethod
    def json(cls, body: Mapping[str, Any]) -> FakeResponse:
        """A Converse (or invoke) body; ConverseStream requests get it as events."""
        return cls(json_body=dict(body))

    @classmethod
    def stream(
        cls,
        events: Iterable[StreamEvent | bytes],
        *,
        hold_after: int | None = None,
        release: threading.Event | None = None,
        drop: bool = False,
    ) -> FakeResponse:
        """A ConverseStream answer of exactly these events (an exception event among them; a
        `bytes` item is sent as it is).

        With `hold_after`, the server sends that many events, then waits until `release` is set
        (or the client goes away) before sending the rest: a stream that stalls. With `drop`,
        the response ends without its closing chunk, as when a connection breaks.
        """
        return cls(events=list(events), hold_after=hold_after, release=release, drop=drop)

    @classmethod
    def error(
        cls,
        status: int,
        error_type: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> FakeResponse:
        """An AWS error: e.g. `error(429, "ThrottlingException", "Too many requests")`.

        The type goes in the `x-amzn-errortype` header (as AWS sends it, with a `:` suffix),
        the message in the JSON body.
        """
        all_headers = {"x-amzn-errortype": f"{error_type}:http://internal.amazon.com/coral/"}
        all_headers.update(headers or {})
        return cls(status=status, json_body={"message": message}, headers=all_headers)


Answer = FakeResponse | Mapping[str, Any]
Responder = Callable[[BedrockRequest], Answer]


class FakeBedrockServer(LoopbackServer[BedrockRequest, Answer]):
    """A loopback Bedrock runtime: Converse, ConverseStream and InvokeModel (embeddings).

    Args:
        script: Answers in order (Converse bodies, or `FakeResponse`s), or a responder
            function of the request; `None` answers `DEFAULT_REPLY` (or the last user text
            with `echo=True`).
        access_key_id: When set, requests signed with another access key id are refused with
            403 `UnrecognizedClientException`, as AWS does.
        echo: Answer each Converse request with its last user text instead of `DEFAULT_REPLY`.
        dimensions: The length of the embeddings served (Titan's default: 1024).
    """

    protocol_version = "HTTP/1.1"

    def __init__(
        self,
        script: Iterable[Answer] | Responder | None = None,
        *,
        access_key_id: str | None = None,
        echo: bool = False,
        dimensions: int = 1024,
    ) -> None:
        super().__init__(script, default_responder=self._default_answer)
        self.access_key_id = access_key_id
        self.echo = echo
        self.dimensions = dimensions

    def serve(self, exchange: Exchange) -> None:
        raw = exchange.request
        match = _PATH.match(raw.path.split("?", 1)[0])
        request = BedrockRequest(
            method=raw.method,
            path=raw.path,
            operation=match["operation"] if match else "",
            model_id=unquote(match["model"]) if match else "",
            headers=raw.headers,
            body=raw.json_or_none(),
        )
        if self.access_key_id is not None and (
            f"Credential={self.access_key_id}/" not in raw.headers.get("authorization", "")
        ):
            self.record(request, take_scripted=False)
            answer: Answer = FakeResponse.error(
                403,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        elif match is None:
            self.record(request, take_scripted=False)
            answer = FakeResponse.error(404, "UnknownOperationException", "Unknown operation")
        else:
            _, scripted = self.record(request)
            if scripted is not None:
                answer = scripted
            elif self.responder is not None:
                answer = self.responder(request)
            else:
                answer = self._default_answer(request)
        self._send(exchange, request, answer)

    def _send(self, exchange: Exchange, request: BedrockRequest, answer: Answer) -> None:
        response = answer if isinstance(answer, FakeResponse) else FakeResponse.json(answer)
        headers = {"x-amzn-requestid": "fake-request-id", **response.headers}
        if response.status >= 400 or (response.events is None and not request.streaming):
            body = json.dumps(response.json_body).encode()
            exchange.send(response.status, body, headers=headers)
            return
        events: list[StreamEvent | bytes] = list(
            response.events
            if response.events is not None
            else response_events(cast(Mapping[str, Any], response.json_body))
        )
        # As AWS sends it: one HTTP chunk per event, so a client reads each as it comes.
        headers["transfer-encoding"] = "chunked"
        exchange.start_stream(response.status, content_type=EVENTSTREAM, headers=headers)
        for number, event in enumerate(events):
            if number == response.hold_after:
                (response.release or threading.Event()).wait(60)
            data = event if isinstance(event, bytes) else encode_event(*event)
            exchange.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        if not response.drop:
            exchange.write(b"0\r\n\r\n")

    def _default_answer(self, request: BedrockRequest) -> Answer:
        if request.operation == "invoke":
            return self._embeddings(request)
        return text_response(_last_user_text(request.body) if self.echo else DEFAULT_REPLY)

    def _embeddings(self, request: BedrockRequest) -> Answer:
        body = cast(Mapping[str, Any], request.body or {})
        if "inputText" in body:  # Titan text embeddings v2
            size = int(body.get("dimensions") or self.dimensions)
            text = str(body["inputText"])
            return {
                "embedding": fake_embedding(text, size),
                "inputTextTokenCount": len(text.split()),
            }
        texts = [str(t) for t in body.get("texts", [])]  # Cohere embed
        return {
            "id": "fake-embed",
            "embeddings": [fake_embedding(t, self.dimensions) for t in texts],
            "texts": texts,
            "response_type": "embeddings_floats",
        }


def fake_embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector from hashed words: texts sharing words point alike."""
    vector = [0.0] * dimensions
    for word in re.findall(r"\w+", text.lower()) or [text]:
        digest = hashlib.sha256(word.encode()).digest()
        for i in range(0, 8, 2):
            vector[int.from_bytes(digest[i : i + 2], "big") % dimensions] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


def _last_user_text(body: Any) -> str:
    messages = cast(list[Mapping[str, Any]], cast(dict[str, Any], body or {}).get("messages", []))
    for message in reversed(messages):
        if message.get("role") == "user":
            for block in cast(list[Mapping[str, Any]], message.get("content", [])):
                if "text" in block:
                    return str(block["text"])
    return DEFAULT_REPLY


def decode_bytes(value: str) -> bytes:
    """The bytes of a base64 blob in a recorded JSON body (images, documents)."""
    return base64.b64decode(value)
