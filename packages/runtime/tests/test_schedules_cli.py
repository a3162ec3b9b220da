"""`covey schedules`, run as the installed command on a SQLite store that a server serves at the
same time: a schedule added on the command line is fired by the server, and the reverse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import TESTS, wait_for

from covey.runtime import open_store

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the SQLite store")

pytestmark = pytest.mark.slow  # ten `covey` processes, each importing the runtime

COVEY = Path(sys.executable).parent / "covey"


def covey(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVEY_")}
    return subprocess.run(
        [str(COVEY), "schedules", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_schedules_from_the_command_line_and_over_http(tmp_path: Path, serve: Any) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "covey.toml").write_text(
        'store = "sqlite:///covey.db"\n'
        'agents = "runtime_agents:registry"\n'
        f"python_path = [{json.dumps(str(TESTS))}]\n"
    )
    _, api = serve(store=open_store(f"sqlite:///{project / 'covey.db'}"), schedule_poll=0.05)

    added = covey(project, "add", "nightly", "echo", "--cron", "0 2 * * *", "--input", "hi")
    assert added.returncode == 0, added.stderr
    nightly = added.stdout.split()[0]
    assert api.get(f"/v1/schedules/{nightly}").json()["cron"] == "0 2 * * *"

    every = covey(project, "add", "tick", "echo", "--every", "1", "--input", "tock")
    assert every.returncode == 0, every.stderr
    tick = every.stdout.split()[0]

    def fired() -> list[dict[str, Any]]:
        listed = covey(project, "runs", tick, "--json")
        assert listed.returncode == 0, listed.stderr
        runs = json.loads(listed.stdout)
        return [r for r in runs if r["status"] == "completed"]

    run_id = wait_for(fired, timeout=60)[0]["run_id"]
    assert api.get(f"/v1/runs/{run_id}").json()["output"] == "echo: tock"

    paused = covey(project, "pause", tick)
    assert paused.returncode == 0, paused.stderr
    assert api.get(f"/v1/schedules/{tick}").json()["enabled"] is False
    # Over HTTP, seen on the command line.
    api.post(f"/v1/schedules/{nightly}/pause").raise_for_status()
    listing = covey(project, "ls")
    assert listing.returncode == 0, listing.stderr
    lines = {line.split()[0]: line for line in listing.stdout.splitlines()}
    assert " off " in lines[nightly] and " off " in lines[tick]
    assert "cron '0 2 * * *' UTC" in lines[nightly]

    bad_cron = covey(project, "add", "x", "echo", "--cron", "99 * * * *", "--input", "hi")
    assert bad_cron.returncode != 0
    assert "not a valid cron expression" in bad_cron.stderr
    no_target = covey(project, "add", "x", "nobody", "--every", "60", "--input", "hi")
    assert no_target.returncode != 0
    assert "serves no agent 'nobody'" in no_target.stderr
    too_fast = covey(project, "add", "x", "echo", "--every", "0.01", "--input", "hi")
    assert too_fast.returncode != 0
    assert "interval" in too_fast.stderr

    removed = covey(project, "rm", nightly, "missing-id")
    assert removed.returncode == 1
    assert f"deleted {nightly}" in removed.stdout
    assert "missing-id" in removed.stderr
    assert api.get(f"/v1/schedules/{nightly}").status_code == 404
    assert [s["schedule_id"] for s in api.get("/v1/schedules").json()["items"]] == [tick]
