"""`WebToolset`: the tools a model sees and what their calls return, over loopback servers."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from covey.conformance import ToolsetSuite
from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.spec.tools import ToolArgumentsError, Toolset
from covey.tools.web import WebToolset, from_reference

CTX = RunContext(run_id="r1")


@pytest.fixture(scope="module")
def monkeypatch_resolver() -> Iterator[None]:
    """Names other than loopback do not resolve (offline, as the test machine is)."""
    real = anyio.getaddrinfo

    async def offline(host: Any, port: Any, **kwargs: Any) -> Any:
        if str(host).strip("[]").lower() in {"localhost", "127.0.0.1", "::1"}:
            return await real(host, port, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(anyio, "getaddrinfo", offline)
        yield


PAGE = b"""<html><head><title>Kettles</title></head><body><nav>Menu</nav>
<main><h1>Kettles</h1><p>A kettle boils water.</p></main></body></html>"""


class TestFetchOnly(ToolsetSuite):
    @pytest.fixture
    def toolset(self, site) -> Toolset:
        site.add_page("/kettles", PAGE)
        return WebToolset(allow_private_urls=[site.host_port])

    @pytest.fixture
    def toolset_calls(self, site) -> Mapping[str, dict[str, Any]]:
        return {"fetch_url": {"url": f"{site.origin}/kettles"}}


class TestWithSearch(ToolsetSuite):
    @pytest.fixture
    def toolset(self, site, brave_provider) -> Toolset:
        site.add_page("/kettles", PAGE)
        return WebToolset(search=brave_provider, allow_private_urls=[site.host_port])

    @pytest.fixture
    def toolset_calls(self, site) -> Mapping[str, dict[str, Any]]:
        return {
            "fetch_url": {"url": f"{site.origin}/kettles"},
            "web_search": {"query": "kettles", "k": 2},
        }


async def test_fetch_url_returns_the_title_url_and_main_text(site) -> None:
    site.add_page("/kettles", PAGE)
    toolset = WebToolset(allow_private_urls=[site.host_port])

    result = await toolset.call_tool("fetch_url", {"url": f"{site.origin}/kettles?x=1"}, CTX)

    assert not result.is_error
    assert result.content == (
        f"Title: Kettles\nURL: {site.origin}/kettles\n\n# Kettles\n\nA kettle boils water."
    )
    assert result.metadata["media_type"] == "text/html"
    assert result.metadata["truncated"] is False
    headers = site.requests[0].headers
    assert headers["user-agent"].startswith("covey-tools-web/")
    assert headers["accept"].startswith("text/html")


async def test_without_a_provider_only_fetch_url_is_listed() -> None:
    names = [t.name for t in await WebToolset().list_tools(CTX)]
    assert names == ["fetch_url"]


async def test_long_text_is_cut_at_max_chars_with_a_marker(site) -> None:
    words = " ".join(f"word{i}" for i in range(2000))
    site.add_page("/long", words.encode(), content_type="text/plain")
    toolset = WebToolset(allow_private_urls=[site.host_port], max_chars=1000)

    full = await toolset.call_tool("fetch_url", {"url": f"{site.origin}/long"}, CTX)
    short = await toolset.call_tool(
        "fetch_url", {"url": f"{site.origin}/long", "max_chars": 100}, CTX
    )
    more = await toolset.call_tool(
        "fetch_url", {"url": f"{site.origin}/long", "max_chars": 10**9}, CTX
    )

    text = full.content.split("\n\n", 1)[1]
    shown, marker = text.rsplit("\n\n", 1)
    assert (
        len(shown) <= 1000
        and words.startswith(shown)
        and shown.endswith(("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"))
    )
    assert marker == f"[Truncated: showing the first {len(shown):,} of {len(words):,} characters.]"
    assert full.metadata["truncated"] is True
    assert len(short.content.split("\n\n", 1)[1].rsplit("\n\n", 1)[0]) <= 100
    assert more.content == full.content  # a call cannot raise the toolset's ceiling


async def test_a_page_over_max_bytes_is_read_up_to_it_and_says_so(site) -> None:
    site.add_page("/huge", b"<p>" + b"a " * 100_000 + b"</p>")
    toolset = WebToolset(allow_private_urls=[site.host_port], max_bytes=10_000, max_chars=50_000)

    result = await toolset.call_tool("fetch_url", {"url": f"{site.origin}/huge"}, CTX)

    assert not result.is_error
    assert (
        "[Truncated: the page is over 10,000 bytes; only its first 10,000 bytes were read.]"
        in result.content
    )
    assert result.content.count("a") < 10_000


@pytest.mark.parametrize(
    ("path", "body", "content_type", "error"),
    [
        ("/img", b"\x89PNG\r\n\x1a\n", "image/png", "The page is image/png, not text"),
        ("/pdf", b"%PDF-1.7", "application/pdf", "The page is application/pdf, not text"),
        ("/missing", None, None, "answered HTTP 404"),
    ],
)
async def test_failures_are_error_results_the_model_reads(
    site, path: str, body: bytes | None, content_type: str | None, error: str
) -> None:
    if body is not None:
        site.add_page(path, body, content_type=content_type or "")
    toolset = WebToolset(allow_private_urls=[site.host_port])

    result = await toolset.call_tool("fetch_url", {"url": f"{site.origin}{path}"}, CTX)

    assert result.is_error
    assert error in result.content


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://127.0.0.1:1/",
        "http://[::1]:1/",
        "http://localhost:1/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:25/",
        "not a url at all",
        "http://0177.0.0.1/",
        "http://0x7f.1:1/",
        "http://[::ffff:169.254.169.254]/",
        "http://xn--/",
        "http://ｌｏｃａｌｈｏｓｔ:1/",
        "http://127.0.0.1:1/\r\nX-Injected: 1",
        "",
    ],
)
async def test_the_default_toolset_refuses_private_and_odd_urls(url: str) -> None:
    result = await from_reference(None).call_tool("fetch_url", {"url": url}, CTX)
    assert result.is_error


async def test_error_results_never_echo_credentials_or_query_strings(site) -> None:
    site.add_page(
        "/r", status=302, headers={"Location": "http://ops:t0psecret@10.0.0.5/?sig=abc123"}
    )
    for url in (
        "http://admin:hunter2@127.0.0.1:1/?token=s3cret",
        f"http://me:hunter2@{site.host_port}/r?token=s3cret",
    ):
        result = await WebToolset(allow_private_urls=[site.host_port]).call_tool(
            "fetch_url", {"url": url}, CTX
        )
        assert result.is_error
        for secret in ("hunter2", "s3cret", "t0psecret", "abc123", "admin", "ops:"):
            assert secret not in result.content


async def test_a_redirect_to_the_metadata_endpoint_is_refused_through_the_tool(site) -> None:
    site.add_page(
        "/go", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    toolset = WebToolset(allow_private_urls=[site.host_port])

    result = await toolset.call_tool("fetch_url", {"url": f"{site.origin}/go"}, CTX)

    assert result.is_error
    assert "169.254.169.254" in result.content and "non-public" in result.content
    assert [r.path for r in site.requests] == ["/go"]


async def test_a_slow_loris_page_ends_in_an_error_result(slow_loris) -> None:
    toolset = WebToolset(allow_private_urls=[slow_loris.host_port], timeout=10, deadline=0.5)

    result = await toolset.call_tool("fetch_url", {"url": f"http://{slow_loris.host_port}/"}, CTX)

    assert result.is_error and "took longer than 0.5 s" in result.content


async def test_bad_arguments_are_for_the_model_to_fix() -> None:
    toolset = WebToolset()
    with pytest.raises(ToolArgumentsError):
        await toolset.call_tool("fetch_url", {"url": "http://example.com", "max_chars": 0}, CTX)


@pytest.mark.parametrize(
    "options",
    [
        {"max_chars": 0},
        {"max_bytes": -1},
        {"timeout": 0},
        {"deadline": 0},
        {"max_redirects": -1},
        {"allow_private_urls": "127.0.0.1:80"},
    ],
)
def test_bad_configuration_is_a_configuration_error(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        WebToolset(**options)


def test_from_reference_is_fetch_only_and_deny_by_default() -> None:
    toolset = from_reference(None)
    assert isinstance(toolset, WebToolset)
    assert toolset.id == "web"
    assert toolset.search is None
    assert toolset.allow_private_urls is False
    with pytest.raises(ConfigurationError, match="takes no argument"):
        from_reference("brave")


def test_the_entry_point_resolves_to_from_reference() -> None:
    from importlib.metadata import entry_points

    [entry] = entry_points(group="covey.tools", name="web")
    assert entry.load() is from_reference


def test_resolve_toolset_finds_web_when_the_spec_has_it() -> None:
    plugins = pytest.importorskip("covey.spec.plugins")
    resolve = getattr(plugins, "resolve_toolset", None)
    if resolve is None:
        pytest.skip("covey.spec.plugins.resolve_toolset is not on this branch yet")
    toolset = resolve("web")
    assert isinstance(toolset, WebToolset) and toolset.search is None


_HOSTS = st.sampled_from(
    ["127.0.0.1", "[::1]", "localhost", "0", "2130706433", "0x7f.1", "[::ffff:7f00:1]",
     "169.254.169.254", "xn--", "ex ample.com", "a..b", "example.com", "", "%00", "[fe80::1%25x]"]
)  # fmt: skip
_URLS = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda scheme, userinfo, host, port, rest: f"{scheme}://{userinfo}{host}{port}{rest}",
        st.sampled_from(["http", "https", "HTTP", "file", "gopher", "ftp", "", "javascript"]),
        st.sampled_from(["", "user:pw@", "@", ":@"]),
        _HOSTS,
        st.sampled_from(["", ":1", ":0", ":99999", ":-1", ":abc"]),
        st.text(max_size=20),
    ),
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(url=_URLS)
def test_any_url_a_model_writes_ends_in_a_result_never_an_exception(
    url: str, monkeypatch_resolver: None
) -> None:
    result = anyio.run(from_reference(None).call_tool, "fetch_url", {"url": url}, CTX)
    assert result.is_error  # nothing here is public and reachable
    assert isinstance(result.content, str) and result.content
