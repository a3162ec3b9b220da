"""The README's five-minute path, run as a new user runs it.

The module and `covey.toml` are the README's own blocks, written to an empty folder; `covey
serve` is the installed console script started there on a free loopback port (`COVEY_PORT`);
the call is the README's `curl` line, sent with httpx. The "real model" step runs the README's
llama.cpp line, environment variables only, against the loopback OpenAI-compatible fake server.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving import REPO, StartServer, clean_env, free_port

from covey.models.openai.testing import FakeOpenAIServer, FakeToolCall, reply, text_reply

BLOCK = re.compile(r'^```(\w+) title="([^"]+)"\n(.*?)^```', re.S | re.M)
COVEY = Path(sys.executable).parent / "covey"


@pytest.fixture(scope="module")
def blocks() -> dict[str, str]:
    """The README's titled code blocks, by title."""
    found = {title: code for _, title, code in BLOCK.findall((REPO / "README.md").read_text())}
    for title in ("my_agent.py", "covey.toml", "serve", "call", "a real model"):
        assert title in found, f'README.md lost its block titled "{title}"'
    return found


@pytest.fixture
def project(tmp_path: Path, blocks: dict[str, str]) -> Path:
    """An empty folder holding the README's `my_agent.py` and `covey.toml`, nothing else."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "my_agent.py").write_text(blocks["my_agent.py"])
    (folder / "covey.toml").write_text(blocks["covey.toml"])
    return folder


def _command(line: str) -> tuple[dict[str, str], list[str]]:
    """`A=1 B=2 covey serve` -> ({"A": "1", "B": "2"}, ["covey", "serve"])."""
    words = shlex.split(line)
    env: dict[str, str] = {}
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    return env, words


def _serve(start_server: StartServer, project: Path, line: str) -> tuple[str, Any]:
    given, words = _command(line)
    assert words == ["covey", "serve"], f"the README serves with {words}"
    port = free_port()
    served = start_server(
        [COVEY, *words[1:]],
        port=port,
        cwd=project,
        env=clean_env(**given, COVEY_PORT=str(port)),
    )
    return f"127.0.0.1:{port}", served


def _call(blocks: dict[str, str], address: str) -> dict[str, Any]:
    """The README's curl line, sent with httpx to `address` instead of localhost:8000."""
    words = shlex.split(blocks["call"].replace("\\\n", " "))
    assert words[:2] == ["curl", "-s"], words
    url, headers, data = "", {}, None
    rest = iter(words[2:])
    for word in rest:
        if word == "-H":
            name, _, value = next(rest).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(rest)
        else:
            assert not word.startswith("-"), f"the test does not know curl's {word}"
            url = word
    assert url.startswith("localhost:8000/"), url
    response = httpx.post(
        "http://" + url.replace("localhost:8000", address),
        headers=headers,
        content=data,
        timeout=60,
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_write_serve_and_call_your_own_agent(
    start_server: StartServer, project: Path, blocks: dict[str, str]
) -> None:
    """Fails if the README's module, covey.toml, `covey serve` or curl line stop working."""
    address, served = _serve(start_server, project, blocks["serve"].strip())
    run = _call(blocks, address)
    assert run["status"] == "completed", run
    assert [call["tool_name"] for call in run["tool_calls"]] == ["word_count"]
    assert isinstance(run["tool_calls"][0]["result"], int)
    assert f"config file {project / 'covey.toml'}" in served.log()
    assert (project / ".covey" / "covey.db").is_file()  # the default store, as the README says


def test_point_it_at_a_real_server_with_environment_variables_only(
    start_server: StartServer, project: Path, blocks: dict[str, str]
) -> None:
    """Fails if the README's llama.cpp line does not reach an OpenAI-compatible server, or the
    tool's result does not go back to it. The fake server speaks the protocol llama.cpp does."""
    [line] = [ln for ln in blocks["a real model"].splitlines() if "llamacpp:" in ln]
    env, _ = _command(line)
    script = [
        # A run answered as JSON asks the model for whole responses (no stream).
        reply(tool_calls=[FakeToolCall("word_count", {"text": "the quick brown fox"})]),
        text_reply("There are 4 words."),
    ]
    with FakeOpenAIServer(script) as server:
        # Only the URL changes: the fake server stands where llama-server would listen.
        line = line.replace(env["LLAMACPP_BASE_URL"], server.url)
        address, _ = _serve(start_server, project, line)
        run = _call(blocks, address)
    assert run["status"] == "completed", run["error"]
    assert run["output"] == "There are 4 words."
    assert run["tool_calls"][0]["result"] == 4
    first, second = (request.json for request in server.requests)
    assert first["model"] == env["AGENT_MODEL"].removeprefix("llamacpp:")
    assert [tool["function"]["name"] for tool in first["tools"]] == ["word_count"]
    assert "stream" not in first
    assert {"role": "tool", "content": "4"}.items() <= second["messages"][-1].items()
