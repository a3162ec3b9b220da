"""The console's serving: files, headers, the app shell in a real browser, and `/v1/me`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from console_helpers import (
    console_page,
    console_registry,
    console_token,
    jwt_settings,
    launch,
    shot,
    sign_in,
)

from covey.runtime.console import CSP, STATIC


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


def test_the_console_is_served_with_a_strict_policy(serve) -> None:
    _, api = serve(registry=console_registry())
    root = api.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/console/"
    page = api.get("/console/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CSP
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"
    assert '<script type="module" src="/console/assets/app.js">' in page.text
    # Any page of the app is the shell (a reload of /console/runs/abc works).
    deep = api.get("/console/runs/abc")
    assert deep.status_code == 200 and deep.text == page.text
    script = api.get("/console/assets/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert script.text == (STATIC / "app.js").read_text()


def test_assets_are_gzipped_and_revalidated(serve) -> None:
    _, api = serve(registry=console_registry())
    raw = httpx.get(
        f"{api.base_url}/console/assets/console.css", headers={"Accept-Encoding": "gzip"}
    )
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.content == (STATIC / "console.css").read_bytes()  # httpx decoded it
    assert int(raw.headers["content-length"]) < len(raw.content) / 2
    etag = raw.headers["etag"]
    assert raw.headers["cache-control"] == "no-cache"
    again = api.get("/console/assets/console.css", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    plain = api.get("/console/assets/console.css", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == (STATIC / "console.css").read_bytes()


@pytest.mark.parametrize(
    "path",
    [
        "/console/assets/../../config.py",
        "/console/assets/%2e%2e/%2e%2e/app.py",
        "/console/assets/..%2f..%2fapp.py",
        "/console/assets/__init__.py",
        "/console/assets/lib/nothing.js",
        "/console/assets//etc/passwd",
    ],
)
def test_only_the_console_files_are_served(serve, path: str) -> None:
    _, api = serve(registry=console_registry())
    response = httpx.get(f"{api.base_url}{path}")
    assert response.status_code in (404, 400)
    assert b"import" not in response.content and b"root:" not in response.content


def test_the_console_can_be_turned_off(serve) -> None:
    _, api = serve(registry=console_registry(), console=False)
    assert api.get("/console/").status_code == 404
    assert api.get("/", follow_redirects=False).status_code == 404


def test_the_console_files_never_build_markup_from_strings() -> None:
    """Model output, tool results and user text reach the page as text nodes only."""
    offenders = []
    for path in sorted(STATIC.rglob("*.js")):
        text = path.read_text()
        for pattern in (
            r"\.innerHTML\b",
            r"\.outerHTML\b",
            r"insertAdjacentHTML",
            r"\beval\(",
            r"new Function\(",
            r"document\.write",
        ):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(STATIC)}: {pattern}")
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
        assert "https://" not in text, f"{path.name} reaches outside the server"
    assert not offenders, offenders


def test_me_says_who_the_caller_is(serve) -> None:
    _, api = serve(registry=console_registry())
    me = api.get("/v1/me").json()
    assert me["auth"] == "none" and me["admin"] is True and me["tenant_id"] == "default"
    assert me["features"]["knowledge"] is False
    assert me["limits"]["max_body_size"] == 1_048_576
    _, secured = serve(registry=console_registry(), **jwt_settings())
    assert secured.get("/v1/me").status_code == 401
    token = console_token("bob", tenant="globex", scope="agents:read runs:read")
    me = secured.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me == {
        **me,
        "auth": "jwt",
        "user_id": "bob",
        "tenant_id": "globex",
        "scopes": ["agents:read", "runs:read"],
        "admin": False,
    }


def test_the_shell_loads_and_lists_what_is_served(serve, browser: Any) -> None:
    server, _ = serve(registry=console_registry())
    with console_page(browser, server.url) as page:
        page.get_by_role("heading", name="Overview").wait_for()
        page.get_by_role("link", name="weather").first.wait_for()
        page.get_by_role("link", name="desk").wait_for()
        assert (
            page.get_by_role("navigation", name="Console")
            .get_by_role("link", name="Runs")
            .is_visible()
        )
        assert "auth off" in page.locator("#who").inner_text()
        shot(page, "overview")


def test_sign_in_shows_only_what_the_token_allows(serve, browser: Any) -> None:
    server, _ = serve(registry=console_registry(), **jwt_settings())
    with console_page(browser, server.url) as page:
        page.get_by_role("heading", name="Sign in").wait_for()
        sign_in(page, "not-a-token")
        page.get_by_role("alert").wait_for()
        sign_in(page, console_token("carol", tenant="acme", scope="agents:read sessions:read"))
        page.get_by_role("heading", name="Overview").wait_for()
        nav = page.get_by_role("navigation", name="Console")
        assert nav.get_by_role("link", name="Sessions").is_visible()
        assert nav.get_by_role("link", name="Runs").count() == 0
        assert nav.get_by_role("link", name="Plugins").count() == 0
        assert "carol · acme" in page.locator("#who").inner_text()
        # The token stays in this tab: a reload keeps the session, signing out forgets it.
        page.reload()
        page.get_by_role("heading", name="Overview").wait_for()
        page.get_by_role("button", name="Sign out").click()
        page.get_by_role("heading", name="Sign in").wait_for()
        assert page.evaluate("sessionStorage.getItem('covey.token')") is None


def test_a_phone_sized_screen_has_a_menu(serve, browser: Any) -> None:
    server, _ = serve(registry=console_registry())
    with console_page(browser, server.url) as page:
        page.set_viewport_size({"width": 390, "height": 800})
        page.get_by_role("heading", name="Overview").wait_for()
        nav = page.get_by_role("navigation", name="Console")
        assert not nav.is_visible()
        page.get_by_role("button", name="Menu").click()
        assert nav.is_visible()
        nav.get_by_role("link", name="Plugins").click()
        assert not nav.is_visible()


def test_static_dir_is_inside_the_package() -> None:
    assert STATIC.is_dir() and (STATIC / "index.html").is_file()
    assert Path(STATIC).parts[-3:] == ("runtime", "console", "static")
