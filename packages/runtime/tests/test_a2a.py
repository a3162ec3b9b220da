"""A2A: served agents, teams and workflows called with the official `a2a-sdk` client over real
HTTP (agent card, message/send, streaming, tasks, cancel), and the attacks on the mount."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import ClientConfig, create_client
from a2a.client.errors import A2AClientError
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)
from a2a.utils.errors import TaskNotFoundError
from test_auth import SECRET, bearer, token

from covey.runtime import RuntimeSettings


def message(text: str, *, context_id: str = "") -> SendMessageRequest:
    return SendMessageRequest(
        message=Message(
            message_id=str(uuid.uuid4()),
            role=Role.ROLE_USER,
            parts=[Part(text=text)],
            context_id=context_id,
        )
    )


async def client_for(
    base: str, name: str, *, streaming: bool, headers: dict[str, str] | None = None
) -> Any:
    http = httpx.AsyncClient(headers=headers or {}, timeout=30)
    return await create_client(
        f"{base}/a2a/{name}",
        client_config=ClientConfig(streaming=streaming, httpx_client=http),
        resolver_http_kwargs={"headers": headers or {}},
    )


async def collect(client: Any, request: SendMessageRequest) -> list[StreamResponse]:
    return [response async for response in client.send_message(request)]


def text_of(task: Task) -> str:
    """The text output: streamed chunks are parts of one artifact, in order."""
    return "".join(p.text for a in task.artifacts for p in a.parts if p.HasField("text"))


def streamed(responses: list[Any]) -> tuple[list[Any], str]:
    """The task states a stream's status updates went through, and its artifact text joined."""
    states = [r.status_update.status.state for r in responses if r.HasField("status_update")]
    text = "".join(
        p.text
        for r in responses
        if r.HasField("artifact_update")
        for p in r.artifact_update.artifact.parts
    )
    return states, text


def final_task(responses: list[StreamResponse]) -> Task:
    tasks = [r.task for r in responses if r.HasField("task")]
    assert tasks, responses
    return tasks[-1]


async def test_agent_card_is_served_with_its_url(serve: Any) -> None:
    server, _ = serve()
    async with httpx.AsyncClient() as http:
        card = (await http.get(f"{server.url}/a2a/echo/.well-known/agent-card.json")).json()
    assert card["name"] == "echo"
    assert card["description"] == "Echoes the input."
    assert card["capabilities"]["streaming"] is True
    assert card["supportedInterfaces"][0]["url"] == f"{server.url}/a2a/echo"
    assert card["supportedInterfaces"][0]["protocolBinding"] == "JSONRPC"
    assert "securitySchemes" not in card  # auth is off


async def test_message_send_runs_the_agent_and_stores_the_run(serve: Any) -> None:
    server, api = serve()
    client = await client_for(server.url, "echo", streaming=False)
    task = final_task(await collect(client, message("hello there")))
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    assert text_of(task) == "echo: hello there"
    # An ordinary run: stored, in the session named by the A2A context id.
    runs = api.get(f"/v1/sessions/{task.context_id}/runs").json()["items"]
    assert [r["status"] for r in runs] == ["completed"]
    assert runs[0]["agent_id"] == "echo"
    # tasks/get with the official client answers the same task.
    again = await client.get_task(GetTaskRequest(id=task.id))
    assert again.status.state == TaskState.TASK_STATE_COMPLETED
    await client.close()


async def test_streaming_sends_status_and_artifact_updates(serve: Any) -> None:
    server, _ = serve()
    client = await client_for(server.url, "echo", streaming=True)
    responses = await collect(client, message("stream me"))
    kinds = [r.WhichOneof("payload") for r in responses]
    assert kinds[0] == "task"
    assert "artifact_update" in kinds
    states, text = streamed(responses)
    assert states[0] == TaskState.TASK_STATE_WORKING
    assert states[-1] == TaskState.TASK_STATE_COMPLETED
    assert text == "echo: stream me"
    await client.close()


async def test_a_context_is_a_session(serve: Any) -> None:
    server, _ = serve()
    client = await client_for(server.url, "history", streaming=False)
    context = str(uuid.uuid4())
    await collect(client, message("first", context_id=context))
    task = final_task(await collect(client, message("second", context_id=context)))
    assert text_of(task) == "seen: first, second"
    await client.close()


async def test_structured_output_is_a_data_artifact(serve: Any) -> None:
    server, _ = serve()
    client = await client_for(server.url, "forecast", streaming=False)
    task = final_task(await collect(client, message("Paris")))
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    data = task.artifacts[-1].parts[0].data
    assert set(data.struct_value.fields) == {"city", "celsius"}
    await client.close()


def decisions(task: Task, data: dict[str, Any]) -> SendMessageRequest:
    """A message in `task` carrying decisions as a data part."""
    from google.protobuf import struct_pb2

    value = struct_pb2.Value()
    value.struct_value.update(data)
    return SendMessageRequest(
        message=Message(
            message_id=str(uuid.uuid4()),
            role=Role.ROLE_USER,
            parts=[Part(data=value)],
            context_id=task.context_id,
            task_id=task.id,
        )
    )


def paused_for(task: Task) -> list[dict[str, Any]]:
    from google.protobuf.json_format import MessageToDict

    parts = [MessageToDict(p) for p in task.status.message.parts]
    return next(p["data"]["requirements"] for p in parts if "data" in p)


async def test_a_paused_run_is_input_required_and_decisions_resume_it(serve: Any) -> None:
    server, api = serve()
    client = await client_for(server.url, "approver", streaming=False)
    task = final_task(await collect(client, message("/tmp/x")))
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    run_id = task.metadata["covey.run_id"]
    assert api.get(f"/v1/runs/{run_id}").json()["status"] == "paused"
    [needed] = paused_for(task)
    assert needed["tool_name"] == "delete_file"
    assert needed["kind"] == "approval"
    # Plain text is not a decision: the task still waits.
    again = final_task(await collect(client, message("yes please", context_id=task.context_id)))
    assert again.id != task.id  # a new task: text without the task id starts a new run
    follow = SendMessageRequest(
        message=Message(
            message_id=str(uuid.uuid4()),
            role=Role.ROLE_USER,
            parts=[Part(text="yes")],
            context_id=task.context_id,
            task_id=task.id,
        )
    )
    waiting = final_task(await collect(client, follow))
    assert waiting.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    assert "data part" in waiting.status.message.parts[0].text
    # A decision for a call that does not wait: asked again, the run untouched.
    wrong = final_task(await collect(client, decisions(task, {"approvals": {"nope": True}})))
    assert wrong.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    assert api.get(f"/v1/runs/{run_id}").json()["status"] == "paused"
    # The decision: the same run resumes, and the task completes with its output.
    done = final_task(
        await collect(client, decisions(task, {"approvals": {needed["tool_call_id"]: True}}))
    )
    assert done.id == task.id
    assert done.status.state == TaskState.TASK_STATE_COMPLETED
    assert text_of(done) == "result: deleted /tmp/x"
    assert api.get(f"/v1/runs/{run_id}").json()["status"] == "completed"
    await client.close()


async def test_cancelling_a_paused_task_cancels_its_run(serve: Any) -> None:
    server, api = serve()
    client = await client_for(server.url, "approver", streaming=False)
    task = final_task(await collect(client, message("/tmp/y")))
    run_id = task.metadata["covey.run_id"]
    canceled = await client.cancel_task(CancelTaskRequest(id=task.id))
    assert canceled.status.state == TaskState.TASK_STATE_CANCELED
    assert api.get(f"/v1/runs/{run_id}").json()["status"] == "cancelled"
    await client.close()


async def test_cancel_task_cancels_the_run(serve: Any, gates: Path) -> None:
    server, api = serve()
    client = await client_for(server.url, "gated", streaming=True)
    request = message("never-opened")
    stream = client.send_message(request)
    task_id = run_id = ""
    async for response in stream:
        update = response.status_update
        if (
            response.HasField("status_update")
            and update.status.state == TaskState.TASK_STATE_WORKING
        ):
            task_id, run_id = update.task_id, update.metadata["covey.run_id"]
            break
    assert task_id
    assert api.get(f"/v1/runs/{run_id}").json()["status"] == "running"
    canceled = await client.cancel_task(CancelTaskRequest(id=task_id))
    assert canceled.status.state == TaskState.TASK_STATE_CANCELED
    await stream.aclose()
    assert api.get(f"/v1/runs/{run_id}").json()["status"] == "cancelled"
    await client.close()


async def test_teams_and_workflows_are_a2a_agents_too(serve: Any) -> None:
    from runtime_teams import build

    server, _ = serve(registry=build())
    async with httpx.AsyncClient() as http:
        for name in ("desk", "pipeline"):
            card = await http.get(f"{server.url}/a2a/{name}/.well-known/agent-card.json")
            assert card.status_code == 200, name
    client = await client_for(server.url, "pipeline", streaming=False)
    task = final_task(await collect(client, message("go")))
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    await client.close()


# --- attacks -------------------------------------------------------------------------------------


def jwt_settings() -> dict[str, Any]:
    return {"auth": "jwt", "jwt_secret": SECRET}


async def test_no_token_no_card_no_call(serve: Any) -> None:
    server, _ = serve(**jwt_settings())
    async with httpx.AsyncClient() as http:
        card = await http.get(f"{server.url}/a2a/echo/.well-known/agent-card.json")
        assert card.status_code == 401
        call = await http.post(
            f"{server.url}/a2a/echo",
            json={"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {}},
        )
        assert call.status_code == 401


async def test_a_read_only_token_cannot_run(serve: Any) -> None:
    server, _ = serve(**jwt_settings())
    reader = bearer(token(scope="agents:read"))
    async with httpx.AsyncClient(headers=reader) as http:
        card = await http.get(f"{server.url}/a2a/echo/.well-known/agent-card.json")
        assert card.status_code == 200
        assert (
            card.json()["securitySchemes"]["bearer"]["httpAuthSecurityScheme"]["scheme"] == "bearer"
        )
    client = await client_for(server.url, "echo", streaming=False, headers=reader)
    with pytest.raises(A2AClientError):
        await collect(client, message("hi"))
    await client.close()


async def test_tasks_are_kept_per_caller(serve: Any) -> None:
    server, _ = serve(**jwt_settings())
    alice = bearer(token("alice"))
    mallory = bearer(token("mallory"))
    client = await client_for(server.url, "echo", streaming=False, headers=alice)
    task = final_task(await collect(client, message("private")))
    await client.close()
    thief = await client_for(server.url, "echo", streaming=False, headers=mallory)
    with pytest.raises(TaskNotFoundError):
        await thief.get_task(GetTaskRequest(id=task.id))
    with pytest.raises(TaskNotFoundError):
        await thief.cancel_task(CancelTaskRequest(id=task.id))
    listed = await thief.list_tasks(ListTasksRequest())
    assert list(listed.tasks) == []
    await thief.close()


async def test_an_oversized_body_is_refused(serve: Any) -> None:
    server, _ = serve(max_body_size=4096)
    async with httpx.AsyncClient() as http:
        big = await http.post(
            f"{server.url}/a2a/echo",
            content=b"x" * 10_000,
            headers={"content-type": "application/json"},
        )
        assert big.status_code == 413

        async def chunks() -> Any:
            for _ in range(10):
                yield b"x" * 1000

        streamed = await http.post(
            f"{server.url}/a2a/echo", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413


async def test_a_blank_message_is_rejected_not_run(serve: Any) -> None:
    server, api = serve()
    client = await client_for(server.url, "echo", streaming=False)
    task = final_task(await collect(client, message("   ")))
    assert task.status.state == TaskState.TASK_STATE_REJECTED
    assert "empty" in task.status.message.parts[0].text
    assert api.get(f"/v1/sessions/{task.context_id}/runs").json().get("items", []) == []
    await client.close()


async def test_the_bearer_token_never_reaches_a_task(serve: Any) -> None:
    server, _ = serve(**jwt_settings())
    secret = token("alice")
    client = await client_for(server.url, "echo", streaming=False, headers=bearer(secret))
    task = final_task(await collect(client, message("hi")))
    assert secret not in str(task)
    again = await client.get_task(GetTaskRequest(id=task.id, history_length=10))
    assert secret not in str(again)
    await client.close()


def test_unknown_agent_is_404(serve: Any) -> None:
    _, api = serve()
    assert api.get("/a2a/nobody/.well-known/agent-card.json").status_code == 404
    assert api.post("/a2a/nobody", json={}).status_code == 404


def test_settings_type_is_real() -> None:
    assert RuntimeSettings(store="memory://").max_body_size > 0


async def test_another_users_context_does_not_reveal_their_conversation(serve: Any) -> None:
    server, _ = serve(**jwt_settings())
    alice = await client_for(server.url, "history", streaming=False, headers=bearer(token("alice")))
    context = str(uuid.uuid4())
    await collect(alice, message("alice-secret-plan", context_id=context))
    await alice.close()
    mallory = await client_for(
        server.url, "history", streaming=False, headers=bearer(token("mallory"))
    )
    task = final_task(await collect(mallory, message("what was said?", context_id=context)))
    assert "alice-secret-plan" not in str(task)
    # Sessions are kept per user: the same id is a new, empty conversation for mallory.
    assert text_of(task) == "seen: what was said?"
    await mallory.close()


def test_a_v0_3_client_is_served_too(serve: Any) -> None:
    """A client of the previous protocol version (methods `message/send`, no `A2A-Version`
    header, `kind`-tagged parts) on the same URL."""
    server, api = serve()
    card = api.get("/a2a/echo/.well-known/agent-card.json").json()
    assert card["url"] == f"{server.url}/a2a/echo"  # the 0.3 card field, alongside 1.0's
    answer = api.post(
        "/a2a/echo",
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "message/send",
            "params": {
                "message": {
                    "role": "user",
                    "messageId": "m1",
                    "parts": [{"kind": "text", "text": "old client"}],
                }
            },
        },
    ).json()
    result = answer["result"]
    assert result["status"]["state"] == "completed"
    text = "".join(p["text"] for a in result["artifacts"] for p in a["parts"])
    assert text == "echo: old client"


async def test_a_task_is_reached_only_through_its_agent(serve: Any) -> None:
    server, _ = serve()
    echo = await client_for(server.url, "echo", streaming=False)
    task = final_task(await collect(echo, message("hi")))
    await echo.close()
    other = await client_for(server.url, "history", streaming=False)
    with pytest.raises(TaskNotFoundError):
        await other.get_task(GetTaskRequest(id=task.id))
    await other.close()


async def test_a_second_client_subscribes_to_a_running_task(serve: Any, gates: Path) -> None:
    from a2a.types.a2a_pb2 import SubscribeToTaskRequest

    server, _ = serve()
    first = await client_for(server.url, "gated", streaming=True)
    stream = first.send_message(message("gate-sub"))
    task_id = ""
    async for response in stream:
        if response.HasField("status_update"):
            task_id = response.status_update.task_id
            break
    assert task_id
    second = await client_for(server.url, "gated", streaming=True)
    updates = second.subscribe(SubscribeToTaskRequest(id=task_id))
    seen = [await anext(updates)]  # subscribed: the task as it stands
    (gates / "gate-sub").write_text("open")
    seen += [u async for u in updates]
    states, text = streamed(seen)
    assert states[-1] == TaskState.TASK_STATE_COMPLETED
    assert text == "done: gate gate-sub opened"
    await stream.aclose()
    await first.close()
    await second.close()
