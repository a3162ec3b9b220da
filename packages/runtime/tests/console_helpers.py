"""Shared pieces of the console's browser tests: Chromium, a served registry, screenshots.

Every console test drives Debian's Chromium (`scripts/system_deps.sh` installs it; the tests
fail, never skip, without it) through Playwright against a real runtime on loopback.

`shot(page, name)` saves a screenshot to `docs/console/<name>.png` when `COVEY_SCREENSHOTS=1`
(`make screenshots` sets it), so the docs' pictures come from the same tests that prove the
screens work; otherwise it does nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt

from covey.core import Agent, Step, Team, Workflow
from covey.core.testing import AgentInfo, FunctionModel
from covey.runtime import Registry
from covey.runtime.auth import SCOPES
from covey.spec import (
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
    tool,
)

REPO = Path(__file__).resolve().parents[3]
SHOTS = REPO / "docs" / "console"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1280, "height": 800}
SECRET = "console-secret-console-secret-console-secret"
"""The HS256 secret of `jwt_settings()`; `console_token()` signs with it."""


def launch(playwright: Any) -> Any:
    """Debian's Chromium, headless (a test fails with the install line when it is missing)."""
    if not CHROMIUM.exists():
        raise AssertionError(
            f"{CHROMIUM} is missing: the console tests need Debian's Chromium. Install it with "
            "`bash scripts/system_deps.sh` (apt-get install chromium); never `playwright install`."
        )
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


@contextmanager
def console_page(browser: Any, base_url: str, path: str = "") -> Iterator[Any]:
    """A fresh browser context (no shared storage) with a page open on `/console/<path>`.

    The page's console errors and failed requests are collected in `page.covey_errors`; the
    context manager fails the test on any uncaught page error.
    """
    context = browser.new_context(viewport=VIEWPORT, base_url=base_url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
    page.covey_errors = errors
    try:
        page.goto(f"{base_url}/console/{path}")
        yield page
        assert not errors, errors
    finally:
        context.close()


def shot(page: Any, name: str) -> None:
    """Save `docs/console/<name>.png` when `COVEY_SCREENSHOTS=1` (see the module docstring)."""
    if os.environ.get("COVEY_SCREENSHOTS") != "1":
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def jwt_settings() -> dict[str, Any]:
    """Settings of a server with JWT auth (HS256 with `SECRET`)."""
    return {"auth": "jwt", "jwt_secret": SECRET}


def console_token(
    sub: str = "alice", *, tenant: str = "acme", scope: str = " ".join(SCOPES[:-1])
) -> str:
    """A token `jwt_settings()` accepts, valid for an hour (every scope but admin by default)."""
    now = int(time.time())
    payload = {"sub": sub, "tenant": tenant, "scope": scope, "iat": now, "exp": now + 3600}
    return jwt.encode(payload, SECRET, algorithm="HS256")


def sign_in(page: Any, token: str) -> None:
    """Sign in on the console's sign-in form with `token`."""
    page.get_by_label("Bearer token").fill(token)
    page.get_by_role("button", name="Sign in").click()


# --- a registry to drive ---------------------------------------------------------------------


@tool
def get_weather(city: str) -> str:
    """Today's weather in a city.

    Args:
        city: The city, e.g. "Paris".
    """
    return {"paris": "sunny, 21 °C"}.get(city.strip().lower(), f"mild in {city}, 17 °C")


@tool(requires_approval=True)
def issue_refund(order_id: str, amount_eur: float) -> str:
    """Refund an order (a human approves every refund first).

    Args:
        order_id: The order to refund.
        amount_eur: How much to refund, in euros.
    """
    return f"refunded {amount_eur:.2f} EUR on order {order_id}"


def _last_user_text(messages: list[ModelRequest | ModelResponse]) -> str:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in message.parts:
                # The user's words only: a system part (the agent's instructions) comes first.
                if isinstance(part, UserPart):
                    if isinstance(part.content, str):
                        return part.content
                    return " ".join(getattr(item, "text", "") for item in part.content)
    return ""


def _tool_results(messages: list[ModelRequest | ModelResponse]) -> list[ToolReturnPart]:
    last = messages[-1]
    if not isinstance(last, ModelRequest):
        return []
    return [part for part in last.parts if isinstance(part, ToolReturnPart)]


def weather_model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    """Calls `get_weather` for the city the user names, then answers with its result."""
    results = _tool_results(messages)
    if results:
        return ModelResponse(
            parts=[TextPart(content=f"The weather in Paris is {results[0].content}. Enjoy!")]
        )
    city = "Paris" if "paris" in _last_user_text(messages).lower() else "Oslo"
    call = ToolCallPart(tool_name="get_weather", args={"city": city}, tool_call_id="w1")
    return ModelResponse(parts=[call])


def refund_model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    """Asks to refund order A-17 (the call waits for approval), then reports what happened."""
    results = _tool_results(messages)
    if results:
        return ModelResponse(parts=[TextPart(content=f"Done: {results[0].content}.")])
    args = {"order_id": "A-17", "amount_eur": 25.0}
    return ModelResponse(
        parts=[ToolCallPart(tool_name="issue_refund", args=args, tool_call_id="r1")]
    )


def desk_model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    """A team leader: hands the question to `weather`, then answers with what it said."""
    results = _tool_results(messages)
    if results:
        return ModelResponse(parts=[TextPart(content=f"weather said: {results[-1].content}")])
    task = _last_user_text(messages)
    call = ToolCallPart(
        tool_name="delegate_task", args={"member": "weather", "task": task}, tool_call_id="d1"
    )
    return ModelResponse(parts=[call])


def console_registry() -> Registry:
    """Agents `weather` (a tool call, then a streamed answer) and `refunds` (a tool call that
    waits for approval), a team `desk` of both, and a workflow `briefing` of two steps."""
    weather = Agent(
        name="weather",
        model=FunctionModel(weather_model),
        tools=[get_weather],
        description="Today's weather in any city.",
    )
    refunds = Agent(
        name="refunds",
        model=FunctionModel(refund_model),
        tools=[issue_refund],
        description="Refunds orders after a human approves.",
    )
    desk = Team(name="desk", members=[weather, refunds], model=FunctionModel(desk_model))
    briefing = Workflow(
        name="briefing",
        steps=[
            Step(weather, name="forecast"),
            Step(weather, name="recap", input="Recap: {previous}"),
        ],
    )
    return Registry([weather, refunds, desk, briefing])
