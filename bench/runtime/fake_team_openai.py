"""A loopback OpenAI-compatible server for the team bench, in its own process.

A leader's request (one offering `delegate_task` — Covey — or `delegate_task_to_member` — Agno)
gets a call of that tool until the conversation holds as many tool results as the first user
message's `delegate N times` asks, then the final text; any other request (a member's) gets
`done`. Whole responses only (the bench runs `run`/`arun`, which do not stream).

Run: `python fake_team_openai.py [PORT]`; prints its base URL, then serves until stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

from covey.models.openai.testing import reply, tool_call_reply

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

MEMBER = "worker"
FINAL_TEXT = "All delegations done."
_ARGS = {"delegate_task": "member", "delegate_task_to_member": "member_id"}
_COUNT = re.compile(r"delegate (\d+) times")


def _body(fake: Any) -> tuple[bytes, bytes]:
    body, content_type = fake.encode()
    return body, content_type.encode()


MEMBER_REPLY = _body(reply(text="done"))
LEADER_FINAL = _body(reply(text=FINAL_TEXT))


def answer(request: dict[str, Any]) -> tuple[bytes, bytes]:
    """The body and content type for one chat-completions request."""
    tools = {t["function"]["name"] for t in request.get("tools") or ()}
    delegation = next((name for name in _ARGS if name in tools), None)
    if delegation is None:
        return MEMBER_REPLY
    messages = request.get("messages", ())
    done = sum(m.get("role") == "tool" for m in messages)
    prompt = next((str(m.get("content")) for m in messages if m.get("role") == "user"), "")
    match = _COUNT.search(prompt)
    wanted = int(match.group(1)) if match else 0
    if done >= wanted:
        return LEADER_FINAL
    arguments = {_ARGS[delegation]: MEMBER, "task": "Say done."}
    return _body(tool_call_reply(delegation, arguments, call_id=f"call_{done + 1}"))


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
    body, content_type = answer(json.loads(b"".join(chunks) or b"{}"))
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _serve(port: int) -> None:
    # IPPROTO_TCP, not `socket.socket()`'s proto 0: asyncio sets TCP_NODELAY on an accepted
    # connection only when its proto says TCP. Without it the body of a JSON answer (a second
    # write after the headers) waits for the client's delayed ACK: ~40 ms per request on Linux.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", port))
    sock.listen(512)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}/v1", flush=True)
    await asyncio.to_thread(sys.stdin.read)
    server.should_exit = True
    await task


def main() -> None:
    asyncio.run(_serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0))


if __name__ == "__main__":
    main()
