"""`covey memories ls | add | rm`, run as the installed command on a SQLite store that a server
serves at the same time: what the command writes, the user sees over HTTP, and the reverse."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_auth import SECRET, bearer, token

from covey.runtime import open_store

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the SQLite store")

COVEY = Path(sys.executable).parent / "covey"
ISSUER = {"aud": "covey-api", "iss": "https://issuer"}


def covey(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVEY_")}
    return subprocess.run(
        [str(COVEY), *args], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )


def test_memories_from_the_command_line_and_over_http(tmp_path: Path, serve: Any) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "covey.toml").write_text('store = "sqlite:///covey.db"\n')
    _, api = serve(
        store=open_store(f"sqlite:///{project / 'covey.db'}"),
        auth="jwt",
        jwt_secret=SECRET,
        jwt_audience="covey-api",
        jwt_issuer="https://issuer",
    )
    alice = bearer(token("alice", tenant="acme", scope="memories:read memories:write", **ISSUER))
    over_http = api.post("/v1/memories", json={"memory": "Lives in Lyon"}, headers=alice)
    assert over_http.status_code == 201

    added = covey(
        project, "memories", "add", "Prefers tea", "--user", "alice", "--tenant", "acme",
        "--topic", "drinks",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    tea_id = added.stdout.strip()
    other_tenant = covey(project, "memories", "add", "Globex fact", "--user", "alice")
    assert other_tenant.returncode == 0, other_tenant.stderr

    seen = api.get("/v1/memories", headers=alice).json()["items"]
    assert {m["memory"] for m in seen} == {"Lives in Lyon", "Prefers tea"}
    listed = covey(project, "memories", "ls", "--tenant", "acme", "--topic", "drinks", "--json")
    assert [m["id"] for m in json.loads(listed.stdout)] == [tea_id]
    plain = covey(project, "memories", "ls", "--tenant", "acme", "--user", "alice")
    assert "Lives in Lyon" in plain.stdout
    assert "Prefers tea  [drinks]" in plain.stdout

    # `rm` under another user's name deletes nothing; then the right user's does.
    wrong = covey(project, "memories", "rm", tea_id, "--tenant", "acme", "--user", "bob")
    assert wrong.returncode == 1
    assert tea_id in wrong.stderr
    removed = covey(project, "memories", "rm", tea_id, "--tenant", "acme", "--user", "alice")
    assert removed.returncode == 0, removed.stderr
    assert api.get(f"/v1/memories/{tea_id}", headers=alice).status_code == 404

    blank = covey(project, "memories", "add", "   ", "--user", "alice")
    assert blank.returncode != 0
    assert "memory" in blank.stderr
    no_user = covey(project, "memories", "add", "x")
    assert no_user.returncode == 2  # argparse: --user is required
    assert [m["memory"] for m in api.get("/v1/memories", headers=alice).json()["items"]] == [
        "Lives in Lyon"
    ]


AGENTS = """
from covey.core import Agent
from covey.core.testing import FunctionModel
from covey.learn import MemoryManager
from covey.runtime import Registry
from covey.spec import ModelResponse, SystemPart, TextPart, ToolCallPart


def memory(messages, info):
    said = messages[-1].parts[-1].content
    ops = [{"op": "none"}]
    if "User: I live in Lyon" in said:
        ops = [{"op": "create", "memory": "The user lives in Lyon", "topics": ["home"]}]
    return ModelResponse(parts=[ToolCallPart(
        tool_name=info.output_tools[0].name, args={"operations": ops}, tool_call_id="m")])


def chat(messages, info):
    known = [p.content for m in messages for p in m.parts if isinstance(p, SystemPart)]
    return ModelResponse(parts=[TextPart(content=" ".join(known) or "nothing known")])


registry = Registry([Agent(name="assistant", model=FunctionModel(chat),
                           learning=MemoryManager(FunctionModel(memory)))])
"""


def test_covey_run_as_a_user_learns_before_it_exits(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "learning_agents.py").write_text(AGENTS)
    (project / "covey.toml").write_text(
        'agents = "learning_agents:registry"\nstore = "sqlite:///covey.db"\n'
    )
    taught = covey(project, "run", "assistant", "I live in Lyon", "--user", "ann")
    assert taught.returncode == 0, taught.stderr
    listed = covey(project, "memories", "ls", "--user", "ann", "--json")
    [memory] = json.loads(listed.stdout)
    assert memory["memory"] == "The user lives in Lyon"
    bad = covey(project, "run", "assistant", "hi", "--user", "a\nb")
    assert bad.returncode == 2
    assert "--tenant/--user" in bad.stderr
