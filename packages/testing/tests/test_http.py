"""`covey.testing.http` over real loopback HTTP: lifecycle, recording, scripts, bodies, SSE."""

from __future__ import annotations

import http.client
import json
import re
import socket
import struct
import threading
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest

import covey.testing.http as loopback
from covey.testing.http import Exchange, LoopbackServer, RecordedRequest, format_sse


class EchoServer(LoopbackServer[RecordedRequest, str]):
    """Answers with the next scripted text, else the responder's, else `"default"`."""

    url_path = "/api"

    def serve(self, exchange: Exchange) -> None:
        number, scripted = self.record(exchange.request)
        text = scripted
        if text is None:
            text = self.responder(exchange.request) if self.responder else "default"
        if exchange.request.path.startswith("/api/stream"):
            exchange.start_stream(headers={"x-number": str(number)})
            exchange.send_event(json.dumps({"text": text}), event="message")
            exchange.send_event("[DONE]")
            return
        exchange.send(
            200,
            json.dumps({"text": text, "number": number}).encode(),
            headers={"x-number": str(number)},
        )


class StreamingServer11(LoopbackServer[RecordedRequest, str]):
    """HTTP/1.1 with a product name; streams `\\r\\n`-framed events on `/stream`."""

    protocol_version = "HTTP/1.1"
    server_version = "Streamer/2"

    def serve(self, exchange: Exchange) -> None:
        self.record(exchange.request)
        if exchange.request.path == "/stream":
            exchange.start_stream(content_type="text/event-stream; charset=utf-8")
            for word in ("one", "two"):
                exchange.send_event(word, newline="\r\n")
            return
        exchange.send(201, b"plain", content_type="text/plain")


def get(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=data, headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, dict(response.headers), response.read()


def test_url_needs_a_running_server_and_close_frees_the_port() -> None:
    server = EchoServer()
    with pytest.raises(RuntimeError, match="EchoServer is not running"):
        _ = server.url
    assert server.start() is server
    url = server.url
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api", url)
    assert server.start().url == url  # starting again keeps the same server
    server.close()
    server.close()  # idempotent
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
    with pytest.raises(urllib.error.URLError):
        get(f"{url}/after-close")


def test_serving_thread_is_a_named_daemon_and_stops_on_exit() -> None:
    with EchoServer() as server:
        [thread] = [t for t in threading.enumerate() if t.name == "EchoServer"]
        assert thread.daemon
        assert thread.is_alive()
        get(f"{server.url}/x")
    assert not thread.is_alive()


def test_requests_are_recorded_as_received() -> None:
    with EchoServer() as server:
        get(
            f"{server.url}/chat?alt=sse",
            data=b'{"model": "m"}',
            headers={"Content-Type": "application/json", "X-Api-Key": "k"},
        )
        get(f"{server.url}/models")
    post, plain = server.requests
    assert (post.method, post.path) == ("POST", "/api/chat?alt=sse")
    assert post.headers["content-type"] == "application/json"
    assert post.headers["x-api-key"] == "k"
    assert post.body == b'{"model": "m"}'
    assert post.json == {"model": "m"}
    assert (plain.method, plain.path, plain.body, plain.json) == ("GET", "/api/models", b"", None)


def test_json_or_none_tolerates_a_body_that_is_not_json() -> None:
    request = RecordedRequest(method="POST", path="/", headers={}, body=b"not json")
    with pytest.raises(ValueError, match="Expecting value"):
        _ = request.json
    assert request.json_or_none() is None
    assert RecordedRequest("POST", "/", {}, b"[1]").json_or_none() == [1]


def test_script_answers_in_order_then_the_fallback() -> None:
    with EchoServer(["first", "second"]) as server:
        assert server.pending == 2
        answers = [json.loads(get(f"{server.url}/x")[2]) for _ in range(3)]
        server.add("added")
        assert server.pending == 1
        added = json.loads(get(f"{server.url}/x")[2])
    assert answers == [
        {"text": "first", "number": 1},
        {"text": "second", "number": 2},
        {"text": "default", "number": 3},
    ]
    assert added == {"text": "added", "number": 4}
    assert server.pending == 0
    assert len(server.requests) == 4


def test_a_responder_builds_answers_and_a_default_stands_in_for_none() -> None:
    def shout(request: RecordedRequest) -> str:
        return request.path.upper()

    with EchoServer(shout) as server:
        assert server.responder is shout
        assert json.loads(get(f"{server.url}/hi")[2])["text"] == "/API/HI"
    assert EchoServer(None, default_responder=shout).responder is shout
    assert EchoServer(["x"], default_responder=shout).responder is None


def test_record_can_leave_the_script_alone() -> None:
    server = EchoServer(["kept"])
    request = RecordedRequest("GET", "/", {}, b"")
    assert server.record(request, take_scripted=False) == (1, None)
    assert server.pending == 1
    assert server.record(request) == (2, "kept")
    assert server.record(request) == (3, None)
    assert server.requests == [request, request, request]


def test_concurrent_requests_take_scripted_answers_in_the_order_they_are_recorded() -> None:
    answers = [f"answer {i}" for i in range(16)]
    bodies: list[dict[str, Any]] = []
    lock = threading.Lock()
    with EchoServer(answers) as server:

        def call() -> None:
            body = json.loads(get(f"{server.url}/x")[2])
            with lock:
                bodies.append(body)

        threads = [threading.Thread(target=call) for _ in answers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert sorted(b["number"] for b in bodies) == list(range(1, 17))
    assert all(b["text"] == f"answer {b['number'] - 1}" for b in bodies)


def test_send_writes_status_type_length_and_headers() -> None:
    with EchoServer(["hi"]) as server:
        status, headers, body = get(f"{server.url}/x")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(body))
    assert headers["x-number"] == "1"
    assert headers["Server"].startswith("BaseHTTP/")  # no `server_version`: the stdlib's


def test_an_event_stream_over_http_1_0() -> None:
    with EchoServer(["streamed"]) as server:
        status, headers, body = get(f"{server.url}/stream")
    assert status == 200
    assert headers["content-type"] == "text/event-stream"
    assert headers["cache-control"] == "no-cache"
    assert headers["x-number"] == "1"
    assert "content-length" not in headers
    assert "connection" not in headers  # HTTP/1.0 closes every connection anyway
    assert body == b'event: message\ndata: {"text": "streamed"}\n\ndata: [DONE]\n\n'


def test_http_1_1_keeps_whole_bodies_alive_and_closes_after_a_stream() -> None:
    with StreamingServer11() as server:
        address = urlsplit(server.url)
        assert address.hostname is not None
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
        try:
            for _ in range(2):  # the same connection serves both
                connection.request("GET", "/plain")
                response = connection.getresponse()
                assert (response.status, response.read()) == (201, b"plain")
                assert response.getheader("Server", "").startswith("Streamer/2")
                assert response.getheader("content-type") == "text/plain"
            connection.request("GET", "/stream")
            response = connection.getresponse()
            assert response.getheader("connection") == "close"
            assert response.getheader("content-type") == "text/event-stream; charset=utf-8"
            assert response.read() == b"data: one\r\n\r\ndata: two\r\n\r\n"
            assert response.will_close
        finally:
            connection.close()
    assert len(server.requests) == 3


def test_unsupported_methods_get_501_and_are_not_recorded() -> None:
    class PutServer(EchoServer):
        methods = ("PUT",)

    with PutServer() as server:
        request = urllib.request.Request(f"{server.url}/x", data=b"{}", method="PUT")
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        with pytest.raises(urllib.error.HTTPError) as caught:
            get(f"{server.url}/x")
    assert caught.value.code == 501
    assert [r.method for r in server.requests] == ["PUT"]


def test_a_client_that_goes_away_mid_stream_does_not_break_the_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    gone = threading.Event()

    class SlowStream(LoopbackServer[RecordedRequest, str]):
        def serve(self, exchange: Exchange) -> None:
            self.record(exchange.request)
            if exchange.request.path == "/slow":
                exchange.start_stream()
                gone.wait(5)
                for _ in range(200):  # the peer has reset the connection: writing fails
                    exchange.write(b"data: x\n\n" * 100)
                return
            exchange.send(200, b"{}")

    with SlowStream() as server:
        address = urlsplit(server.url)
        assert address.hostname is not None
        with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
            sock.sendall(b"GET /slow HTTP/1.0\r\n\r\n")
            assert sock.recv(12) == b"HTTP/1.0 200"
            # Linger 0: closing sends a reset, as a client that gives up does.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        gone.set()
        assert get(f"{server.url}/after")[0] == 200
    assert [r.path for r in server.requests] == ["/slow", "/after"]
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("data", "event", "expected"),
    [
        ("{}", None, "data: {}\n\n"),
        ("[DONE]", None, "data: [DONE]\n\n"),
        ("{}", "ping", "event: ping\ndata: {}\n\n"),
    ],
)
def test_format_sse(data: str, event: str | None, expected: str) -> None:
    assert format_sse(data, event=event) == expected


def test_format_sse_with_crlf() -> None:
    assert format_sse("x", event="e", newline="\r\n") == "event: e\r\ndata: x\r\n\r\n"


def test_the_module_example_runs() -> None:
    """The example in the module docstring is what a plugin author copies: it must work."""
    doc = loopback.__doc__ or ""
    [code] = re.findall(r"```python\n(.*?)```", doc, flags=re.DOTALL)
    lines = code.splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    namespace: dict[str, object] = {}
    exec("\n".join(line[indent:] for line in lines), namespace)
    assert "FakeGreeter" in namespace
