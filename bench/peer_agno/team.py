"""Agno's `Team` in process, the counterpart of bench_teams.py: a coordinate team whose leader
delegates to its one member N times (`delegate_task_to_member`), against the fake server of
bench/runtime/fake_team_openai.py. Runs in Agno's own venv; prints one JSON object.

Run: `python team.py OPENAI_BASE_URL RUNS DELEGATIONS`.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from agno.agent import Agent
from agno.models.openai import OpenAIChat
from agno.team import Team

sys.path.insert(0, str(Path(__file__).parent.parent))  # bench/: timing.py (standard library)
from timing import median_ms_async

FINAL_TEXT = "All delegations done."


def make_team(base_url: str) -> Team:
    def model() -> OpenAIChat:
        return OpenAIChat(id="gpt-4.1", api_key="bench", base_url=base_url, max_retries=0)

    worker = Agent(
        name="worker", id="worker", role="Does what it is asked.", model=model(), telemetry=False
    )
    return Team(
        name="desk", id="desk", members=[worker], model=model(), mode="coordinate", telemetry=False
    )


def main() -> None:
    base_url, runs, delegations = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    team = make_team(base_url)

    def runner(count: int):
        async def run() -> None:
            result = await team.arun(f"Please delegate {count} times.")
            assert result.content == FINAL_TEXT, result.content

        return run

    async def measure() -> dict[str, float]:
        out: dict[str, float] = {}
        out["zero"], out["zero_cpu"] = await median_ms_async(runner(0), runs=runs)
        out["many"], out["many_cpu"] = await median_ms_async(runner(delegations), runs=runs)
        return out

    print(json.dumps(asyncio.run(measure())))


if __name__ == "__main__":
    main()
