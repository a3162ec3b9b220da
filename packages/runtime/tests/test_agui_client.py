"""The AG-UI endpoint driven by the official AG-UI client, `@ag-ui/client`'s `HttpAgent` (npm),
over real HTTP: the client verifies the stream as it applies it (event order, ids, messages
and tool calls opened and closed) and builds its messages and state from it.

The client (`agui_client/package.json` + `package-lock.json`) is installed by `npm ci` into
`agui_client/.cache/<hash of the lock>/` the first time, like covey-tools-mcp's reference
servers; without node and npm the test is skipped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import ThreadServer, npm_ci
from test_agui import _registry

from covey.runtime import RuntimeSettings, create_app

CLIENT = Path(__file__).resolve().parent / "agui_client"


def _install() -> Path:
    target = npm_ci(CLIENT)
    if target is None:
        pytest.skip("node and npm are needed for the official AG-UI client")
    # ESM resolves packages next to the script, so the script runs from the install folder.
    shutil.copy(CLIENT / "client.mjs", target / "client.mjs")
    return target / "client.mjs"


@pytest.fixture(scope="module")
def client_script() -> Path:
    return _install()


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadServer]:
    app = create_app(RuntimeSettings(store="memory://"), registry=_registry())
    running = ThreadServer(app).start()
    try:
        yield running
    finally:
        running.stop()


def _drive(script: Path, **spec: Any) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(
        [node, str(script), json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_official_client_reads_a_run_with_tools_and_state(
    server: ThreadServer, client_script: Path
) -> None:
    out = _drive(
        client_script,
        url=f"{server.url}/v1/agui/agents/shop",
        threadId="js-thread",
        state={"cart": ["eggs"]},
        inputs=["buy milk", "and bread"],
    )
    first, second = out["runs"]
    for run in (first, second):
        assert run["error"] is None, run
        assert run["outcome"] == "success"
        assert run["result"] == "Your cart is ready."
        assert run["events"][0] == "RUN_STARTED"
        assert run["events"][-1] == "RUN_FINISHED"
    # The client applied the state snapshots: the session's cart, kept across its two runs.
    assert out["state"]["cart"][0] == "eggs"
    assert len(out["state"]["cart"]) == 3
    # And built its messages from the stream: the assistant's tool call, the tool's result and
    # the answer, after each user message.
    roles = [m["role"] for m in out["messages"]]
    assert roles.count("user") == 2
    assert roles.count("tool") == 2
    calls = [m for m in out["messages"] if m["role"] == "assistant" and m.get("toolCalls")]
    assert [c["toolCalls"][0]["function"]["name"] for c in calls] == ["add_item", "add_item"]
    tool_results = [m for m in out["messages"] if m["role"] == "tool"]
    assert tool_results[0]["toolCallId"] == calls[0]["toolCalls"][0]["id"]
    answers = [
        m["content"] for m in out["messages"] if m["role"] == "assistant" and m.get("content")
    ]
    assert answers == ["Your cart is ready.", "Your cart is ready."]


def test_the_official_client_reads_an_interrupt(server: ThreadServer, client_script: Path) -> None:
    out = _drive(
        client_script,
        url=f"{server.url}/v1/agui/agents/danger",
        threadId="js-danger",
        inputs=["clean up"],
    )
    (run,) = out["runs"]
    assert run["error"] is None, run
    assert run["outcome"] == "interrupt"
    (interrupt,) = run["interrupts"]
    assert interrupt["reason"] == "approval"
    assert interrupt["toolCallId"]


def test_the_official_client_sees_a_refused_input(
    server: ThreadServer, client_script: Path
) -> None:
    out = _drive(
        client_script,
        url=f"{server.url}/v1/agui/agents/nobody",
        threadId="js-missing",
        inputs=["hello"],
    )
    (run,) = out["runs"]
    assert run["error"] is not None
    assert "404" in run["error"]


@pytest.fixture(scope="module")
def composites_server() -> Iterator[ThreadServer]:
    from runtime_teams import build

    app = create_app(RuntimeSettings(store="memory://"), registry=build())
    running = ThreadServer(app).start()
    try:
        yield running
    finally:
        running.stop()


def test_the_official_client_reads_a_workflow_with_parallel_steps(
    composites_server: ThreadServer, client_script: Path
) -> None:
    out = _drive(
        client_script,
        url=f"{composites_server.url}/v1/agui/workflows/pipeline",
        threadId="js-pipeline",
        inputs=["a poem"],
    )
    (run,) = out["runs"]
    assert run["error"] is None, run
    assert run["outcome"] == "success"
    assert str(run["result"]).startswith("published: ")
    events = run["events"]
    assert events.count("STEP_STARTED") == events.count("STEP_FINISHED") >= 4
    # The step agents' answers arrive as assistant messages (the parallel branch's too).
    texts = [m["content"] for m in out["messages"] if m["role"] == "assistant"]
    assert any(t.startswith("draft of") for t in texts)
    assert any(t.startswith("critique of") for t in texts)


def test_the_official_client_reads_a_team_and_its_members(
    composites_server: ThreadServer, client_script: Path
) -> None:
    out = _drive(
        client_script,
        url=f"{composites_server.url}/v1/agui/teams/desk",
        threadId="js-desk",
        inputs=["a poem"],
    )
    (run,) = out["runs"]
    assert run["error"] is None, run
    assert run["outcome"] == "success"
    calls = [
        call["function"]["name"]
        for m in out["messages"]
        if m["role"] == "assistant"
        for call in m.get("toolCalls") or []
    ]
    assert "delegate_task" in calls
    texts = [m["content"] for m in out["messages"] if m["role"] == "assistant" and m.get("content")]
    assert any(t.startswith("draft of") for t in texts)  # a member's answer


def test_the_official_client_reads_a_team_members_pause(
    composites_server: ThreadServer, client_script: Path
) -> None:
    out = _drive(
        client_script,
        url=f"{composites_server.url}/v1/agui/teams/hitl",
        threadId="js-hitl",
        inputs=["/tmp/x"],
    )
    (run,) = out["runs"]
    assert run["error"] is None, run
    assert run["outcome"] == "interrupt"
    assert [i["reason"] for i in run["interrupts"]] == ["approval"]


@pytest.mark.parametrize(
    ("decide", "answer"),
    [({"approved": True}, "deleted"), ("cancel", "denied"), ({"approved": "yes"}, "denied")],
)
def test_the_official_client_resumes_an_interrupt(
    server: ThreadServer, client_script: Path, decide: Any, answer: str
) -> None:
    out = _drive(
        client_script,
        url=f"{server.url}/v1/agui/agents/danger",
        threadId=f"js-resume-{answer}-{decide!s:.4}",
        inputs=["clean up"],
        decide=decide,
    )
    paused, resumed = out["runs"]
    assert paused["outcome"] == "interrupt"
    assert resumed["error"] is None, resumed
    assert resumed["outcome"] == "success"
    results = [m["content"] for m in out["messages"] if m["role"] == "tool"]
    assert len(results) == 1
    if answer == "deleted":
        assert results[0].startswith("deleted ")
    else:
        # Only an explicit yes approves; the rejection is the call's result.
        assert results[0] == "The user rejected this tool call."
