"""`WS /v1/agents/{agent_id}/ws` (and `/v1/teams/{team_id}/ws`, `/v1/workflows/{workflow_id}/ws`):
run an agent, a team or a workflow over a WebSocket.

The client sends JSON messages:

- `{"type": "run", "input": ..., "session_id"?: ..., "state"?: ...}` (`type` may be left out),
- `{"type": "resume", "run_id": ..., "approvals"?: ..., "inputs"?: ..., "results"?: ...}`,
- `{"type": "cancel", "run_id": ...}`.

Messages are UTF-8 JSON objects (text frames; binary frames holding UTF-8 JSON are read too)
nested at most 64 levels (`covey.runtime.json_body.MAX_JSON_DEPTH`). The server sends each run event as JSON (the same objects
as the SSE `data:` lines, with `type`, `run_id` and `seq`), and `{"type": "error", "problem":
{...}}` for a message it refuses. A message it cannot read safely (not UTF-8, nested too deep)
gets that error, then the socket is closed with code 4400 (`4000 +` the HTTP status). Several
runs may go on at once on one socket; closing the socket leaves them running. A team's or
workflow's events include its member and step runs' events, each with its own `run_id`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
from anyio.abc import TaskGroup
from litestar import WebSocket, websocket
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, WebSocketDisconnect
from litestar.params import FromPath
from pydantic import ValidationError

from covey.runtime import composites
from covey.runtime.dto import ResumeRequest, RunRequest, WorkflowRunRequest, public_event
from covey.runtime.guards import principal_of, require_scope
from covey.runtime.json_body import decode_json_body
from covey.runtime.live import LiveRun
from covey.runtime.problems import ApiError, problem_body
from covey.runtime.runnables import Kind
from covey.runtime.state import RuntimeState
from covey.spec.errors import CoveyError, InvalidInputError, NotFoundError

__all__ = ["agent_socket", "team_socket", "workflow_socket"]

log = logging.getLogger("covey.runtime")


class _Socket:
    """One connection: sends are serialised, runs are forwarded concurrently."""

    def __init__(
        self, socket: WebSocket[Any, Any, Any], runtime: RuntimeState, agent_id: str, kind: Kind
    ) -> None:
        self.socket = socket
        self.runtime = runtime
        self.agent_id = agent_id
        self.kind: Kind = kind
        self.principal = principal_of(socket)
        self.lock = anyio.Lock()

    async def send(self, data: str) -> None:
        async with self.lock:
            await self.socket.send_text(data)

    async def problem(self, status: int, slug: str, detail: str, errors: Any = None) -> None:
        body = problem_body(status, slug, detail, instance=self.socket.url.path, errors=errors)
        await self.send(json.dumps({"type": "error", "problem": body}))

    async def forward(self, live: LiveRun) -> None:
        async for event in live.follow(live.base_seq):
            if event is not None:
                await self.send(public_event(event).model_dump_json())

    async def handle(self, raw: bytes, tg: TaskGroup) -> bool:
        """Act on one message; `False` when it was unreadable and the socket must close."""
        try:
            message = decode_json_body(raw, where="message")
        except ApiError as exc:
            if exc.slug == "bad-request":  # not JSON: the socket itself is fine
                await self.problem(400, "validation-error", "The message is not JSON")
                return True
            await self.problem(exc.status_code, exc.slug, exc.detail)
            return False
        try:
            await self._act(message, tg)
        except Exception:
            log.exception("websocket message failed on %s", self.socket.url.path)
            await self.problem(500, "internal-error", "The server failed to handle the message.")
        return True

    async def _act(self, message: Any, tg: TaskGroup) -> None:
        if not isinstance(message, dict):
            await self.problem(400, "validation-error", "The message must be a JSON object")
            return
        body: dict[str, Any] = dict(message)  # pyright: ignore[reportUnknownArgumentType]
        kind = body.pop("type", "run")
        try:
            if kind == "run":
                if not self.principal.allows("agents:run"):
                    raise ApiError(403, "forbidden", "This needs the 'agents:run' scope")
                shape = WorkflowRunRequest if self.kind == "workflow" else RunRequest
                request = shape.model_validate({**body, "stream": True})
                if self.kind == "agent":
                    agent = self.runtime.agent(self.agent_id)
                    live = self.runtime.start_run(agent, request, self.principal, deltas=True)
                else:
                    runnable = composites.find(self.runtime, self.kind, self.agent_id)
                    live = composites.start_run(
                        self.runtime, runnable, request, self.principal, deltas=True
                    )
                tg.start_soon(self.forward, live)
            elif kind == "resume":
                if not self.principal.allows("runs:write"):
                    raise ApiError(403, "forbidden", "This needs the 'runs:write' scope")
                run_id = str(body.pop("run_id", ""))
                resume = ResumeRequest.model_validate({**body, "stream": True})
                live = await self.runtime.resume(self.principal, run_id, resume, deltas=True)
                tg.start_soon(self.forward, live)
            elif kind == "cancel":
                if not self.principal.allows("runs:write"):
                    raise ApiError(403, "forbidden", "This needs the 'runs:write' scope")
                await self.runtime.cancel(self.principal, str(body.get("run_id", "")))
            else:
                await self.problem(
                    400,
                    "validation-error",
                    f"Unknown message type {kind!r}; expected run, resume or cancel",
                    [{"field": "type", "message": "unknown", "source": "body"}],
                )
        except ValidationError as exc:
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "source": "body"}
                for e in exc.errors(include_input=False)
            ]
            await self.problem(400, "validation-error", "The message is not valid", errors)
        except ApiError as exc:
            await self.problem(exc.status_code, exc.slug, exc.detail, exc.errors)
        except HTTPException as exc:
            await self.problem(exc.status_code, "bad-request", exc.detail)
        except NotFoundError as exc:
            await self.problem(404, "not-found", str(exc))
        except InvalidInputError as exc:
            await self.problem(400, "invalid-input", str(exc))
        except CoveyError:
            log.exception("websocket message failed on %s", self.socket.url.path)
            await self.problem(500, "internal-error", "The server failed to handle the message.")


async def _serve(
    socket: WebSocket[Any, Any, Any], runtime: RuntimeState, runnable_id: str, kind: Kind
) -> None:
    if kind == "agent":
        runtime.agent(runnable_id)
    else:
        composites.find(runtime, kind, runnable_id)
    await socket.accept()
    connection = _Socket(socket, runtime, runnable_id, kind)
    async with anyio.create_task_group() as tg:
        try:
            while True:
                event = await socket.receive()
                if event["type"] == "websocket.disconnect":
                    break
                text = event.get("text")
                raw = text.encode() if text is not None else event.get("bytes") or b""
                if not await connection.handle(raw, tg):
                    await socket.close(code=4400, reason="unreadable message")
                    break
        except WebSocketDisconnect:
            pass
        tg.cancel_scope.cancel()


@websocket("/v1/agents/{agent_id:str}/ws", guards=[require_scope], opt={"scope": "agents:run"})
async def agent_socket(
    socket: WebSocket[Any, Any, Any],
    runtime: NamedDependency[RuntimeState],
    agent_id: FromPath[str],
) -> None:
    """Run the agent for each message received; send back every event."""
    await _serve(socket, runtime, agent_id, "agent")


@websocket("/v1/teams/{team_id:str}/ws", guards=[require_scope], opt={"scope": "agents:run"})
async def team_socket(
    socket: WebSocket[Any, Any, Any],
    runtime: NamedDependency[RuntimeState],
    team_id: FromPath[str],
) -> None:
    """Run the team for each message received; send back every event, its members' too."""
    await _serve(socket, runtime, team_id, "team")


@websocket(
    "/v1/workflows/{workflow_id:str}/ws", guards=[require_scope], opt={"scope": "agents:run"}
)
async def workflow_socket(
    socket: WebSocket[Any, Any, Any],
    runtime: NamedDependency[RuntimeState],
    workflow_id: FromPath[str],
) -> None:
    """Run the workflow for each message received; send back every event, its steps' too."""
    await _serve(socket, runtime, workflow_id, "workflow")
