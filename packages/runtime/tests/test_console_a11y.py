"""Every console screen passes axe-core's WCAG 2.1 A/AA rules (no serious or critical finding),
in the light and the dark theme, and fits a phone's width without sideways scrolling.

axe-core (`console_axe/package.json` + lock, installed by `npm ci` on first use) runs inside
each screen in Debian's Chromium; the browser context bypasses the console's CSP only so the
test can inject it. Without node and npm the test is skipped (it cannot get axe).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_helpers import VIEWPORT, console_registry, launch
from runtime_helpers import npm_ci

AXE = Path(__file__).resolve().parent / "console_axe"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FIND = """async (rules) => {
  const result = await axe.run(document, {runOnly: {type: "tag", values: rules}});
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | ")}`);
}"""


@pytest.fixture(scope="module")
def axe_script() -> Path:
    folder = npm_ci(AXE)
    if folder is None:
        pytest.skip("node and npm are needed to install axe-core")
    return folder / "node_modules" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


def _screens(api: Any) -> list[str]:
    done = api.post("/v1/agents/weather/runs", json={"input": "Weather in Paris?"}).json()
    api.post("/v1/agents/refunds/runs", json={"input": "Refund A-17"})
    # A known user, so the memories screen shows its users table and the user's tabs.
    api.post("/v1/memories", json={"memory": "Likes tea", "user_id": "alice"})
    return [
        "",
        "chat",
        f"chat/agent/weather/{done['session_id']}",
        "sessions",
        f"sessions/{done['session_id']}",
        "runs",
        f"runs/{done['run_id']}",
        "approvals",
        "traces",
        f"traces/{done['run_id']}",
        "memories",
        "memories?user=alice&tab=learnings",
        "schedules",
        "evals",
        "plugins",
        "workflows/briefing",
    ]


def _settle(page: Any) -> None:
    page.wait_for_load_state("networkidle")
    page.locator(".loading").first.wait_for(state="detached", timeout=15_000)


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_screen_passes_axe(serve, browser: Any, axe_script: Path, theme: str) -> None:
    server, api = serve(registry=console_registry(), tracing=True)
    context = browser.new_context(viewport=VIEWPORT, bypass_csp=True, color_scheme=theme)
    page = context.new_page()
    found: dict[str, list[str]] = {}
    try:
        for screen in _screens(api):
            page.goto(f"{server.url}/console/{screen}")
            _settle(page)
            page.add_script_tag(path=str(axe_script))
            problems = page.evaluate(FIND, RULES)
            if problems:
                found[screen or "overview"] = problems
    finally:
        context.close()
    assert not found, found


def test_every_screen_fits_a_phone(serve, browser: Any) -> None:
    server, api = serve(registry=console_registry(), tracing=True)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    wide: dict[str, int] = {}
    try:
        for screen in _screens(api):
            page.goto(f"{server.url}/console/{screen}")
            _settle(page)
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                wide[screen or "overview"] = width
    finally:
        context.close()
    assert not wide, wide
