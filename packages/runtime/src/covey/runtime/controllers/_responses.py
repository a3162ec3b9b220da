"""Answering with a run: JSON when it ends, an SSE stream, or 202 for a background run; and
starting a team's or workflow's run."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.openapi.datastructures import ResponseSpec

from covey.runtime import composites
from covey.runtime.auth import Principal
from covey.runtime.dto import RunAccepted, RunOut, RunRequest, public_events
from covey.runtime.live import LiveRun
from covey.runtime.problems import ApiError, problem_responses
from covey.runtime.runnables import Kind
from covey.runtime.sse import SSE_MEDIA_TYPE, sse_response
from covey.runtime.state import RuntimeState
from covey.runtime.tree import TreeLiveRun
from covey.spec import RunStatus

__all__ = [
    "RUN_DESCRIPTION",
    "TREE_RUN_DESCRIPTION",
    "TREE_RUN_RESPONSES",
    "run_response",
    "start_tree_run",
    "wants_deltas",
    "wants_stream",
]

RUN_DESCRIPTION = (
    "The run as JSON once it stops (completed, failed, paused or cancelled). With "
    '`"stream": true` or `Accept: text/event-stream`: a Server-Sent Events stream of its events '
    '(`id:` event seq, `event:` type, `data:` JSON). With `"background": true`: 202 and the run '
    "id at once."
)


def wants_stream(request: Request[Any, Any, Any], stream: bool) -> bool:
    """Whether the caller asked for SSE, in the body or the Accept header."""
    return stream or SSE_MEDIA_TYPE in request.headers.get("accept", "")


def wants_deltas(stream: bool, background: bool) -> bool:
    """Whether anyone may read the run's deltas: its SSE client, or a background run's followers.

    A run answered as JSON has none, so its model requests are not streamed (cheaper: no
    per-chunk parsing); its events are the same but for the `*.delta` ones.
    """
    return stream or background


async def run_response(live: LiveRun, *, stream: bool, background: bool) -> Response[Any]:
    """The response for a run just started (or resumed)."""
    if background:
        return Response(
            RunAccepted(
                run_id=live.run_id,
                session_id=live.session_id,
                agent_id=live.agent_id,
                status=RunStatus.RUNNING,
                events_url=f"/v1/runs/{live.run_id}/events",
            ),
            status_code=202,
            headers={"Location": f"/v1/runs/{live.run_id}"},
        )
    if stream:
        tree = live.run_id if isinstance(live, TreeLiveRun) else None
        return sse_response(public_events(live.follow(live.base_seq)), run_id=tree)
    result = await live.wait()
    if result is None:
        raise ApiError(500, "internal-error", "The run ended without a result")
    return Response(RunOut.from_result(result), status_code=200)


TREE_RUN_DESCRIPTION = (
    RUN_DESCRIPTION
    + " The stream carries the member (step) runs' events too, in order: each has its own "
    "`run_id`, `parent_run_id` and `seq`, and is sent without an `id:` line, so `Last-Event-ID` "
    "is always a `seq` of this run."
)

TREE_RUN_RESPONSES: dict[int, ResponseSpec] = {
    **problem_responses(401, 403, 404, 413, 415, 503),
    202: ResponseSpec(RunAccepted, description="A background run started"),
}


async def start_tree_run(
    runtime: RuntimeState,
    principal: Principal,
    request: Request[Any, Any, Any],
    kind: Kind,
    runnable_id: str,
    data: RunRequest,
) -> Response[RunOut]:
    """Start a run of the team or workflow `runnable_id` and answer as the caller asked."""
    stream = wants_stream(request, data.stream)
    live = composites.start_run(
        runtime,
        composites.find(runtime, kind, runnable_id),
        data,
        principal,
        deltas=wants_deltas(stream, data.background),
    )
    return await run_response(live, stream=stream, background=data.background)
