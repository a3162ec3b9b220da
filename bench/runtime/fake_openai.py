"""A loopback OpenAI-compatible server for the runtime bench, in its own process.

The first request of a run calls `get_weather`; the request that carries the tool's result gets
the final text. Prints its base URL, then serves until stdin closes.
"""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer

from covey.models.openai.testing import (
    FakeOpenAIServer,
    FakeReply,
    RecordedRequest,
    reply,
    tool_call_reply,
)


def respond(request: RecordedRequest) -> FakeReply:
    body = request.json or {}
    stream = bool(body.get("stream"))
    if any(m.get("role") == "tool" for m in body.get("messages", [])):
        return reply(text="It is sunny in Paris, 21 °C.", stream=stream)
    return tool_call_reply("get_weather", {"city": "Paris"}, stream=stream)


def main() -> None:
    # socketserver's default listen backlog (5) drops connections under 16 concurrent clients.
    ThreadingHTTPServer.request_queue_size = 256
    with FakeOpenAIServer(respond) as server:
        print(server.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
