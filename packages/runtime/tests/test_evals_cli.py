"""`covey eval` as the installed command, in a project folder with covey.toml, its own agent
and judge modules, and a SQLite store: the exit status CI reads, and the stored reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from covey.evals import list_reports
from covey.runtime import open_store
from covey.spec.store import Scope

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the SQLite store")

COVEY = Path(sys.executable).parent / "covey"

APP = '''
import re

from covey.core import Agent
from covey.core.testing import FunctionModel
from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart
from covey.spec.messages import ToolReturnPart


def get_weather(city: str) -> str:
    """The temperature.

    Args:
        city: The city.
    """
    return {"Paris": "21 C", "Oslo": "4 C"}.get(city, "15 C")


def weather_model(messages, info):
    last = messages[-1]
    returns = [p for p in last.parts if isinstance(p, ToolReturnPart)]
    if returns:
        return ModelResponse(parts=[TextPart(content="It is " + returns[0].content)])
    text = last.parts[-1].content
    city = re.search(r"in (\\w+)", text).group(1)
    return ModelResponse(parts=[ToolCallPart(tool_name="get_weather", args={"city": city}, tool_call_id="w")])


def grade(messages, info):
    prompt = messages[-1].parts[-1].content
    expected = re.search(r"<expected_answer-\\w+>\\n(.*?)\\n</expected", prompt, re.S).group(1)
    answer = re.search(r"<answer_to_grade-\\w+>\\n(.*?)\\n</answer", prompt, re.S).group(1)
    score = 10 if expected in answer else 1
    args = {"score": score, "reason": "compared"}
    return ModelResponse(parts=[ToolCallPart(tool_name=info.output_tools[0].name, args=args, tool_call_id="j")])


agent = Agent(name="weather", model=FunctionModel(weather_model), tools=[get_weather])
judge = FunctionModel(grade)
'''

SUITE = """
name: weather-ci
agent: weather
judge: evalapp:judge
thresholds:
  accuracy: 8
  reliability: 1.0
cases:
  - id: paris
    input: weather in Paris
    expected: 21 C
    tool_calls: [{name: get_weather, args: {city: Paris}}]
  - id: oslo
    input: weather in Oslo
    expected: {expected}
"""


def covey(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVEY_")}
    return subprocess.run(
        [str(COVEY), *args], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "covey.toml").write_text('store = "sqlite:///covey.db"\nagents = "evalapp:agent"\n')
    (tmp_path / "evalapp.py").write_text(APP)
    (tmp_path / "good.yaml").write_text(SUITE.replace("{expected}", "4 C"))
    (tmp_path / "bad.yaml").write_text(SUITE.replace("{expected}", "-30 C"))
    return tmp_path


def test_exit_status_follows_the_thresholds_and_reports_are_stored(project: Path) -> None:
    good = covey(project, "eval", "good.yaml")
    assert good.returncode == 0, good.stderr
    assert "suite weather-ci: PASSED" in good.stdout
    assert "accuracy: 10 (threshold 8) ok" in good.stdout

    bad = covey(project, "eval", "bad.yaml", "--json")
    assert bad.returncode == 1, bad.stderr
    report = json.loads(bad.stdout)
    assert report["passed"] is False and report["accuracy"] == 5.5
    assert [c["id"] for c in report["cases"] if not c["passed"]] == ["oslo"]

    unsaved = covey(project, "eval", "good.yaml", "--no-save")
    assert unsaved.returncode == 0, unsaved.stderr

    async def stored() -> list[tuple[str, bool]]:
        async with open_store(f"sqlite:///{project / 'covey.db'}") as store:
            page = await list_reports(store, Scope("default"))
            return [(r.id, r.passed) for r in page.items]

    reports = anyio.run(stored)
    assert [passed for _, passed in reports] == [False, True]
    assert reports[0][0] == report["id"]


def test_configuration_errors_exit_2_with_the_reason(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In this process (`main` is what the installed command runs; the test above runs it)."""
    from covey.runtime.cli import main

    monkeypatch.chdir(project)
    for name in [k for k in os.environ if k.startswith("COVEY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(sys, "path", list(sys.path))

    def run(*args: str) -> tuple[int, str]:
        try:
            status = main(["eval", *args])
        finally:
            sys.modules.pop("evalapp", None)  # the project's module, imported from its folder
        return status, capsys.readouterr().err

    (project / "typo.yaml").write_text("name: s\ncases: [{id: a, input: q, tool_call: []}]\n")
    status, err = run("typo.yaml", "--agent", "weather")
    assert status == 2 and "tool_call" in err

    status, err = run("nope.yaml")
    assert status == 2 and "cannot read eval suite" in err

    status, err = run("good.yaml", "--agent", "nobody")
    assert status == 2 and "nobody" in err

    status, err = run("good.yaml", "--judge", "evalapp:get_weather")
    assert status == 2 and "not a ChatModel or Judge" in err
