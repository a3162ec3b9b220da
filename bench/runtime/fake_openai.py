"""A loopback OpenAI-compatible server for the benches, in its own process.

The first request of a run calls `get_weather`; the request that carries the tool's result gets
the final text, whole or streamed as the request asks. Bodies are the wire format of
`covey.models.openai.testing`, built once; the server is a bare ASGI app on uvicorn with
keep-alive, so a streamed answer does not cost a new connection and the fake's own CPU per
request stays small next to what is measured.

Run: `python fake_openai.py [PORT]`; prints its base URL, then serves until stdin closes.
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


PAYLOADS = _payloads()


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
    request: dict[str, Any] = json.loads(b"".join(chunks) or b"{}")
    answered = any(m.get("role") == "tool" for m in request.get("messages", ()))
    body, content_type = PAYLOADS[answered, bool(request.get("stream"))]
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _serve(port: int) -> None:
    # Bound and listening before the URL is printed: early connections wait in the backlog.
    sock = socket.socket()
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
    asyncio.run(_serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0))


if __name__ == "__main__":
    main()
