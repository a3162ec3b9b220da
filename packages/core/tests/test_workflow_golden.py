"""The golden event sequence of a workflow run (regenerate with COVEY_UPDATE_GOLDEN=1 after an
intended change, and review the diff)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from core_helpers import collect

from covey.core import Agent, Condition, Loop, Parallel, Step, StepInput, Workflow
from covey.core.testing import TestModel
from covey.spec import events as ev

GOLDEN = Path(__file__).parent / "golden"


async def plus_one(step: StepInput[int]) -> int:
    return step.previous + 1


async def times_two(step: StepInput[int]) -> int:
    return step.previous * 2


def flow() -> Workflow:
    return Workflow(
        name="golden",
        steps=[
            plus_one,
            Parallel(
                Step(times_two, name="double"),
                Step(lambda s: s.previous * 3, name="triple"),
                name="fan",
            ),
            Condition(lambda s: False, Step(lambda: 0, name="never"), name="gate"),
            Loop(Step(lambda s: s.previous, name="tick"), max_iterations=2, name="ticks"),
            Agent(model=TestModel(custom_output_text="done"), name="writer"),
        ],
    )


def describe(event: ev.BaseEvent, workflow_run_id: str) -> str:
    who = "workflow" if event.run_id == workflow_run_id else f"child {event.agent_name}"
    path = getattr(event, "step_path", None)
    return f"{who}: {event.type}" + (f" {path}" if path else "")


async def test_workflow_event_sequence_matches_golden_file() -> None:
    events = await collect(flow().run_stream(1, stream_model=False))
    final = events[-1]
    assert isinstance(final, ev.RunCompleted)
    assert final.result.output == "done"
    sequence = [describe(e, final.run_id) for e in events]
    path = GOLDEN / "workflow.json"
    if os.environ.get("COVEY_UPDATE_GOLDEN"):
        path.write_text(json.dumps(sequence, indent=1) + "\n")
    assert sequence == json.loads(path.read_text())
    for event in events:
        assert ev.load_event(ev.dump_event(event)) == event  # every event round-trips
