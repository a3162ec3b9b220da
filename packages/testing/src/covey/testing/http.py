"""`LoopbackServer`: the plumbing of a fake HTTP API for tests, standard library only.

A fake of a provider's API (`FakeOpenAIServer`, `FakeAnthropicServer`, `FakeGeminiServer`, or
your own) is a `LoopbackServer` subclass that says how to answer one request; this module does
the rest: a `ThreadingHTTPServer` on `127.0.0.1` at a free port, in a daemon thread; `start`,
`close` and the context manager; the list of requests received; answers scripted in order or
built by a function of the request; and writing JSON bodies and server-sent events.

Example:
    ```python
    import json
    import urllib.request

    from covey.testing.http import Exchange, LoopbackServer, RecordedRequest


    class FakeGreeter(LoopbackServer[RecordedRequest, str]):
        def serve(self, exchange: Exchange) -> None:
            _, scripted = self.record(exchange.request)
            answer = scripted if scripted is not None else "hello"
            exchange.send(200, json.dumps({"text": answer}).encode())


    with FakeGreeter(["bonjour"]) as server:
        with urllib.request.urlopen(f"{server.url}/greet") as response:
            assert json.load(response) == {"text": "bonjour"}
        assert server.requests[0].path == "/greet"
    ```
"""

from __future__ import annotations

import contextlib
import json
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

__all__ = ["Exchange", "LoopbackServer", "LoopbackSite", "Page", "RecordedRequest", "format_sse"]

RequestT = TypeVar("RequestT")
AnswerT = TypeVar("AnswerT")


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request a loopback server received, as it came off the wire.

    Attributes:
        method: `GET`, `POST`, ...
        path: The path, e.g. `/v1/chat/completions` (query string included).
        headers: Header names lower-cased.
        body: The raw body.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON (`None` when empty); raises `ValueError` when it is not JSON."""
        return json.loads(self.body) if self.body else None

    def json_or_none(self) -> Any:
        """The body parsed as JSON, or `None` when it is empty or not JSON."""
        try:
            return self.json
        except ValueError:
            return None


def format_sse(data: str, *, event: str | None = None, newline: str = "\n") -> str:
    """One server-sent event: an optional `event:` line, a `data:` line, then a blank line.

    Args:
        data: The `data:` payload, already serialised (JSON text, or e.g. `[DONE]`).
        event: The event name, when the protocol names its events.
        newline: The line ending, `\\n` or `\\r\\n` (servers use either).
    """
    head = f"event: {event}{newline}" if event is not None else ""
    return f"{head}data: {data}{newline}{newline}"


class Exchange:
    """One request and the means to answer it, handed to `LoopbackServer.serve`.

    Answer with `send` (a whole body), or with `start_stream` then `send_event` for each
    server-sent event. A client that goes away mid-answer is not an error: the server drops
    the connection quietly.

    Attributes:
        request: The request, as received.
    """

    __slots__ = ("_handler", "request")

    def __init__(self, request: RecordedRequest, handler: BaseHTTPRequestHandler) -> None:
        self.request = request
        self._handler = handler

    def send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Answer with a whole body: status, `content-type`, `content-length`, then `headers`."""
        handler = self._handler
        handler.send_response(status)
        handler.send_header("content-type", content_type)
        handler.send_header("content-length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    def start_stream(
        self,
        status: int = 200,
        *,
        content_type: str = "text/event-stream",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Begin an answer of unknown length (server-sent events): status, `content-type`,
        `cache-control: no-cache`, `connection: close` on HTTP/1.1, then `headers`. The
        connection closes when `serve` returns, which ends the stream."""
        handler = self._handler
        handler.send_response(status)
        handler.send_header("content-type", content_type)
        handler.send_header("cache-control", "no-cache")
        if handler.protocol_version != "HTTP/1.0":
            handler.send_header("connection", "close")
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.close_connection = True

    def send_event(self, data: str, *, event: str | None = None, newline: str = "\n") -> None:
        """Write one server-sent event (see `format_sse`) and flush it to the client."""
        self.write(format_sse(data, event=event, newline=newline).encode())

    def write(self, chunk: bytes) -> None:
        """Write raw bytes of a started stream and flush them to the client."""
        self._handler.wfile.write(chunk)
        self._handler.wfile.flush()


class LoopbackServer(ABC, Generic[RequestT, AnswerT]):
    """An HTTP server on `127.0.0.1` (a free port) in a daemon thread, for fakes of HTTP APIs.

    Subclass it and implement `serve`, which answers one request; call `record` there to keep
    the request and take its scripted answer. Use the server as a context manager (or call
    `start` and `close`) and point a client at `url`.

    `RequestT` is what `requests` holds (often `RecordedRequest`, or a richer view of it that
    `serve` builds); `AnswerT` is what a script holds and a responder returns.

    Args:
        script: Answers served one per request, in order; or a responder, a function that builds
            each answer from the request; or `None` for `default_responder`.
        default_responder: The responder used when `script` is `None`.

    Attributes:
        protocol_version: `HTTP/1.0` (one request per connection) or `HTTP/1.1`.
        server_version: The `Server` header's product, or `None` for the standard library's.
        methods: The HTTP methods served; others get a 501 from the standard library.
        url_path: Appended to the root to make `url`, e.g. `/v1`.
        poll_interval: How often, in seconds, the serving thread checks for `close`.
    """

    protocol_version: ClassVar[str] = "HTTP/1.0"
    server_version: ClassVar[str | None] = None
    methods: ClassVar[tuple[str, ...]] = ("GET", "POST")
    url_path: ClassVar[str] = ""
    poll_interval: ClassVar[float] = 0.05

    def __init__(
        self,
        script: Iterable[AnswerT] | Callable[[RequestT], AnswerT] | None = None,
        *,
        default_responder: Callable[[RequestT], AnswerT] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._queue: deque[AnswerT] = deque()
        self._responder: Callable[[RequestT], AnswerT] | None = None
        if script is None:
            self._responder = default_responder
        elif callable(script):
            self._responder = script
        else:
            self._queue.extend(script)
        self._requests: list[RequestT] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- answering --------------------------------------------------------------------------------

    @abstractmethod
    def serve(self, exchange: Exchange) -> None:
        """Answer `exchange.request`; runs in a server thread, one call per request."""

    def record(
        self, request: RequestT, *, take_scripted: bool = True
    ) -> tuple[int, AnswerT | None]:
        """Append `request` to `requests` and, when `take_scripted`, take the next scripted
        answer; both at once, so concurrent requests get answers in the order they are recorded.

        Returns:
            The request's number (1 for the first) and the scripted answer (`None` when the
            script is empty or was not asked for).
        """
        with self._lock:
            self._requests.append(request)
            scripted = self._queue.popleft() if take_scripted and self._queue else None
            return len(self._requests), scripted

    @property
    def responder(self) -> Callable[[RequestT], AnswerT] | None:
        """The function that builds answers, if the server was given one (or a default)."""
        return self._responder

    def add(self, *answers: AnswerT) -> None:
        """Queue more scripted answers."""
        with self._lock:
            self._queue.extend(answers)

    @property
    def pending(self) -> int:
        """Scripted answers not served yet."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RequestT]:
        """Every request received, in order."""
        return self._requests

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to give a client, e.g. `http://127.0.0.1:54321` plus `url_path`."""
        if self._httpd is None:
            raise RuntimeError(
                f"{type(self).__name__} is not running: use it in a `with` block (or call start())"
            )
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{self.url_path}"

    def start(self) -> Self:
        """Start serving (does nothing when already serving); returns the server."""
        if self._httpd is None:
            httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
            httpd.daemon_threads = True
            # A short poll interval keeps `close` fast (the default waits up to half a second).
            thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": self.poll_interval},
                name=type(self).__name__,
                daemon=True,
            )
            thread.start()
            self._httpd, self._thread = httpd, thread
        return self

    def close(self) -> None:
        """Stop serving and free the port. Safe to call more than once."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True)
class Page:
    """What a `LoopbackSite` answers for one path."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict[str, str])


class LoopbackSite(LoopbackServer[RecordedRequest, Page]):
    """A loopback web site: `pages` maps a path (query string ignored) to what it answers;
    other paths are 404. For testing fetchers, readers and redirect handling."""

    def __init__(self) -> None:
        super().__init__()
        self.pages: dict[str, Page] = {}

    def serve(self, exchange: Exchange) -> None:
        self.record(exchange.request, take_scripted=False)
        path = exchange.request.path.split("?", 1)[0]
        page = self.pages.get(path, Page(404, b"not found", "text/plain"))
        exchange.send(page.status, page.body, content_type=page.content_type, headers=page.headers)

    def add_page(
        self,
        path: str,
        body: bytes = b"",
        *,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer `path` with `body` (and `status`, `content_type`, `headers`)."""
        self.pages[path] = Page(status, body, content_type, headers or {})

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return self.url.rstrip("/")

    @property
    def host_port(self) -> str:
        """`127.0.0.1:<port>`, as an SSRF guard's allow-list takes it."""
        return self.origin.removeprefix("http://")


def _handler_class(owner: LoopbackServer[Any, Any]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = owner.protocol_version
        server_version = owner.server_version or BaseHTTPRequestHandler.server_version

        def log_message(self, format: str, *args: Any) -> None:
            return None  # quiet: tests read `requests`, not stderr

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = RecordedRequest(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=raw,
            )
            # A client that went away (a timeout, a cancelled stream) needs no answer.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                owner.serve(Exchange(request, self))

    for method in owner.methods:
        setattr(Handler, f"do_{method}", Handler._serve)  # pyright: ignore[reportPrivateUsage]
    return Handler
