"""The SSRF guard: every hop checked, the checked address used, bodies capped."""

from __future__ import annotations

import ipaddress
import socket

import anyio
import pytest

from covey.knowledge import FetchError, Knowledge, UnsafeURLError, fetch_url
from covey.knowledge.fetch import is_public_address
from covey.testing import HashEmbedder, InMemoryVectorStore
from covey.testing.http import Exchange, LoopbackServer, RecordedRequest


class Streamer(LoopbackServer[RecordedRequest, bytes]):
    """Answers with a body of unknown length (no content-length), in pieces."""

    def serve(self, exchange: Exchange) -> None:
        self.record(exchange.request, take_scripted=False)
        exchange.start_stream(200, content_type="text/plain")
        for _ in range(10):
            exchange.write(b"x" * 1000)


async def test_a_loopback_url_is_refused_by_default(site) -> None:
    site.add("/doc", b"hello", content_type="text/plain")

    with pytest.raises(UnsafeURLError, match=r"127\.0\.0\.1"):
        await fetch_url(f"{site.origin}/doc")

    assert site.requests == []


async def test_an_allowed_host_port_is_fetched(site) -> None:
    site.add("/doc", b"hello", content_type="text/plain")

    fetched = await fetch_url(f"{site.origin}/doc", allow_private=[site.host_port])

    assert fetched.content == b"hello"
    assert fetched.content_type == "text/plain"


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://localhost:{other}/",
        "http://127.0.0.1:{other}/",
        "http://10.0.0.1/",
        "http://0.0.0.0:{port}/",
        "file:///etc/passwd",
    ],
)
async def test_a_redirect_to_a_private_address_is_refused(site, target: str) -> None:
    with Streamer() as other:
        other_port = other.url.rsplit(":", 1)[1].split("/")[0]
        port = site.host_port.rsplit(":", 1)[1]
        location = target.format(port=port, other=other_port)
        site.add("/start", status=302, headers={"Location": "/hop"})
        site.add("/hop", status=301, headers={"Location": location})

        with pytest.raises(UnsafeURLError):
            await fetch_url(f"{site.origin}/start", allow_private=[site.host_port])

        assert [r.path for r in site.requests] == ["/start", "/hop"]
        assert other.requests == []


async def test_redirects_are_followed_within_the_allowed_hosts(site) -> None:
    site.add("/a", status=307, headers={"Location": f"{site.origin}/b"})
    site.add("/b", status=303, headers={"Location": "/c"})
    site.add("/c", b"final", content_type="text/plain")

    fetched = await fetch_url(f"{site.origin}/a", allow_private=[site.host_port])

    assert fetched.content == b"final"
    assert fetched.url == f"{site.origin}/c"


async def test_more_than_max_redirects_is_an_error(site) -> None:
    site.add("/loop", status=302, headers={"Location": "/loop"})

    with pytest.raises(FetchError, match="more than 5 times"):
        await fetch_url(f"{site.origin}/loop", allow_private=[site.host_port])

    assert len(site.requests) == 6


async def test_bodies_over_the_limit_are_cut_off(site) -> None:
    site.add("/big", b"y" * 2000, content_type="text/plain")
    with pytest.raises(FetchError, match="over the limit"):
        await fetch_url(f"{site.origin}/big", allow_private=[site.host_port], max_bytes=1000)

    with Streamer() as streamer:
        host_port = streamer.url.removeprefix("http://").rstrip("/")
        with pytest.raises(FetchError, match="over the limit"):
            await fetch_url(f"http://{host_port}/", allow_private=[host_port], max_bytes=5000)


async def test_error_statuses_and_unreachable_hosts_are_fetch_errors(site) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        await fetch_url(f"{site.origin}/missing", allow_private=True)
    origin = site.origin
    site.close()
    with pytest.raises(FetchError, match="Cannot fetch"):
        await fetch_url(f"{origin}/gone", allow_private=True)


async def test_the_connection_goes_to_the_checked_address_with_the_original_host(
    site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The name resolves only through the guard's own lookup; the HTTP client never resolves
    # it again (offline, it could not), so no second DNS answer can swap the address.
    port = int(site.host_port.rsplit(":", 1)[1])
    lookups: list[str] = []

    async def fake_getaddrinfo(host: str, port_: int, **_: object) -> list[tuple]:
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port_))]

    monkeypatch.setattr(anyio, "getaddrinfo", fake_getaddrinfo)
    site.add("/doc", b"ok", content_type="text/plain")

    fetched = await fetch_url(
        f"http://docs.internal.test:{port}/doc", allow_private=[f"docs.internal.test:{port}"]
    )

    assert fetched.content == b"ok"
    assert lookups == ["docs.internal.test"]
    assert site.requests[0].headers["host"] == f"docs.internal.test:{port}"


async def test_errors_never_show_credentials_or_query_strings(site) -> None:
    with pytest.raises(UnsafeURLError) as refused:
        await fetch_url(f"http://user:hunter2@{site.host_port}/doc?token=s3cret")
    assert "hunter2" not in str(refused.value)
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("224.0.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("ff02::1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


async def test_knowledge_refuses_a_private_url_and_records_why(site) -> None:
    site.add("/doc", b"hello", content_type="text/plain")
    kb = Knowledge("docs", vector_store=InMemoryVectorStore(), embedder=HashEmbedder())

    with pytest.raises(UnsafeURLError):
        await kb.ingest(f"{site.origin}/doc")

    [row] = (await kb.list_contents()).items
    assert row.status == "failed"
    assert row.status_message is not None and "non-public" in row.status_message
    assert site.requests == []
