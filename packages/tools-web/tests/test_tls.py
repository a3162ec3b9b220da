"""HTTPS: the connection is pinned to the checked address, yet the certificate is still
verified against the URL's host name (a self-signed one is refused, not waved through)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from covey.tools.web import FetchError, fetch_url


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("content-length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, list[str]]]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed to make the test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server_names: list[str] = []
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name) or None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd.server_address[1], server_names
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


async def test_a_self_signed_certificate_is_refused_and_sni_names_the_host(tls_server) -> None:
    port, server_names = tls_server

    with pytest.raises(FetchError, match="Cannot fetch https://localhost"):
        await fetch_url(f"https://localhost:{port}/", allow_private=[f"localhost:{port}"])

    # The TCP connection went to the checked 127.0.0.1, but TLS asked for "localhost".
    assert server_names == ["localhost"]
