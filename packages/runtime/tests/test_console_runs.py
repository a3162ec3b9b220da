"""The console's sessions, runs, approvals and traces screens, in headless Chromium against a
real runtime on loopback: what a person sees there is what the API holds, live runs stream into
the timeline and can be cancelled, a paused run approved from the queue completes, a trace opens
as a waterfall, and a signed-in tenant never sees another tenant's sessions."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from console_helpers import (
    console_page,
    console_registry,
    console_token,
    get_weather,
    issue_refund,
    jwt_settings,
    launch,
    refund_model,
    shot,
    sign_in,
    weather_model,
)
from runtime_agents import gate, gated_model

from covey.core import Agent
from covey.core.testing import FunctionModel
from covey.runtime import Registry


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


def _registry() -> Registry:
    """`weather` and `refunds` as in the console's registry, and `gated` (a run that waits for
    the test to open its gate, so it is running while the browser watches)."""
    return Registry(
        [
            Agent(name="weather", model=FunctionModel(weather_model), tools=[get_weather]),
            Agent(name="refunds", model=FunctionModel(refund_model), tools=[issue_refund]),
            Agent(name="gated", model=FunctionModel(gated_model), tools=[gate], tool_timeout=None),
        ]
    )


def _run(
    client: httpx.Client, agent: str, text: str, *, kind: str = "agents", **body: Any
) -> dict[str, Any]:
    answer = client.post(f"/v1/{kind}/{agent}/runs", json={"input": text, **body})
    assert answer.status_code in (200, 202), answer.text
    return answer.json()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_trace_opens_as_a_waterfall_and_a_span_shows_its_attributes(serve, browser) -> None:
    server, client = serve(registry=console_registry(), tracing=True)
    run = _run(client, "weather", "Weather in Paris?")
    assert run["status"] == "completed"
    with console_page(browser, server.url, "traces") as page:
        page.get_by_role("heading", name="Traces").wait_for()
        table = page.get_by_role("table", name="Traces")
        table.get_by_role("link", name=run["run_id"][:8]).click()
        spans = page.get_by_role("list", name="Spans")
        spans.wait_for()
        for name in ("invoke_agent weather", "chat function", "execute_tool get_weather"):
            assert spans.get_by_role("button", name=re.compile(re.escape(name))).count() >= 1
        # Nested: the tool span is drawn under (after) its agent span, inside the trace's scale.
        names = spans.locator(".rv-span-name").all_inner_texts()
        assert names[0] == "invoke_agent weather" and names.count("chat function") == 2
        spans.get_by_role("button", name=re.compile("execute_tool get_weather")).click()
        detail = page.get_by_role("complementary", name="Span details")
        attrs = detail.get_by_role("table", name="Span attributes")
        attrs.wait_for()
        assert attrs.get_by_role("cell", name="gen_ai.tool.name").is_visible()
        assert attrs.get_by_role("cell", name="get_weather", exact=True).is_visible()
        shot(page, "trace")
        page.get_by_role("link", name="Open the run").click()
        page.get_by_role("heading", name=re.compile("Run")).wait_for()
        page.get_by_role("link", name="Trace", exact=True).wait_for()

    untraced, _ = serve(registry=console_registry())
    with console_page(browser, untraced.url, "traces") as page:
        page.get_by_role("heading", name="Tracing is off on this server").wait_for()


def test_a_tenant_sees_only_its_own_sessions(serve, browser) -> None:
    server, client = serve(registry=console_registry(), **jwt_settings())
    acme = console_token("alice", tenant="acme")
    globex = console_token("bob", tenant="globex")
    mine = client.post(
        "/v1/agents/weather/runs",
        json={"input": "Weather in Paris?", "session_id": "acme-weather-chat"},
        headers=_bearer(acme),
    ).json()
    theirs = client.post(
        "/v1/agents/weather/runs",
        json={"input": "Globex secret plans in Oslo", "session_id": "globex-plans"},
        headers=_bearer(globex),
    ).json()
    assert mine["status"] == theirs["status"] == "completed"
    with console_page(browser, server.url, "sessions") as page:
        sign_in(page, acme)
        table = page.get_by_role("table", name="Sessions")
        table.get_by_role("link", name="acme-wea").wait_for()
        assert table.get_by_role("row").count() == 2  # the header row and acme's session
        assert "globex" not in page.get_by_role("main").inner_text()
        shot(page, "sessions")

        # Open acme's session: its run, input, tool call and answer.
        table.get_by_role("link", name="acme-wea").click()
        conversation = page.get_by_role("region", name="Conversation")
        conversation.get_by_text(re.compile(r"^The weather in Paris is .*Enjoy!$")).wait_for()
        assert conversation.get_by_text("Weather in Paris?").is_visible()
        assert conversation.get_by_text("get_weather").is_visible()
        chat = page.get_by_role("link", name="Continue in chat")
        chat.wait_for()
        assert chat.get_attribute("href") == "/console/chat/agent/weather/acme-weather-chat"
        shot(page, "session")

        # Typing globex's session address shows a not-found error, never its content.
        page.goto(f"{server.url}/console/sessions/globex-plans")
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert "No session 'globex-plans'" in alert.inner_text()
        assert "Globex secret plans" not in page.content()
        page.goto(f"{server.url}/console/runs/{theirs['run_id']}")
        page.get_by_role("alert").wait_for()
        assert "Globex secret plans" not in page.content()


def test_runs_list_live_timeline_and_cancel(serve, browser, gates: Path) -> None:
    server, client = serve(registry=_registry())
    done = _run(client, "weather", "Weather in Paris?")
    waiting = _run(client, "gated", "open-later", background=True)
    doomed = _run(client, "gated", "never-open", background=True)
    with console_page(browser, server.url, "runs") as page:
        table = page.get_by_role("table", name="Runs")
        row = table.get_by_role("row").filter(has=page.get_by_role("link", name=done["run_id"][:8]))
        row.wait_for()
        assert row.get_by_text("completed").is_visible() and row.get_by_text("weather").is_visible()
        running = table.get_by_role("row").filter(
            has=page.get_by_role("link", name=waiting["run_id"][:8])
        )
        assert running.get_by_text("running").is_visible()
        shot(page, "runs")
        # The list refreshes itself: a run started meanwhile shows up without a reload.
        later = _run(client, "weather", "Weather in Oslo?")
        table.get_by_role("link", name=later["run_id"][:8]).wait_for()
        page.get_by_label("Status").select_option("completed")
        page.get_by_role("status").filter(has_text="2 runs ").wait_for()
        row.wait_for()
        assert running.count() == 0

        # Open the running run: stored events replay, then live ones arrive as they happen.
        page.goto(f"{server.url}/console/runs/{waiting['run_id']}")
        events = page.get_by_role("list", name="Events")
        events.get_by_text("tool_call.started", exact=True).wait_for()
        assert page.get_by_role("status").filter(has_text="live").count() == 1
        # Each event's time is machine-readable, the exact instant on hover.
        stamp = events.locator("time").first
        assert stamp.get_attribute("datetime") == stamp.get_attribute("title")
        assert re.match(r"^\d{4}-\d\d-\d\dT", stamp.get_attribute("datetime") or "")
        (gates / "open-later").touch()
        events.get_by_text("run.completed", exact=True).wait_for()
        page.get_by_role("region", name="Output").get_by_text(
            "done: gate open-later opened"
        ).wait_for()
        page.get_by_role("heading", name=re.compile("completed")).wait_for()
        assert page.get_by_role("button", name="Cancel run").count() == 0
        completed = events.get_by_role("listitem").filter(
            has=page.get_by_text("tool_call.completed", exact=True)
        )
        details = completed.get_by_text('"result": "gate open-later opened"')
        assert not details.is_visible()
        completed.get_by_text("tool_call.completed", exact=True).click()  # a row opens on click
        assert details.is_visible()
        shot(page, "run")

        # Cancel a running run from its page.
        page.goto(f"{server.url}/console/runs/{doomed['run_id']}")
        page.get_by_role("list", name="Events").get_by_text(
            "tool_call.started", exact=True
        ).wait_for()
        page.get_by_role("button", name="Cancel run").click()
        page.get_by_role("dialog").get_by_role("button", name="Cancel run").click()
        page.get_by_role("list", name="Events").get_by_text("run.cancelled", exact=True).wait_for()
        page.get_by_role("heading", name=re.compile("cancelled")).wait_for()
    assert client.get(f"/v1/runs/{doomed['run_id']}").json()["status"] == "cancelled"


def test_a_paused_run_approved_from_the_queue_completes(serve, browser) -> None:
    server, client = serve(registry=_registry())
    paused = _run(client, "refunds", "Refund order A-17")
    assert paused["status"] == "paused"
    raced = _run(client, "refunds", "Refund order A-18")
    with console_page(browser, server.url, "approvals") as page:
        cards = page.get_by_role("article")
        cards.first.wait_for()
        assert cards.count() == 2
        card = cards.filter(has=page.get_by_role("link", name=paused["run_id"][:8]))
        assert card.get_by_text('"order_id": "A-17"').is_visible()
        assert card.get_by_text("Refund an order").is_visible()
        shot(page, "approvals")

        # Someone else decides the other one first: the console says so plainly.
        other = client.get("/v1/approvals", params={"run_id": raced["run_id"]}).json()["items"][0]
        assert (
            client.post(
                f"/v1/approvals/{other['approval_id']}", json={"approved": False}
            ).status_code
            == 200
        )
        late = cards.filter(has=page.get_by_role("link", name=raced["run_id"][:8]))
        late.get_by_role("button", name="Approve issue_refund").click()
        page.get_by_role("alert").filter(has_text="Someone decided first").wait_for()
        page.get_by_role("article").filter(has_text="rejected").wait_for()

        card.get_by_label(re.compile("Note")).fill("customer called, fine")
        card.get_by_role("button", name="Approve issue_refund").click()
        page.get_by_role("article").filter(
            has=page.get_by_role("link", name=paused["run_id"][:8])
        ).filter(has_text="customer called, fine").get_by_text("approved").wait_for()

        # The run went on: its page follows it to the end.
        page.goto(f"{server.url}/console/runs/{paused['run_id']}")
        page.get_by_role("region", name="Output").get_by_text(
            "Done: refunded 25.00 EUR on order A-17."
        ).wait_for()
    assert client.get(f"/v1/runs/{paused['run_id']}").json()["status"] == "completed"


def test_a_paused_run_is_resumed_from_its_page(serve, browser) -> None:
    server, client = serve(registry=_registry())
    paused = _run(client, "refunds", "Refund order A-17")
    with console_page(browser, server.url, "runs") as page:
        # The run's event log is held back until the note is typed, so the redraw the page
        # makes when the log's stream ends lands while the note has the focus.
        held: list[Any] = []
        log = re.compile(r".*/v1/runs/[^/?]+/events.*")
        page.route(log, lambda route: held.append(route))
        page.goto(f"{server.url}/console/runs/{paused['run_id']}")
        form = page.get_by_role("form", name="Resume")
        form.get_by_label("Decision on issue_refund").select_option("approve")
        note = form.get_by_label("Note")
        note.fill("checked the order")
        deadline = time.monotonic() + 10
        while not held and time.monotonic() < deadline:
            page.wait_for_timeout(20)
        assert held, "the page never asked for the run's events"
        for route in held:
            route.continue_()
        page.unroute(log)
        events = page.get_by_role("list", name="Events")
        events.get_by_text("run.paused", exact=True).wait_for()
        page.get_by_role("status").filter(has_text="the run is paused.").wait_for()
        # The redraw left the form alone: the note keeps its text and its focus.
        assert note.input_value() == "checked the order"
        assert note.evaluate("el => el === document.activeElement")
        form.get_by_role("button", name="Resume run").click()
        # The page re-attaches to the resumed run and follows it to its end.
        events.get_by_text("run.completed", exact=True).wait_for()
        page.get_by_role("region", name="Output").get_by_text(
            "Done: refunded 25.00 EUR on order A-17."
        ).wait_for()
        assert page.get_by_role("form", name="Resume").count() == 0
    decided = client.get("/v1/approvals", params={"status": "approved"}).json()["items"]
    assert [(a["run_id"], a["note"]) for a in decided] == [(paused["run_id"], "checked the order")]


def test_a_redraw_leaves_a_field_being_typed_in_alone(serve, browser) -> None:
    """The run page redraws its sections when the run changes; the resume form is kept across
    redraws (`reconcile`), so the field someone types in keeps its focus and its text."""
    server, _client = serve(registry=console_registry())
    with console_page(browser, server.url) as page:
        page.get_by_role("heading", name="Overview").wait_for()
        kept = page.evaluate(
            """async () => {
              const { h, reconcile } = await import("/console/assets/lib/dom.js");
              const note = h("textarea", { name: "note" });
              const form = h("form", null, note);
              const box = h("div", null, h("p", null, "before"), form);
              document.body.append(box);
              note.focus();
              note.value = "half a sentence";
              reconcile(box, h("p", null, "an error appeared"), "text", form, h("p", null, "output"));
              const texts = [...box.childNodes].map((n) => n.textContent);
              const result = { focused: document.activeElement === note, value: note.value, texts };
              reconcile(box, form);
              result.after = [...box.childNodes].map((n) => n.nodeName);
              result.stillFocused = document.activeElement === note;
              box.remove();
              return result;
            }"""
        )
    assert kept == {
        "focused": True,
        "value": "half a sentence",
        "texts": ["an error appeared", "text", "", "output"],
        "after": ["FORM"],
        "stillFocused": True,
    }


def test_a_team_run_links_its_member_runs_and_streams_their_events(serve, browser) -> None:
    server, client = serve(registry=console_registry())
    team = _run(client, "desk", "Weather in Paris?", kind="teams")
    assert team["status"] == "completed"
    with console_page(browser, server.url, f"runs/{team['run_id']}") as page:
        events = page.get_by_role("list", name="Events")
        events.get_by_text("run.completed", exact=True).last.wait_for()
        # The member's events are in the team's timeline, marked with the member's name.
        member_rows = events.get_by_role("listitem").filter(has_text="get_weather")
        assert member_rows.first.get_by_text("weather", exact=True).is_visible()
        page.get_by_role("link", name="weather", exact=True).click()
        page.get_by_role("heading", name=re.compile("Run")).wait_for()
        parent = page.get_by_role("link", name=team["run_id"][:8])
        parent.wait_for()
        assert parent.get_attribute("href") == f"/console/runs/{team['run_id']}"


def test_deleting_a_session_removes_it(serve, browser) -> None:
    server, client = serve(registry=console_registry())
    _run(client, "weather", "Weather in Paris?", session_id="keep-me")
    _run(client, "weather", "Weather in Oslo?", session_id="drop-me")
    with console_page(browser, server.url, "sessions") as page:
        table = page.get_by_role("table", name="Sessions")
        table.get_by_role("link", name="drop-me").wait_for()

        def counted(text: str) -> Any:
            return page.get_by_role("status").filter(has_text=re.compile(f"^{text}$"))

        counted("2 sessions").wait_for()
        page.get_by_label("Search sessions").fill("keep")
        page.get_by_role("button", name="Search", exact=True).click()
        counted("1 session").wait_for()
        assert table.get_by_role("link", name="keep-me").is_visible()
        assert table.get_by_role("link", name="drop-me").count() == 0
        assert page.url.endswith("/console/sessions?q=keep")  # a reload keeps the search
        page.get_by_label("Search sessions").fill("")
        page.get_by_role("button", name="Search", exact=True).click()
        counted("2 sessions").wait_for()
        page.get_by_role("button", name="Delete session drop-me").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        counted("1 session").wait_for()
        assert table.get_by_role("link", name="drop-me").count() == 0
        assert table.get_by_role("link", name="keep-me").is_visible()
    assert client.get("/v1/sessions/drop-me").status_code == 404
    assert client.get("/v1/sessions/keep-me").status_code == 200


def _axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2 A/AA violations on the page as it stands (each: rule id, nodes)."""
    from runtime_helpers import npm_ci

    folder = npm_ci(Path(__file__).parent / "console_axe")
    assert folder is not None, "node and npm are needed for the accessibility checks"
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate((folder / "node_modules" / "axe-core" / "axe.min.js").read_text())
    found = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    return list(found)


def test_the_screens_are_accessible_on_a_phone_and_in_the_dark(serve, browser) -> None:
    """Every screen of this part passes axe-core's WCAG 2 AA rules in light and dark themes and
    fits a 390 px wide phone screen without sideways scrolling."""
    server, client = serve(registry=console_registry(), tracing=True)
    done = _run(client, "weather", "Weather in Paris?", session_id="a11y-chat")
    paused = _run(client, "refunds", "Refund order A-17")
    screens = {
        "sessions": "Sessions",
        "sessions/a11y-chat": "Conversation",
        "runs": "Runs",
        f"runs/{paused['run_id']}": "Waiting for a decision",
        f"runs/{done['run_id']}": "Events",
        "approvals": "Approvals",
        "traces": "Traces",
        f"traces/{done['run_id']}": "Select a span to see its attributes.",
    }
    with console_page(browser, server.url) as page:
        for theme in ("light", "dark"):
            page.evaluate(f"localStorage.setItem('covey.theme', '{theme}')")
            for width in (1280, 390):
                page.set_viewport_size({"width": width, "height": 800})
                for path, landmark in screens.items():
                    page.goto(f"{server.url}/console/{path}")
                    page.get_by_role("main").get_by_text(landmark, exact=True).first.wait_for()
                    page.get_by_role("status").filter(has_text="Loading").first.wait_for(
                        state="detached"
                    )
                    if path.startswith("traces/"):
                        page.get_by_role("button", name=re.compile("^chat function")).first.click()
                    problems = _axe(page)
                    assert not problems, (theme, width, path, problems)
                    wide = page.evaluate("document.scrollingElement.scrollWidth")
                    assert wide <= width, (theme, width, path, wide)


MARKUP = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script><b>bold</b>'


def _markup_model(messages: list[Any], info: Any) -> Any:
    """Asks to refund an order whose id is markup, then answers with markup."""
    from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart

    last = messages[-1]
    if isinstance(last, ModelRequest) and any(isinstance(p, ToolReturnPart) for p in last.parts):
        return ModelResponse(parts=[TextPart(content=f"answer {MARKUP}")])
    args = {"order_id": MARKUP, "amount_eur": 1.0}
    return ModelResponse(
        parts=[ToolCallPart(tool_name="issue_refund", args=args, tool_call_id="x1")]
    )


def test_markup_from_a_model_or_tool_stays_text(serve, browser) -> None:
    """An attacker who steers a model's output or a tool call's arguments gets their markup
    shown as text on every screen, never parsed: no element is made, no script runs."""
    registry = Registry(
        [Agent(name="mallory", model=FunctionModel(_markup_model), tools=[issue_refund])]
    )
    server, client = serve(registry=registry, tracing=True)
    run = _run(client, "mallory", MARKUP, session_id="evil-chat")
    assert run["status"] == "paused"
    with console_page(browser, server.url, "approvals") as page:
        card = page.get_by_role("article").first
        card.get_by_text(MARKUP.replace('"', '\\"'), exact=False).wait_for()
        card.get_by_role("button", name="Approve issue_refund").click()
        page.get_by_role("article").get_by_text("approved").wait_for()
        for path in ("sessions/evil-chat", f"runs/{run['run_id']}", f"traces/{run['run_id']}"):
            page.goto(f"{server.url}/console/{path}")
            page.get_by_role("heading").first.wait_for()
            page.get_by_role("status").filter(has_text="Loading").first.wait_for(state="detached")
            if path.startswith("sessions/"):
                page.get_by_text(f"answer {MARKUP}", exact=True).wait_for()
                page.get_by_text(MARKUP, exact=True).wait_for()  # the input
            if path.startswith("runs/"):
                page.get_by_role("region", name="Output").get_by_text(f"answer {MARKUP}").wait_for()
            main = page.get_by_role("main")
            assert main.locator("img, script, b").count() == 0, path
            assert page.evaluate("window.pwned") is None, path


def test_a_read_only_token_sees_but_cannot_act(serve, browser) -> None:
    server, client = serve(registry=_registry(), **jwt_settings())
    writer = console_token("alice", tenant="acme")
    reader = console_token("alice", tenant="acme", scope="agents:read sessions:read runs:read")
    paused = client.post(
        "/v1/agents/refunds/runs",
        json={"input": "Refund order A-17", "session_id": "read-only"},
        headers=_bearer(writer),
    ).json()
    assert paused["status"] == "paused"
    with console_page(browser, server.url, "approvals") as page:
        sign_in(page, reader)
        page.get_by_role("article").get_by_text("issue_refund").first.wait_for()
        assert page.get_by_role("button", name="Approve issue_refund").count() == 0
        page.goto(f"{server.url}/console/runs/{paused['run_id']}")
        page.get_by_role("list", name="Events").get_by_text("run.paused", exact=True).wait_for()
        assert page.get_by_role("button", name="Cancel run").count() == 0
        assert page.get_by_role("button", name="Resume run").count() == 0
        page.goto(f"{server.url}/console/sessions")
        page.get_by_role("table", name="Sessions").get_by_role("link", name="read-only").wait_for()
        assert page.get_by_role("button", name=re.compile("^Delete")).count() == 0
    assert (
        client.get(f"/v1/runs/{paused['run_id']}", headers=_bearer(writer)).json()["status"]
        == "paused"
    )
