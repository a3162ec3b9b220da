"""The SSRF guard, attacked: every hop checked, the checked address used, bodies and time capped."""

from __future__ import annotations

import ipaddress
import socket

import anyio
import pytest

from covey.spec.errors import InvalidInputError
from covey.tools.web import FetchError, UnsafeURLError, fetch_url, is_public_address
from covey.tools.web.fetch import request_url


async def test_a_loopback_url_is_refused_by_default(site) -> None:
    site.add_page("/doc", b"hello", content_type="text/plain")

    with pytest.raises(UnsafeURLError, match=r"127\.0\.0\.1"):
        await fetch_url(f"{site.origin}/doc")

    assert site.requests == []


async def test_an_allowed_host_port_is_fetched(site) -> None:
    site.add_page("/doc", b"hello", content_type="text/plain")

    fetched = await fetch_url(f"{site.origin}/doc", allow_private=[site.host_port])

    assert fetched.content == b"hello"
    assert fetched.content_type == "text/plain"
    assert fetched.truncated is False


async def test_an_allow_list_entry_allows_that_port_only(site, other) -> None:
    # Allowing the site's port does not open another port on the same address.
    with pytest.raises(UnsafeURLError):
        await fetch_url(f"http://{other.host_port}/", allow_private=[site.host_port])
    assert other.requests == []


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::1]:{other}/",
        "http://[::ffff:127.0.0.1]:{other}/",
        "http://[::ffff:7f00:1]:{other}/",
        "http://localhost:{other}/",
        "http://127.0.0.1:{other}/",
        "http://127.1:{other}/",
        "http://10.0.0.1/",
        "http://192.168.0.1/",
        "http://0.0.0.0:{other}/",
        "http://[::]:{other}/",
        "http://2130706433:{other}/",
        "http://0x7f000001:{other}/",
        "http://0177.0.0.1:{other}/",
        "http://017700000001:{other}/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:{other}/_GET%20/",
        "ftp://127.0.0.1:{other}/",
        "dict://127.0.0.1:{other}/",
        "//127.0.0.1:{other}/",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
    ],
)
async def test_a_redirect_to_a_private_or_unsafe_target_is_refused(
    site, other, target: str
) -> None:
    location = target.format(other=other.host_port.rsplit(":", 1)[1])
    site.add_page("/start", status=302, headers={"Location": "/hop"})
    site.add_page("/hop", status=301, headers={"Location": location})

    with pytest.raises(InvalidInputError):  # UnsafeURLError, a typed error the tool reports
        await fetch_url(f"{site.origin}/start", allow_private=[site.host_port])

    assert [r.path for r in site.requests] == ["/start", "/hop"]
    assert other.requests == []


@pytest.mark.parametrize("scheme", ["file", "gopher", "ftp", "data", "javascript"])
async def test_non_http_schemes_are_refused_before_anything_is_sent(scheme: str) -> None:
    with pytest.raises(UnsafeURLError, match="Only http and https"):
        await fetch_url(f"{scheme}://127.0.0.1/etc/passwd", allow_private=True)


async def test_redirects_are_followed_within_the_allowed_hosts(site) -> None:
    site.add_page("/a", status=307, headers={"Location": f"{site.origin}/b"})
    site.add_page("/b", status=303, headers={"Location": "/c"})
    site.add_page("/c", b"final", content_type="text/plain")

    fetched = await fetch_url(f"{site.origin}/a", allow_private=[site.host_port])

    assert fetched.content == b"final"
    assert fetched.url == f"{site.origin}/c"


async def test_a_redirect_loop_stops_after_max_redirects(site) -> None:
    site.add_page("/loop", status=302, headers={"Location": "/loop"})

    with pytest.raises(FetchError, match="more than 5 times"):
        await fetch_url(f"{site.origin}/loop", allow_private=[site.host_port])

    assert len(site.requests) == 6


async def test_a_two_page_loop_and_a_lower_limit(site) -> None:
    site.add_page("/ping", status=301, headers={"Location": "/pong"})
    site.add_page("/pong", status=308, headers={"Location": "/ping"})

    with pytest.raises(FetchError, match="more than 2 times"):
        await fetch_url(f"{site.origin}/ping", allow_private=[site.host_port], max_redirects=2)

    assert [r.path for r in site.requests] == ["/ping", "/pong", "/ping"]


async def test_bodies_over_the_limit_are_cut_off(site, streamer) -> None:
    site.add_page("/big", b"y" * 2000, content_type="text/plain")
    with pytest.raises(FetchError, match="over the limit"):
        await fetch_url(f"{site.origin}/big", allow_private=[site.host_port], max_bytes=1000)

    with pytest.raises(FetchError, match="over the limit"):
        await fetch_url(
            f"http://{streamer.host_port}/", allow_private=[streamer.host_port], max_bytes=5000
        )


async def test_truncate_keeps_the_first_max_bytes(site, streamer) -> None:
    site.add_page("/big", b"y" * 2000, content_type="text/plain")
    fetched = await fetch_url(
        f"{site.origin}/big", allow_private=[site.host_port], max_bytes=1000, truncate=True
    )
    assert (fetched.content, fetched.truncated) == (b"y" * 1000, True)

    # No content-length: the stream is read up to the cap and the connection dropped.
    fetched = await fetch_url(
        f"http://{streamer.host_port}/",
        allow_private=[streamer.host_port],
        max_bytes=2500,
        truncate=True,
    )
    assert (fetched.content, fetched.truncated) == (b"x" * 2500, True)


async def test_a_slow_loris_server_hits_the_deadline(slow_loris) -> None:
    # Each byte arrives well within the per-read timeout; only the whole-fetch deadline ends it.
    with pytest.raises(FetchError, match=r"took longer than 0\.5 s"):
        await fetch_url(
            f"http://{slow_loris.host_port}/",
            allow_private=[slow_loris.host_port],
            timeout=10,
            deadline=0.5,
        )
    assert len(slow_loris.requests) == 1


async def test_a_server_that_never_answers_times_out(stalled) -> None:
    with pytest.raises(FetchError, match="timed out"):
        await fetch_url(
            f"http://{stalled.host_port}/", allow_private=[stalled.host_port], timeout=0.3
        )


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
    site.add_page("/doc", b"ok", content_type="text/plain")

    fetched = await fetch_url(
        f"http://docs.internal.test:{port}/doc", allow_private=[f"docs.internal.test:{port}"]
    )

    assert fetched.content == b"ok"
    assert lookups == ["docs.internal.test"]
    assert site.requests[0].headers["host"] == f"docs.internal.test:{port}"


@pytest.mark.parametrize(
    "answers",
    [
        ["127.0.0.1"],
        ["10.0.0.7"],
        ["169.254.169.254"],
        ["::1"],
        ["fe80::1%eth0"],
        ["::ffff:192.168.1.1"],
        # One public answer does not launder a private one (a client may pick either).
        ["93.184.215.14", "127.0.0.1"],
        ["2606:4700::1111", "fd12:3456::1"],
    ],
)
async def test_a_public_looking_name_that_resolves_to_a_private_address_is_refused(
    site, other, monkeypatch: pytest.MonkeyPatch, answers: list[str]
) -> None:
    # Only the resolver is replaced; the guard itself runs unchanged.
    async def fake_getaddrinfo(host: str, port: int, **_: object) -> list[tuple]:
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [
            (
                family[ipaddress.ip_address(a.split("%")[0]).version],
                socket.SOCK_STREAM,
                6,
                "",
                (a, port),
            )
            for a in answers
        ]

    monkeypatch.setattr(anyio, "getaddrinfo", fake_getaddrinfo)
    other_port = other.host_port.rsplit(":", 1)[1]
    site.add_page(
        "/start", status=302, headers={"Location": f"http://rebind.example.com:{other_port}/"}
    )

    with pytest.raises(UnsafeURLError, match=r"rebind\.example\.com"):
        await fetch_url(f"http://rebind.example.com:{other_port}/")
    with pytest.raises(UnsafeURLError, match=r"rebind\.example\.com"):
        await fetch_url(f"{site.origin}/start", allow_private=[site.host_port])

    assert other.requests == []


async def test_localhost_names_resolve_to_loopback_and_are_refused(other) -> None:
    port = other.host_port.rsplit(":", 1)[1]
    with pytest.raises(UnsafeURLError, match="non-public"):
        await fetch_url(f"http://localhost:{port}/")
    assert other.requests == []


async def test_errors_never_show_credentials_or_query_strings(site) -> None:
    with pytest.raises(UnsafeURLError) as refused:
        await fetch_url(f"http://user:hunter2@{site.host_port}/doc?token=s3cret")
    assert "hunter2" not in str(refused.value)
    assert "s3cret" not in str(refused.value)

    site.add_page(
        "/r", status=302, headers={"Location": "http://admin:pa55w0rd@10.1.1.1/x?key=abc"}
    )
    with pytest.raises(UnsafeURLError) as refused:
        await fetch_url(
            f"http://bob:hunter2@{site.host_port}/r?t=s3cret", allow_private=[site.host_port]
        )
    message = str(refused.value)
    assert "10.1.1.1" in message
    for secret in ("hunter2", "s3cret", "pa55w0rd", "key=abc", "bob", "admin"):
        assert secret not in message

    with pytest.raises(FetchError) as failed:
        await fetch_url(f"http://bob:hunter2@{site.host_port}/404?t=s3cret", allow_private=True)
    assert "HTTP 404" in str(failed.value)
    assert "hunter2" not in str(failed.value) and "s3cret" not in str(failed.value)


async def test_caller_headers_go_to_the_first_origin_only(site, streamer) -> None:
    site.add_page("/r", status=302, headers={"Location": f"http://{streamer.host_port}/elsewhere"})

    await fetch_url(
        f"{site.origin}/r",
        allow_private=True,
        headers={"Authorization": "Bearer s3cret", "Host": "evil.test"},
    )

    assert site.requests[0].headers["authorization"] == "Bearer s3cret"
    assert site.requests[0].headers["host"] == site.host_port  # a caller cannot set Host
    assert "authorization" not in streamer.requests[0].headers


async def test_a_post_redirected_by_303_continues_as_a_get(site) -> None:
    site.add_page("/form", status=303, headers={"Location": "/done"})
    site.add_page("/done", b"ok", content_type="text/plain")

    fetched = await request_url(
        "POST", f"{site.origin}/form", json={"a": 1}, allow_private=[site.host_port]
    )

    assert fetched.content == b"ok"
    assert [(r.method, r.body) for r in site.requests] == [("POST", b'{"a":1}'), ("GET", b"")]


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
        ("255.255.255.255", False),
        ("0.0.0.0", False),
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fec0::1", False),
        ("fc00::1", False),
        ("fd00:ec2::254", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("::127.0.0.1", False),
        ("::8.8.8.8", True),
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("64:ff9b::808:808", True),
        ("2002:7f00:1::", False),
        ("2002:a00:1::1", False),
        ("2002:808:808::1", True),
        ("ff02::1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public
