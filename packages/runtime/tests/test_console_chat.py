"""The console's chat screen in a real browser against a real runtime on loopback.

Each test talks to an agent, a team or a workflow of `console_registry()` the way a person
does (by label, role and text) and then checks what the server stored with the HTTP client:
the streamed answer and its tool call, the session in the address and after a reload, an
approval decided inline (and its note in the audit), member runs and workflow steps nested,
an image attached as a content part, and model output that tries to become markup.
"""

from __future__ import annotations

import asyncio
import base64
import re
import struct
import threading
import zlib
from collections.abc import Iterator
from typing import Any

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
from pydantic import BaseModel

from covey.core import Agent
from covey.core.testing import AgentInfo, DeltaThinking, FunctionModel
from covey.runtime import Registry
from covey.spec import (
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
    tool,
)

WEATHER_ANSWER = "The weather in Paris is sunny, 21 °C. Enjoy!"
REFUND_ANSWER = "Done: refunded 25.00 EUR on order A-17."
SESSION_URL = re.compile(r"/console/chat/agent/weather/([0-9a-f]{32})$")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


# --- an agent that says back what it was told (the attack surface: model output) -------------


def _prompt(messages: list[ModelRequest | ModelResponse]) -> str:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPart) and isinstance(part.content, str):
                    return part.content
    return ""


def _echo(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    return ModelResponse(parts=[TextPart(content=_prompt(messages))])


async def _echo_stream(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> Any:
    yield {0: DeltaThinking(content="The person wants their words back. ")}
    yield {0: DeltaThinking(content="I repeat them.")}
    for word in re.split(r"(?<= )", _prompt(messages)):
        yield word


class Forecast(BaseModel):
    city: str
    celsius: int
    summary: str


def _forecast(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    args = {"city": "Paris", "celsius": 21, "summary": "sunny"}
    return ModelResponse(
        parts=[ToolCallPart(tool_name="final_result", args=args, tool_call_id="f")]
    )


GATE = threading.Event()
"""Opened by a test to let `slow`'s tool return (reset by the `gate` fixture)."""


@tool
async def wait_for_gate() -> str:
    """Wait until the test opens the gate."""
    await asyncio.to_thread(GATE.wait, 30)
    return "the gate opened"


def _slow(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    if isinstance(messages[-1], ModelRequest) and any(
        isinstance(p, ToolReturnPart) for p in messages[-1].parts
    ):
        return ModelResponse(parts=[TextPart(content="Through the gate at last.")])
    return ModelResponse(parts=[ToolCallPart(tool_name="wait_for_gate", args={}, tool_call_id="g")])


@tool(input_fields=("to",))
def send_mail(subject: str, to: str = "") -> str:
    """Send a mail; a person says who it goes to.

    Args:
        subject: The subject line.
        to: The address (given by the person).
    """
    return f"sent {subject!r} to {to}"


def _mailer(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    last = messages[-1]
    returns = [p for p in last.parts if isinstance(p, ToolReturnPart)]
    if isinstance(last, ModelRequest) and returns:
        return ModelResponse(parts=[TextPart(content=f"Mail: {returns[0].content}.")])
    call = ToolCallPart(tool_name="send_mail", args={"subject": "Hi"}, tool_call_id="m")
    return ModelResponse(parts=[call])


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    GATE.clear()
    yield GATE
    GATE.set()  # never leave a tool thread waiting


def chat_registry() -> Registry:
    """`console_registry()` plus `echo` (thinks aloud, then repeats the prompt), `forecast`
    (answers with a structured `Forecast`), `slow` (its tool waits for the test's gate) and
    `mailer` (its tool asks the person for an input)."""
    base = console_registry()
    echo = Agent(
        name="echo",
        model=FunctionModel(_echo, stream_function=_echo_stream),
        description="Says back what it is told.",
    )
    forecast = Agent(name="forecast", model=FunctionModel(_forecast), output_type=Forecast)
    slow = Agent(name="slow", model=FunctionModel(_slow), tools=[wait_for_gate])
    mailer = Agent(name="mailer", model=FunctionModel(_mailer), tools=[send_mail])
    return Registry(
        [
            *base.items("agent"),
            *base.items("team"),
            *base.items("workflow"),
            echo,
            forecast,
            slow,
            mailer,
        ]
    )


def tiny_png() -> bytes:
    """A valid 1x1 PNG (made here: no file in the repository)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x80\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def send(page: Any, target: str, text: str) -> None:
    box = page.get_by_label(f"Message to {target}")
    box.fill(text)
    box.press("Enter")


def finished(page: Any, turns: int = 1) -> None:
    """Wait until `turns` turns have ended: each shows its usage once its run is over."""
    page.get_by_role("log").get_by_text(re.compile(r"tokens in")).nth(turns - 1).wait_for()


def record_answer_growth(page: Any) -> None:
    """Keep every length the streamed answer had (observed through DOM mutations)."""
    page.evaluate(
        """() => {
          window.__answerLengths = [];
          const log = document.querySelector('[role="log"]');
          new MutationObserver((records) => {
            for (const r of records) {
              // A record keeps the node it added, with the text it had then.
              if (r.target.closest && r.target.closest('.chat-answer')) {
                for (const node of r.addedNodes) window.__answerLengths.push(node.textContent.length);
              }
            }
          }).observe(log, {childList: true, subtree: true});
        }"""
    )


# --- tests ------------------------------------------------------------------------------------


def test_a_streamed_answer_with_its_tool_call_and_a_session_that_survives_reload(
    serve, browser: Any
) -> None:
    server, client = serve(registry=chat_registry())
    with console_page(browser, server.url, "chat") as page:
        # The picker lists what the server serves; picking one opens its conversation.
        side = page.get_by_role("complementary")
        side.get_by_role("link", name="briefing").wait_for()
        side.get_by_role("link", name="weather").click()
        page.get_by_role("heading", name="weather").wait_for()
        record_answer_growth(page)
        send(page, "weather", "Weather in Paris?")
        log = page.get_by_role("log", name="Conversation")
        log.get_by_text(WEATHER_ANSWER).wait_for()
        lengths = page.evaluate("window.__answerLengths")
        assert len(set(lengths)) > 1, lengths  # it grew token by token, not all at once
        assert max(lengths) == len(WEATHER_ANSWER)

        # The tool call shows collapsed; opened, its arguments and result.
        call = log.locator("details", has_text="get_weather")
        call.get_by_text("get_weather").click()
        assert '"city": "Paris"' in call.inner_text()
        assert "sunny, 21 °C" in call.inner_text()
        assert "completed" in call.inner_text()
        finished(page)
        shot(page, "chat")

        # The session went into the address; the server holds the run.
        page.wait_for_url(SESSION_URL)
        match = SESSION_URL.search(page.url)
        assert match is not None
        session = match.group(1)
        runs = client.get(f"/v1/sessions/{session}/runs").json()["items"]
        assert [r["status"] for r in runs] == ["completed"]
        assert runs[0]["output"] == WEATHER_ANSWER

        # A reload reopens the conversation, and the next message continues it.
        page.reload()
        log = page.get_by_role("log", name="Conversation")
        log.get_by_text("Weather in Paris?").wait_for()
        log.get_by_text(WEATHER_ANSWER).wait_for()
        assert log.locator("details", has_text="get_weather").count() == 1
        sessions = page.get_by_role("region", name="Conversations")
        sessions.get_by_role("link", name=re.compile(session[:8])).wait_for()
        send(page, "weather", "And in Paris tomorrow?")
        log.get_by_text("And in Paris tomorrow?").wait_for()
        log.get_by_text(WEATHER_ANSWER).nth(1).wait_for()
        finished(page, 2)
        assert SESSION_URL.search(page.url).group(1) == session  # type: ignore[union-attr]
        runs = client.get(f"/v1/sessions/{session}/runs").json()["items"]
        assert [r["status"] for r in runs] == ["completed", "completed"]


def test_a_paused_tool_call_is_approved_inline_with_a_note(serve, browser: Any) -> None:
    server, client = serve(registry=chat_registry())
    with console_page(browser, server.url, "chat/agent/refunds") as page:
        send(page, "refunds", "Please refund order A-17.")
        waiting = page.get_by_role("region", name="Waiting for you")
        waiting.wait_for()
        assert "issue_refund" in waiting.inner_text()
        assert (
            '"order_id": "A-17"' in waiting.get_by_label("Arguments of issue_refund").inner_text()
        )
        log = page.get_by_role("log", name="Conversation")
        assert log.get_by_text("paused", exact=True).is_visible()
        shot(page, "chat-approval")

        waiting.get_by_label("Note for issue_refund (optional)").fill("Customer called; OK by Dana")
        waiting.get_by_role("button", name="Approve issue_refund").click()
        log.get_by_text(REFUND_ANSWER).wait_for()
        finished(page)
        assert waiting.get_by_role("button", name="Approve issue_refund").is_disabled()

    session = page.url.rsplit("/", 1)[-1]
    runs = client.get(f"/v1/sessions/{session}/runs").json()["items"]
    assert [(r["status"], r["output"]) for r in runs] == [("completed", REFUND_ANSWER)]
    decided = client.get("/v1/approvals", params={"status": "approved"}).json()["items"]
    assert [(a["tool_name"], a["note"]) for a in decided] == [
        ("issue_refund", "Customer called; OK by Dana")
    ]


def test_a_paused_run_reopened_later_can_be_rejected(serve, browser: Any) -> None:
    server, client = serve(registry=chat_registry())
    with console_page(browser, server.url, "chat/agent/refunds") as page:
        send(page, "refunds", "Refund A-17")
        page.get_by_role("region", name="Waiting for you").wait_for()
        page.wait_for_url(re.compile(r"/chat/agent/refunds/[0-9a-f]{32}$"))
        page.reload()  # the pause is read back from the stored run
        waiting = page.get_by_role("region", name="Waiting for you")
        waiting.get_by_role("button", name="Reject issue_refund").click()
        page.get_by_role("log").get_by_text(re.compile(r"^Done: ")).wait_for()
        finished(page)
    session = page.url.rsplit("/", 1)[-1]
    (run,) = client.get(f"/v1/sessions/{session}/runs").json()["items"]
    assert run["status"] == "completed" and "refunded" not in run["output"]
    assert run["tool_calls"][0]["error"] or "reject" in str(run["tool_calls"]).lower()


def test_member_runs_and_workflow_steps_nest(serve, browser: Any) -> None:
    server, _ = serve(registry=chat_registry())
    with console_page(browser, server.url, "chat/team/desk") as page:
        send(page, "desk", "Weather in Paris?")
        log = page.get_by_role("log", name="Conversation")
        log.get_by_text(f"weather said: {WEATHER_ANSWER}").wait_for()
        member = log.locator("details", has_text="Member run")
        assert member.locator("summary").first.inner_text().split()[:3] == [
            "Member",
            "run",
            "weather",
        ]
        # The member's own tool call and answer sit inside its group.
        assert member.locator("details", has_text="get_weather").count() == 1
        assert member.get_by_text(WEATHER_ANSWER).is_visible()

    with console_page(browser, server.url, "chat/workflow/briefing") as page:
        send(page, "briefing", "Weather in Paris?")
        log = page.get_by_role("log", name="Conversation")
        steps = log.locator("details.chat-step")
        steps.nth(1).get_by_text("completed").first.wait_for()
        names = [
            " ".join(steps.nth(i).locator("summary").first.inner_text().split()) for i in range(2)
        ]
        assert names[0].startswith("Step forecast") and names[1].startswith("Step recap")
        assert all("completed" in n for n in names)
        # Each step's run (the weather agent) shows inside its step.
        assert steps.nth(0).locator("details", has_text="Run weather").count() == 1
        assert steps.nth(0).get_by_text("Member run").count() == 0
        log.locator(".chat-turn > .chat-reply .badge", has_text="completed").first.wait_for()


def test_an_attached_image_is_sent_as_a_content_part(serve, browser: Any) -> None:
    server, client = serve(registry=chat_registry())
    png = tiny_png()
    with console_page(browser, server.url, "chat/agent/weather") as page:
        attach = page.get_by_label("Attach files")
        attach.set_input_files({"name": "dot.png", "mimeType": "image/png", "buffer": png})
        chips = page.get_by_role("list", name="Attached files")
        chips.get_by_text("dot.png").wait_for()
        # Removable, and too-large files are refused before anything is sent.
        big = b"\0" * 2_000_000
        attach.set_input_files(
            {"name": "big.bin", "mimeType": "application/octet-stream", "buffer": big}
        )
        page.get_by_role("alert").get_by_text(
            re.compile(r"big\.bin is 1\.9 MB: too large")
        ).wait_for()
        assert chips.get_by_text("big.bin").count() == 0
        send(page, "weather", "Weather in Paris? See the picture.")
        log = page.get_by_role("log", name="Conversation")
        log.get_by_text(WEATHER_ANSWER).wait_for()
        assert log.get_by_role("list", name="Attachments").get_by_text("dot.png").count() == 0
        assert "image" in log.get_by_role("list", name="Attachments").inner_text()
        assert not chips.is_visible()  # the composer is empty again
        page.wait_for_url(re.compile(r"/[0-9a-f]{32}$"))
    session = page.url.rsplit("/", 1)[-1]
    (run,) = client.get(f"/v1/sessions/{session}/runs").json()["items"]
    stored = run["input"]
    assert stored[0] == {"kind": "text", "text": "Weather in Paris? See the picture."}
    image = stored[1]
    assert image["kind"] == "image" and image["media_type"] == "image/png"
    assert base64.b64decode(image["data"]) == png


def test_the_attachment_limit_is_the_servers(serve, browser: Any) -> None:
    """The chat refuses what this server would refuse (`/v1/me` `limits.max_body_size`), not
    what the default would."""
    server, _ = serve(registry=chat_registry(), max_body_size=64 * 1024)
    with console_page(browser, server.url, "chat/agent/weather") as page:
        attach = page.get_by_label("Attach files")
        attach.set_input_files(
            {"name": "mid.bin", "mimeType": "application/octet-stream", "buffer": b"\0" * 100_000}
        )
        page.get_by_role("alert").get_by_text(re.compile(r"mid\.bin is .*: too large")).wait_for()
        assert page.get_by_role("list", name="Attached files").get_by_text("mid.bin").count() == 0


def test_model_output_never_becomes_markup(serve, browser: Any) -> None:
    server, _ = serve(registry=chat_registry())
    attack = (
        '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> '
        "**bold** [bad](javascript:window.__pwned=3) [good](https://example.com/x) `<b>code</b>`"
    )
    with console_page(browser, server.url, "chat/agent/echo") as page:
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        send(page, "echo", attack)
        log = page.get_by_role("log", name="Conversation")
        answer = log.locator(".chat-answer")
        answer.get_by_text("bold", exact=True).wait_for()
        text = answer.inner_text()
        assert '<img src=x onerror="window.__pwned=1">' in text
        assert "<script>window.__pwned=2</script>" in text
        assert log.locator("img").count() == 0 and log.locator("script").count() == 0
        assert answer.locator("strong").inner_text() == "bold"
        assert answer.locator("code").inner_text() == "<b>code</b>"
        good = answer.get_by_role("link", name="good")
        assert good.get_attribute("href") == "https://example.com/x"
        assert "noopener" in (good.get_attribute("rel") or "")
        assert answer.get_by_role("link", name="bad").count() == 0
        assert "[bad](javascript:" in text
        # The person's own message is text too.
        assert log.locator(".chat-user").get_by_text(attack).count() == 1
        # Thinking is there, collapsed and muted.
        thinking = log.locator("details", has_text="Thinking")
        assert thinking.get_attribute("open") is None
        thinking.get_by_text("Thinking").click()
        thinking.get_by_text("I repeat them.").wait_for()
        click_all = page.evaluate("window.__pwned")
        assert click_all is None and dialogs == []


def test_errors_show_in_the_turn_and_the_phone_layout_has_a_select(serve, browser: Any) -> None:
    server, _ = serve(registry=chat_registry())
    with console_page(browser, server.url, "chat/agent/nobody") as page:
        send(page, "nobody", "hello?")
        page.get_by_role("log").get_by_role("alert").wait_for()
        assert "nobody" in page.get_by_role("log").get_by_role("alert").inner_text()
        page.set_viewport_size({"width": 390, "height": 800})
        select = page.get_by_label("Talk to")
        assert select.is_visible()
        assert (
            not page.get_by_role("complementary").get_by_role("link", name="weather").is_visible()
        )
        select.select_option("agent/weather")
        page.get_by_role("heading", name="weather").wait_for()
        assert page.get_by_label("Message to weather").is_visible()
        # The target's conversations load after the screen: wait for their select.
        page.get_by_role("combobox", name="Conversation", exact=True).wait_for()


def test_structured_output_shows_as_a_definition_list(serve, browser: Any) -> None:
    server, _ = serve(registry=chat_registry())
    with console_page(browser, server.url, "chat/agent/forecast") as page:
        send(page, "forecast", "Forecast for Paris")
        output = page.get_by_role("log").locator(".chat-output")
        output.get_by_text("Structured output").wait_for()
        terms = output.locator("dt").all_inner_texts()
        values = output.locator("dd").all_inner_texts()
        assert dict(zip(terms, values, strict=True)) == {
            "city": "Paris",
            "celsius": "21",
            "summary": "sunny",
        }


def test_a_running_run_is_reattached_and_can_be_stopped(
    serve, browser: Any, gate: threading.Event
) -> None:
    server, client = serve(registry=chat_registry())
    # A run started elsewhere (here: the API) and still running when the page opens.
    started = client.post("/v1/agents/slow/runs", json={"input": "go", "background": True})
    session = started.json()["session_id"]
    with console_page(browser, server.url, f"chat/agent/slow/{session}") as page:
        log = page.get_by_role("log", name="Conversation")
        log.get_by_text("wait_for_gate").wait_for()
        log.get_by_text("running", exact=True).first.wait_for()
        assert page.get_by_role("button", name="Stop").is_visible()
        gate.set()
        log.get_by_text("Through the gate at last.").wait_for()
        page.get_by_role("button", name="Stop").wait_for(state="hidden")

        # A new message waits on the gate again; Stop cancels it on the server.
        gate.clear()
        send(page, "slow", "again")
        log.locator("details", has_text="wait_for_gate").nth(1).wait_for()
        page.get_by_role("button", name="Stop").click()
        log.get_by_text("Cancelled.").wait_for()
    runs = client.get(f"/v1/sessions/{session}/runs").json()["items"]
    assert [r["status"] for r in runs] == ["completed", "cancelled"]


def test_markdown_structure_and_a_pasted_image(serve, browser: Any) -> None:
    server, _ = serve(registry=chat_registry())
    with console_page(browser, server.url, "chat/agent/echo") as page:
        # A pasted image becomes an attachment chip (the browser's own paste event).
        page.get_by_label("Message to echo").focus()
        page.evaluate(
            """() => {
              const data = new DataTransfer();
              data.items.add(new File([new Uint8Array([137, 80, 78, 71])], "pasted.png",
                                      {type: "image/png"}));
              const event = new ClipboardEvent("paste", {clipboardData: data, bubbles: true,
                                                        cancelable: true});
              document.activeElement.dispatchEvent(event);
            }"""
        )
        chips = page.get_by_role("list", name="Attached files")
        chips.get_by_text("pasted.png").wait_for()
        chips.get_by_role("button", name="Remove pasted.png").click()
        assert not chips.is_visible()
        # A file dropped on the message box is attached too.
        page.evaluate(
            """() => {
              const data = new DataTransfer();
              data.items.add(new File(["hello"], "notes.txt", {type: "text/plain"}));
              const box = document.getElementById("chat-input").closest("form");
              for (const type of ["dragover", "drop"]) {
                box.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true,
                                                       cancelable: true}));
              }
            }"""
        )
        chips.get_by_text("notes.txt").wait_for()
        assert "file" in chips.inner_text().lower() and "5 B" in chips.inner_text()
        chips.get_by_role("button", name="Remove notes.txt").click()

        text = "# Plan\n\n1. first\n2. *second*\n\n```\nx = 1\n```\n\n> quoted"
        box = page.get_by_label("Message to echo")
        box.fill(text)
        box.press("Enter")
        answer = page.get_by_role("log").locator(".chat-answer")
        answer.get_by_text("quoted").wait_for()
        assert answer.get_by_role("heading", name="Plan").count() == 1
        assert answer.get_by_role("listitem").all_inner_texts() == ["first", "second"]
        assert answer.locator("em").inner_text() == "second"
        assert answer.locator("pre code").inner_text() == "x = 1"
        assert answer.locator("blockquote").inner_text() == "quoted"


def test_a_run_asking_for_an_input_gets_it_from_a_form(serve, browser: Any) -> None:
    server, _ = serve(registry=chat_registry())
    with console_page(browser, server.url, "chat/agent/mailer") as page:
        send(page, "mailer", "Mail them hello")
        waiting = page.get_by_role("region", name="Waiting for you")
        waiting.get_by_label("to", exact=True).fill("bob@example.com")
        waiting.get_by_role("button", name="Send").click()
        page.get_by_role("log").get_by_text("Mail: sent 'Hi' to bob@example.com.").wait_for()


def test_chat_with_auth_runs_as_the_signed_in_user(serve, browser: Any) -> None:
    server, client = serve(registry=chat_registry(), **jwt_settings())
    with console_page(browser, server.url, "chat/agent/weather") as page:
        sign_in(page, console_token("alice", tenant="acme"))
        send(page, "weather", "Weather in Paris?")
        page.get_by_role("log").get_by_text(WEATHER_ANSWER).wait_for()
        finished(page)
        session = page.url.rsplit("/", 1)[-1]
        page.get_by_role("region", name="Conversations").get_by_role(
            "link", name=re.compile(session[:8])
        ).wait_for()
    alice = {"Authorization": f"Bearer {console_token('alice', tenant='acme')}"}
    bob = {"Authorization": f"Bearer {console_token('bob', tenant='acme')}"}
    (run,) = client.get(f"/v1/sessions/{session}/runs", headers=alice).json()["items"]
    assert run["user_id"] == "alice" and run["status"] == "completed"
    assert client.get(f"/v1/sessions/{session}/runs", headers=bob).status_code == 404
