"""`covey run` and `covey chat` with a team's or a workflow's id."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from runtime_helpers import TESTS, write_config

from covey.runtime.cli import main


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "covey.toml",
        agents="runtime_teams:registry",
        python_path=[str(TESTS)],
        store="memory://",
    )


def test_run_a_team_prints_its_answer_and_its_members_on_stderr(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "desk", "tea", "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "team: draft of tea | critique of draft of tea"
    assert "[writer] started" in err and "[writer] completed" in err
    assert err.index("[writer] completed") < err.index("[critic] started")
    # route: the member's answer is the team's; the leader streamed no text of its own.
    assert main(["run", "router", "soup", "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip() == "draft of soup"


def test_run_a_workflow_and_its_exit_statuses(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "pipeline", "tea", "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip().startswith("published: {'review': 'critique of")
    assert main(["run", "signoff", "/x", "--json", "--config", str(config)]) == 3
    paused = json.loads(capsys.readouterr().out)
    assert (paused["status"], paused["agent_id"]) == ("paused", "signoff")
    assert paused["requirements"][0]["tool_name"] == "delete_file"
    assert main(["run", "hitl", "/x", "--config", str(config)]) == 3
    assert "approval needed for delete_file" in capsys.readouterr().err
    assert main(["run", "nobody", "x", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "No agent, team or workflow 'nobody'" in err
    assert "teams: desk, hitl, outer, router, slow" in err
    assert "workflows: branches, ordering, pipeline, signoff, waiting" in err


def _answers(lines: list[str]) -> Callable[[str], str | None]:
    queue: Iterator[str] = iter(lines)
    return lambda question: next(queue, None)


def test_chat_with_a_team_asks_for_a_members_approval(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("covey.runtime.cli._ask", _answers(["/tmp/q", "y", ""]))
    assert main(["chat", "hitl", "--config", str(config)]) == 0
    assert "approver said: result: deleted /tmp/q" in capsys.readouterr().out


def test_serve_refuses_a_registry_whose_ids_clash_across_kinds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "clashing.py").write_text(
        "from covey.core import Agent, Workflow\n"
        "from covey.core.testing import TestModel\n"
        "helper = Agent(name='helper', model=TestModel())\n"
        "registry = [helper, Workflow(name='helper', steps=[helper])]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = write_config(
        tmp_path / "covey.toml", agents="clashing:registry", store="memory://", python_path=["."]
    )
    assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "Two definitions are named 'helper' (an agent and a workflow)" in err
