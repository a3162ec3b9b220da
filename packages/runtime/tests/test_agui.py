"""`POST /v1/agui/{kind}/{id}` over real HTTP: every event parsed by `ag-ui-protocol`'s own
`Event` union, the stream's shape checked as an AG-UI client relies on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ag_ui.core import Event
from pydantic import TypeAdapter
from runtime_helpers import ThreadServer, read_sse

from covey.core import Agent, RunContext
from covey.core.testing import TestModel
from covey.runtime import Registry, RuntimeSettings, create_app
from covey.spec import tool

EVENTS: TypeAdapter[Any] = TypeAdapter(Event)
SECRET = "sk-live-0123456789abcdef"


@tool
def add_item(ctx: RunContext, item: str) -> str:
    """Put an item in the shopping cart."""
    cart = list(ctx.state.get("cart", []))
    cart.append(item)
    ctx.state["cart"] = cart
    return f"added {item}"


@tool(requires_approval=True)
def delete_everything(path: str) -> str:
    """Delete a folder (needs a person's approval)."""
    return f"deleted {path}"


@tool
def broken(x: int) -> str:
    """Always fails."""
    raise RuntimeError("boom")


def _registry() -> Registry:
    return Registry(
        [
            Agent(
                name="shop",
                model=TestModel(call_tools=["add_item"], custom_output_text="Your cart is ready."),
                tools=[add_item],
            ),
            Agent(
                name="danger",
                model=TestModel(call_tools=["delete_everything"]),
                tools=[delete_everything],
            ),
            Agent(name="chat", model=TestModel(custom_output_text="Hello there.")),
        ]
    )


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadServer]:
    app = create_app(RuntimeSettings(store="memory://"), registry=_registry())
    running = ThreadServer(app).start()
    try:
        yield running
    finally:
        running.stop()


def _input(text: str, *, thread: str = "thread-1", state: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "threadId": thread,
        "runId": "client-run-1",
        "messages": [
            {"id": "m0", "role": "system", "content": "ignored"},
            {"id": "m1", "role": "user", "content": text},
        ],
        "tools": [],
        "context": [],
        "forwardedProps": {},
    }
    if state is not None:
        body["state"] = state
    return body


def _stream(server: ThreadServer, path: str, body: Any) -> list[Any]:
    with (
        httpx.Client(base_url=server.url, timeout=30) as client,
        client.stream("POST", path, json=body, headers={"Accept": "text/event-stream"}) as resp,
    ):
        assert resp.status_code == 200, resp.read()
        assert resp.headers["content-type"].startswith("text/event-stream")
        return [EVENTS.validate_python(e.data) for e in read_sse(resp.iter_lines())]


def _check_shape(events: list[Any]) -> None:
    """What an AG-UI client verifies: one RUN_STARTED first, one terminal event last, every
    message and tool call started once and ended once, content only inside its start/end."""
    types = [e.type.value for e in events]
    assert types[0] == "RUN_STARTED"
    assert types[-1] in ("RUN_FINISHED", "RUN_ERROR")
    assert sum(t in ("RUN_FINISHED", "RUN_ERROR") for t in types) == 1
    open_messages: set[str] = set()
    open_calls: set[str] = set()
    for event in events:
        kind = event.type.value
        if kind == "TEXT_MESSAGE_START":
            assert event.message_id not in open_messages
            open_messages.add(event.message_id)
        elif kind == "TEXT_MESSAGE_CONTENT":
            assert event.message_id in open_messages
        elif kind == "TEXT_MESSAGE_END":
            open_messages.remove(event.message_id)
        elif kind == "TOOL_CALL_START":
            open_calls.add(event.tool_call_id)
        elif kind == "TOOL_CALL_ARGS":
            assert event.tool_call_id in open_calls
        elif kind == "TOOL_CALL_END":
            open_calls.remove(event.tool_call_id)
    assert not open_messages
    assert not open_calls


def test_text_tool_calls_and_state_snapshots(server: ThreadServer) -> None:
    events = _stream(server, "/v1/agui/agents/shop", _input("buy milk", state={"cart": ["eggs"]}))
    _check_shape(events)
    types = [e.type.value for e in events]
    assert events[0].thread_id == "thread-1"
    assert events[0].run_id == "client-run-1"
    custom = next(e for e in events if e.type.value == "CUSTOM")
    assert custom.name == "covey.run"
    covey_run = custom.value["run_id"]

    start = next(e for e in events if e.type.value == "TOOL_CALL_START")
    assert start.tool_call_name == "add_item"
    args = "".join(
        e.delta
        for e in events
        if e.type.value == "TOOL_CALL_ARGS" and e.tool_call_id == start.tool_call_id
    )
    assert isinstance(json.loads(args)["item"], str)
    result = next(e for e in events if e.type.value == "TOOL_CALL_RESULT")
    assert result.tool_call_id == start.tool_call_id
    assert result.content.startswith("added ")
    assert types.index("TOOL_CALL_END") < types.index("TOOL_CALL_RESULT")

    text = "".join(e.delta for e in events if e.type.value == "TEXT_MESSAGE_CONTENT")
    assert text == "Your cart is ready."

    snapshots = [e.snapshot for e in events if e.type.value == "STATE_SNAPSHOT"]
    assert snapshots[0] == {"cart": ["eggs"]}  # the input state, merged before the run
    assert snapshots[-1]["cart"][0] == "eggs"
    assert len(snapshots[-1]["cart"]) == 2  # the tool's change, after the run
    assert types[-2] == "STATE_SNAPSHOT"

    finished = events[-1]
    assert finished.type.value == "RUN_FINISHED"
    assert finished.run_id == "client-run-1"
    assert finished.outcome.type == "success"
    assert finished.result == "Your cart is ready."

    # The run is an ordinary Covey run, stored and readable through the REST API.
    with httpx.Client(base_url=server.url) as client:
        stored = client.get(f"/v1/runs/{covey_run}").json()
    assert stored["status"] == "completed"
    assert stored["session_id"] == "thread-1"


def test_a_thread_is_a_session(server: ThreadServer) -> None:
    first = _stream(server, "/v1/agui/agents/shop", _input("one", thread="cart-thread"))
    second = _stream(server, "/v1/agui/agents/shop", _input("two", thread="cart-thread"))
    assert first[-1].type.value == second[-1].type.value == "RUN_FINISHED"
    last_state = [e.snapshot for e in second if e.type.value == "STATE_SNAPSHOT"][-1]
    assert len(last_state["cart"]) == 2  # one item per run, kept by the session


def test_a_paused_run_finishes_with_an_interrupt(server: ThreadServer) -> None:
    events = _stream(server, "/v1/agui/agents/danger", _input("clean up", thread="t-danger"))
    _check_shape(events)
    finished = events[-1]
    assert finished.type.value == "RUN_FINISHED"
    assert finished.outcome.type == "interrupt"
    (interrupt,) = finished.outcome.interrupts
    assert interrupt.reason == "approval"
    start = next(e for e in events if e.type.value == "TOOL_CALL_START")
    assert interrupt.tool_call_id == start.tool_call_id
    assert not any(e.type.value == "TOOL_CALL_RESULT" for e in events)


def test_plain_text(server: ThreadServer) -> None:
    events = _stream(server, "/v1/agui/agents/chat", _input("hi", thread="t-chat"))
    _check_shape(events)
    text = "".join(e.delta for e in events if e.type.value == "TEXT_MESSAGE_CONTENT")
    assert text == "Hello there."
    assert {e.role for e in events if e.type.value == "TEXT_MESSAGE_START"} == {"assistant"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"threadId": "t", "runId": "r"}, "messages"),
        ({"threadId": "t", "runId": "r", "messages": []}, "messages"),
        (
            {
                "threadId": "t",
                "runId": "r",
                "messages": [{"id": "a", "role": "user", "content": " "}],
            },
            "messages",
        ),
        (
            {
                "threadId": "t",
                "runId": "r",
                "messages": [{"id": "a", "role": "user", "content": "x"}],
                "state": [1, 2],
            },
            "state",
        ),
        (
            {
                "threadId": "bad\x00id",
                "runId": "r",
                "messages": [{"id": "a", "role": "user", "content": "x"}],
            },
            "threadId",
        ),
        ({"threadId": 5, "runId": "r", "messages": []}, "thread"),
    ],
)
def test_bad_input_is_a_validation_problem(server: ThreadServer, body: Any, field: str) -> None:
    with httpx.Client(base_url=server.url) as client:
        response = client.post("/v1/agui/agents/chat", json=body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == "urn:covey:problem:validation-error"
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem


def test_unknown_agent_and_kind_are_404(server: ThreadServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        assert client.post("/v1/agui/agents/nobody", json=_input("x")).status_code == 404
        assert client.post("/v1/agui/robots/chat", json=_input("x")).status_code == 404


def test_another_users_thread_is_not_reachable() -> None:
    """A thread id is a session id: under auth, a user naming another user's thread gets a
    run in their own namespace, never the other user's state."""
    from test_auth import SECRET as KEY
    from test_auth import bearer, token

    settings = RuntimeSettings(store="memory://", auth="jwt", jwt_secret=KEY)
    app = create_app(settings, registry=_registry())
    running = ThreadServer(app).start()
    try:
        alice = bearer(token("alice", scope="agents:run"))
        mallory = bearer(token("mallory", scope="agents:run"))
        with httpx.Client(base_url=running.url, timeout=30) as client:
            body = _input("buy", thread="alice-thread", state={"card": SECRET})
            response = client.post("/v1/agui/agents/shop", json=body, headers=alice)
            assert response.status_code == 200
            assert SECRET in response.text
            steal = _input("buy", thread="alice-thread")
            response = client.post("/v1/agui/agents/shop", json=steal, headers=mallory)
            assert SECRET not in response.text
            nobody = client.post("/v1/agui/agents/shop", json=steal)
            assert nobody.status_code == 401
            reader = bearer(token("eve", scope="agents:read"))
            assert (
                client.post("/v1/agui/agents/shop", json=steal, headers=reader).status_code == 403
            )
    finally:
        running.stop()


def _paused(server: ThreadServer, thread: str) -> str:
    events = _stream(server, "/v1/agui/agents/danger", _input("clean up", thread=thread))
    (interrupt,) = events[-1].outcome.interrupts
    return interrupt.id


def _resume_body(thread: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"threadId": thread, "runId": "client-run-2", "messages": [], "resume": list(entries)}


def test_resume_entries_continue_the_paused_run(server: ThreadServer) -> None:
    interrupt = _paused(server, "t-resume")
    body = _resume_body(
        "t-resume", {"interruptId": interrupt, "status": "resolved", "payload": True}
    )
    events = _stream(server, "/v1/agui/agents/danger", body)
    _check_shape(events)
    result = next(e for e in events if e.type.value == "TOOL_CALL_RESULT")
    assert result.content.startswith("deleted ")
    assert events[-1].outcome.type == "success"
    # The run was claimed: a second decider gets a problem, not a second execution.
    with httpx.Client(base_url=server.url) as client:
        again = client.post("/v1/agui/agents/danger", json=body)
    assert again.status_code == 409
    assert again.json()["type"] == "urn:covey:problem:run-not-paused"


def test_bad_resume_entries_are_refused(server: ThreadServer) -> None:
    interrupt = _paused(server, "t-bad-resume")
    run_id, _, _call = interrupt.partition(":")
    other = _paused(server, "t-other")
    cases = [
        (_resume_body("t-bad-resume", {"interruptId": "nocolon", "status": "resolved"}), 400),
        (
            _resume_body("t-bad-resume", {"interruptId": f"{run_id}:nope", "status": "resolved"}),
            400,
        ),
        # Another thread's run: not reachable from this thread.
        (_resume_body("t-bad-resume", {"interruptId": other, "status": "resolved"}), 400),
        (
            _resume_body(
                "t-bad-resume",
                {"interruptId": interrupt, "status": "resolved"},
                {"interruptId": other, "status": "resolved"},
            ),
            400,
        ),
        (_resume_body("t-bad-resume", {"interruptId": "missing:call", "status": "resolved"}), 404),
    ]
    with httpx.Client(base_url=server.url) as client:
        for body, status in cases:
            response = client.post("/v1/agui/agents/danger", json=body)
            assert response.status_code == status, (body, response.text)
        # The right interrupt, sent to another agent's endpoint.
        right = _resume_body("t-bad-resume", {"interruptId": interrupt, "status": "resolved"})
        assert client.post("/v1/agui/agents/shop", json=right).status_code == 400
    # Nothing was decided: the run still waits.
    events = _stream(
        server,
        "/v1/agui/agents/danger",
        _resume_body("t-bad-resume", {"interruptId": interrupt, "status": "cancelled"}),
    )
    result = next(e for e in events if e.type.value == "TOOL_CALL_RESULT")
    assert result.content == "The user rejected this tool call."


def test_two_deciders_never_both_win(server: ThreadServer) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    interrupt = _paused(server, "t-race")
    body = _resume_body("t-race", {"interruptId": interrupt, "status": "resolved", "payload": True})
    barrier = Barrier(2)

    def decide() -> tuple[int, str]:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            barrier.wait()
            response = client.post("/v1/agui/agents/danger", json=body)
            return response.status_code, response.text

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: decide(), range(2)))
    assert sorted(status for status, _ in answers) == [200, 409]
    streamed = next(text for status, text in answers if status == 200)
    assert streamed.count('"type":"TOOL_CALL_RESULT"') == 1
