"""`POST /v1/agui/{kind}/{id}`: run an agent, team or workflow for an AG-UI front end.

The body is AG-UI's `RunAgentInput` (camelCase JSON); the answer is the AG-UI event stream over
SSE (`data:` lines of AG-UI events). The run is an ordinary Covey run in the run manager: it is
stored, visible at `/v1/runs/{id}` (its id arrives as the `covey.run` custom event) and goes on
if the client disconnects, like any streamed run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Stream
from pydantic import ValidationError

from covey.runtime import composites
from covey.runtime.agui import AguiTranslator, agui_input, encode
from covey.runtime.auth import Principal
from covey.runtime.dto import RunRequest, public_events
from covey.runtime.guards import require_scope
from covey.runtime.live import LiveRun
from covey.runtime.problems import ApiError, problem_responses
from covey.runtime.sse import KEEPALIVE_FRAME, SSE_HEADERS, SSE_MEDIA_TYPE
from covey.runtime.state import RuntimeState
from covey.spec.store import Scope

__all__ = ["AguiController"]

_KINDS = {"agents": "agent", "teams": "team", "workflows": "workflow"}


def _parse(data: dict[str, Any]) -> tuple[Any, RunRequest]:
    from ag_ui.core import RunAgentInput

    try:
        body = RunAgentInput.model_validate(data)
        text = agui_input(body)
    except (ValidationError, ValueError) as exc:
        errors = (
            [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]
            if isinstance(exc, ValidationError)
            else [{"field": "messages", "message": str(exc)}]
        )
        raise ApiError(
            400, "validation-error", "Invalid AG-UI RunAgentInput", errors=errors
        ) from None
    state: Any = body.state
    if state is not None and not isinstance(state, dict):
        raise ApiError(
            400,
            "validation-error",
            "Invalid AG-UI RunAgentInput",
            errors=[{"field": "state", "message": "the state must be a JSON object"}],
        )
    try:
        request = RunRequest(
            input=text, session_id=body.thread_id, state=cast("dict[str, Any]", state) or None
        )
    except ValidationError as exc:
        raise ApiError(
            400,
            "validation-error",
            "Invalid AG-UI RunAgentInput",
            errors=[{"field": "threadId", "message": e["msg"]} for e in exc.errors()],
        ) from None
    return body, request


async def _session_state(runtime: RuntimeState, scope: Scope, session_id: str) -> Any:
    session = await runtime.store.get_session(scope, session_id)
    return dict(session.state) if session is not None else {}


async def _frames(
    runtime: RuntimeState, live: LiveRun, translator: AguiTranslator, scope: Scope
) -> AsyncIterator[bytes]:
    yield encode(translator.started())
    async for event in public_events(live.follow(live.base_seq)):
        if event is None:
            yield KEEPALIVE_FRAME
            continue
        state = None
        if translator.wants_state(event):
            state = await _session_state(runtime, scope, live.session_id or "")
        for out in translator.translate(event, state):
            yield encode(out)


class AguiController(Controller):
    """AG-UI endpoints: one per served agent, team and workflow."""

    path = "/v1/agui"
    tags = ["ag-ui"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012

    @post(
        "/{kind:str}/{runnable_id:str}",
        opt={"scope": "agents:run"},
        status_code=200,
        summary="Run for an AG-UI front end",
        description="The body is AG-UI's `RunAgentInput` (`threadId` is the Covey session, the "
        "last user message the input); the answer is the AG-UI event stream (SSE). `kind` is "
        "`agents`, `teams` or `workflows`.",
        responses=problem_responses(400, 401, 403, 404, 413, 415, 503),
    )
    async def run(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        kind: FromPath[str],
        runnable_id: FromPath[str],
        data: JSONBody[dict[str, Any]],
    ) -> Stream:
        """Start a run and stream it as AG-UI events."""
        what = _KINDS.get(kind)
        if what is None:
            raise ApiError(
                404, "not-found", f"No AG-UI endpoint for {kind!r}; use agents, teams or workflows"
            )
        body, request = _parse(data)
        if what == "agent":
            live = runtime.start_run(runtime.agent(runnable_id), request, principal, deltas=True)
        else:
            found = composites.find(runtime, what, runnable_id)  # type: ignore[arg-type]
            live = composites.start_run(runtime, found, request, principal, deltas=True)
        translator = AguiTranslator(thread_id=body.thread_id, run_id=body.run_id)
        return Stream(
            _frames(runtime, live, translator, principal.write_scope),
            media_type=SSE_MEDIA_TYPE,
            headers=SSE_HEADERS,
        )
