"""Re-attaching to a background run after the first client went away."""

from __future__ import annotations

from pathlib import Path

import httpx
from runtime_helpers import check_event_log, read_sse, sse


def test_reattach_with_last_event_id_after_the_first_client_disconnected(
    api: httpx.Client, gates: Path
) -> None:
    run_id = api.post("/v1/agents/gated/runs", json={"input": "g", "background": True}).json()[
        "run_id"
    ]
    # The first client reads up to the tool call, then hangs up.
    with api.stream("GET", f"/v1/runs/{run_id}/events") as response:
        first: list = []
        for event in read_sse(response.iter_lines()):
            first.append(event)
            if event.event == "tool_call.started":
                break
    assert first[-1].event == "tool_call.started"
    # The run goes on without it.
    assert api.get(f"/v1/runs/{run_id}").json()["status"] == "running"

    # A new client re-attaches where the first stopped; the gate opens while it listens.
    with api.stream(
        "GET", f"/v1/runs/{run_id}/events", headers={"Last-Event-ID": str(first[-1].id)}
    ) as response:
        (gates / "g").touch()
        rest = list(read_sse(response.iter_lines()))
    assert rest[0].id == first[-1].id + 1
    everything = [e.data for e in first + rest]
    check_event_log(everything)
    assert rest[-1].event == "run.completed"
    assert rest[-1].data["result"]["output"] == "done: gate g opened"

    # ?after= replays the same tail from the store once the run has ended.
    replay = sse(api, "GET", f"/v1/runs/{run_id}/events", params={"after": first[-1].id})
    assert [e.data for e in replay] == [e.data for e in rest]


def test_a_sse_client_leaving_does_not_stop_the_run(api: httpx.Client, gates: Path) -> None:
    with api.stream("POST", "/v1/agents/gated/runs", json={"input": "h", "stream": True}) as r:
        started = next(read_sse(r.iter_lines()))
    run_id = started.data["run_id"]
    (gates / "h").touch()
    events = sse(api, "GET", f"/v1/runs/{run_id}/events")
    assert events[-1].event == "run.completed"
    check_event_log([e.data for e in events])
