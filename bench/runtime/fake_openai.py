"""A loopback OpenAI-compatible server for the benches, in its own process.

The first request of a run that offers tools calls `get_weather`; the request that carries the
tool's result, or one that offers no tools, gets the final text, whole or streamed as the
request asks.

Memory managers (bench_memory) get ONE operation creating one memory, in the form each asks for:
Covey's `MemoryManager` asks for structured output named `save_memory_operations` (a JSON-schema
`response_format`, or an output tool of that name) and gets the operations; Agno's
`MemoryManager` offers `add_memory` / `update_memory` / `delete_memory` tools, gets one
`add_memory` call, then (with the tool's result) a closing text. Bodies are the wire format of
`covey.models.openai.testing`, built once; the server is a bare ASGI app on uvicorn with
keep-alive, so a streamed answer does not cost a new connection and the fake's own CPU per
request stays small next to what is measured.

Every request is counted by kind, and the last body of each kind kept: `GET /bench/requests`
answers `{"counts": {kind: n}, "last": {kind: summary}}` (for bench_memory: extra model calls
per run, and what each side sends). `--delay-ms N` holds every model answer N ms, a model's
latency, so that work after the answer shows apart from work before it.

Run: `python fake_openai.py [PORT] [--delay-ms N]`; prints its base URL, then serves until
stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

from covey.models.openai.testing import reply, tool_call_reply

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

FINAL_TEXT = "It is sunny in Paris, 21 °C."
MEMORY = {"memory": "The user lives in Lyon.", "topics": ["home"]}
"""The one memory both memory managers are told to create."""
COVEY_MEMORY_TOOL = "save_memory_operations"
AGNO_MEMORY_TOOLS = frozenset({"add_memory", "update_memory", "delete_memory"})
MEMORY_SAVED = "Saved the memory."


def _payloads() -> dict[tuple[bool, bool], tuple[bytes, bytes]]:
    """(has tool result, stream) -> (body, content type)."""
    out: dict[tuple[bool, bool], tuple[bytes, bytes]] = {}
    for stream in (False, True):
        call = tool_call_reply("get_weather", {"city": "Paris"}, call_id="call_1", stream=stream)
        final = reply(text=FINAL_TEXT, stream=stream)
        for answered, fake in ((False, call), (True, final)):
            body, content_type = fake.encode()
            out[answered, stream] = body, content_type.encode()
    return out


def _memory_payloads() -> dict[tuple[str, bool], tuple[bytes, bytes]]:
    """(kind, stream) -> (body, content type) for the memory managers' requests."""
    operations = {"operations": [{"op": "create", **MEMORY}]}
    out: dict[tuple[str, bool], tuple[bytes, bytes]] = {}
    for stream in (False, True):
        fakes = {
            "covey-memory-schema": reply(text=json.dumps(operations), stream=stream),
            "covey-memory-tool": tool_call_reply(
                COVEY_MEMORY_TOOL, operations, call_id="call_m", stream=stream
            ),
            "agno-memory": tool_call_reply("add_memory", MEMORY, call_id="call_m", stream=stream),
            "agno-memory-result": reply(text=MEMORY_SAVED, stream=stream),
        }
        for kind, fake in fakes.items():
            body, content_type = fake.encode()
            out[kind, stream] = body, content_type.encode()
    return out


PAYLOADS = _payloads()
MEMORY_PAYLOADS = _memory_payloads()
DELAY = 0.0
COUNTS: dict[str, int] = {}
LAST: dict[str, dict[str, Any]] = {}


def _kind(request: dict[str, Any]) -> tuple[str, bool]:
    """What the request is: (kind, has a tool result)."""
    answered = any(m.get("role") == "tool" for m in request.get("messages", ()))
    tools = request.get("tools")
    fmt = request.get("response_format")
    if isinstance(fmt, dict) and (fmt.get("json_schema") or {}).get("name") == COVEY_MEMORY_TOOL:
        return "covey-memory-schema", answered
    if not tools:
        return "chat", answered
    names = {t.get("function", {}).get("name") for t in tools}
    if COVEY_MEMORY_TOOL in names:
        return "covey-memory-tool", answered
    if names & AGNO_MEMORY_TOOLS:
        return ("agno-memory-result" if answered else "agno-memory"), answered
    return "agent", answered


def _summary(request: dict[str, Any], size: int) -> dict[str, Any]:
    """What a request carried, for the bench's table."""
    fmt = request.get("response_format")
    return {
        "bytes": size,
        "messages": len(request.get("messages", ())),
        "tools": [t.get("function", {}).get("name") for t in request.get("tools") or ()],
        "response_format": fmt.get("type") if isinstance(fmt, dict) else None,
        "tool_choice": request.get("tool_choice"),
    }


async def _send_json(send: Send, data: Any) -> None:
    body = json.dumps(data).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    if scope.get("path") == "/bench/requests":
        await _send_json(send, {"counts": COUNTS, "last": LAST})
        return
    raw = b"".join(chunks)
    request: dict[str, Any] = json.loads(raw or b"{}")
    kind, answered = _kind(request)
    COUNTS[kind] = COUNTS.get(kind, 0) + 1
    stream = bool(request.get("stream"))
    if kind in ("agent", "chat"):
        body, content_type = PAYLOADS[answered or kind == "chat", stream]
    else:
        LAST[kind] = _summary(request, len(raw))
        body, content_type = MEMORY_PAYLOADS[kind, stream]
    if DELAY:
        await asyncio.sleep(DELAY)
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _serve(port: int) -> None:
    # Bound and listening before the URL is printed: early connections wait in the backlog.
    # IPPROTO_TCP, not `socket.socket()`'s proto 0: asyncio sets TCP_NODELAY on an accepted
    # connection only when its proto says TCP. Without it the body of a JSON answer (a second
    # write after the headers) waits for the client's delayed ACK: ~40 ms per request on Linux.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", port))
    sock.listen(512)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}/v1", flush=True)
    await asyncio.to_thread(sys.stdin.read)
    server.should_exit = True
    await task


def main() -> None:
    global DELAY
    args = sys.argv[1:]
    if "--delay-ms" in args:
        at = args.index("--delay-ms")
        DELAY = float(args[at + 1]) / 1000
        del args[at : at + 2]
    asyncio.run(_serve(int(args[0]) if args else 0))


if __name__ == "__main__":
    main()
