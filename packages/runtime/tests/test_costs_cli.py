"""`covey costs`, run as the installed command on the SQLite store a server writes: the same
numbers as `GET /v1/costs`, per tenant, user and run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_auth import SECRET, bearer, token
from test_metrics import registry

from covey.runtime import open_store
from covey.runtime.cli import main

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the SQLite store")

COVEY = Path(sys.executable).parent / "covey"


def covey(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVEY_")}
    return subprocess.run(
        [str(COVEY), "costs", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_costs_from_the_command_line_match_the_api(
    tmp_path: Path, serve: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    # An absolute path: the in-process calls below run from another working directory.
    url = f"sqlite:///{project / 'covey.db'}"
    (project / "covey.toml").write_text(f'store = "{url}"\n')
    store = open_store(url)
    _, api = serve(store=store, registry=registry(), auth="jwt", jwt_secret=SECRET)
    alice, bob = bearer(token("alice")), bearer(token("bob"))
    assert (
        api.post("/v1/agents/tooling/runs", json={"input": "k"}, headers=alice).status_code == 200
    )
    team = api.post("/v1/teams/crew/runs", json={"input": "plan"}, headers=bob).json()
    assert team["status"] == "completed"
    admin = bearer(token("root", scope="admin"))

    tenant = json.loads(covey(project, "--tenant", "acme", "--json").stdout)
    over_http = api.get("/v1/costs", headers=admin).json()
    assert tenant["runs"] == over_http["runs"] == 3
    assert tenant["cost_usd"] == pytest.approx(over_http["cost_usd"])
    assert tenant["cost_usd"] > 0

    # The rest in this process (the same `main` the command runs), to keep the test short.
    config = str(project / "covey.toml")

    def run_main(*args: str) -> tuple[int, str, str]:
        status = main(["costs", "--config", config, *args])
        out, err = capsys.readouterr()
        return status, out, err

    status, out, _ = run_main("--tenant", "acme", "--run", team["run_id"], "--json")
    by_api = api.get(f"/v1/costs/runs/{team['run_id']}", headers=bob).json()
    assert status == 0, out
    assert json.loads(out)["own_cost_usd"] == pytest.approx(by_api["cost_usd"])
    assert json.loads(out)["cost_usd"] == pytest.approx(by_api["total_cost_usd"])

    alice_cost = api.get("/v1/costs", headers=alice).json()["cost_usd"]
    status, out, _ = run_main("--tenant", "acme", "--user", "alice")
    assert status == 0
    assert out.startswith(f"1 run(s), 2 model request(s), ${alice_cost:.6f}")
    assert "gpt-4o" in out and "genai-prices" in out

    # Another tenant does not see the run; a missing run and a malformed id are errors.
    status, _, err = run_main("--tenant", "globex", "--run", team["run_id"])
    assert status == 1 and "no run" in err
    status, _, err = run_main("--session", "bad\nid")
    assert status == 2 and "configuration error" in err
