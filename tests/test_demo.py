"""`make demo`: the demo service (`apps/server`) as a new user starts it.

`scripts/demo.sh` (what `make demo` runs after installing) is started for real, on a free
loopback port, with the demo's own `covey.toml`; its model is chosen from the environment.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest
from serving import REPO, StartServer, clean_env, free_port

from covey.core.testing import TestModel
from covey.models.openai.testing import FakeOpenAIServer

DEMO_NOTICE = "DEMO MODE"


def _uv() -> str:
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv runs the demo; install it (pip install uv)"
    return uv


def test_make_demo_takes_a_port(start_server: StartServer) -> None:
    """Fails if `PORT=... make demo` does not serve on that port (it used to be fixed at 8000)."""
    port = free_port()
    env = clean_env(PORT=str(port), UV=_uv(), COVEY_STORE="memory://")
    served = start_server(["bash", "scripts/demo.sh"], port=port, cwd=REPO, env=env)
    names = [a["agent_id"] for a in httpx.get(f"{served.url}/v1/agents").json()["items"]]
    assert names == ["assistant", "forecaster", "support"]
    # The console is there, and the log says where.
    console = httpx.get(f"{served.url}/console")
    assert console.status_code == 200 and "Covey console" in console.text
    assert f"console at http://127.0.0.1:{port}/console" in served.log()


def test_the_demo_honours_covey_port_and_warns_of_demo_mode_once(
    start_server: StartServer,
) -> None:
    """Fails if `COVEY_PORT` is overridden by the demo script, or the "no key, using TestModel"
    warning is repeated per worker process, per startup or per request."""
    port = free_port()
    env = clean_env(COVEY_PORT=str(port), UV=_uv(), COVEY_STORE="memory://", COVEY_WORKERS="2")
    served = start_server(["bash", "scripts/demo.sh"], port=port, cwd=REPO, env=env)
    for _ in range(3):
        listing = httpx.get(f"{served.url}/v1/agents").json()
        assert DEMO_NOTICE in listing["notice"]
        run = httpx.post(
            f"{served.url}/v1/agents/assistant/runs",
            json={"input": "Weather in Paris?"},
            timeout=60,
        ).json()
        assert run["status"] == "completed"
    served.stop()
    log = served.log()
    assert log.count(DEMO_NOTICE) == 1, log
    assert log.count("Started server process") == 2  # both workers did start


@pytest.fixture
def demo_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No provider key and no model choice from the developer's environment."""
    for name in list(os.environ):
        if name.startswith(("COVEY_", "OPENAI_", "ANTHROPIC_", "GEMINI_", "GOOGLE_", "OLLAMA_")):
            monkeypatch.delenv(name)
    return monkeypatch


def _models() -> dict[str, object]:
    from covey_server_app.agents import build

    return {agent.name or "": agent.model for agent in build()}


@pytest.mark.parametrize(
    ("variable", "model"),
    [
        ("OPENAI_API_KEY", "openai:gpt-4.1-mini"),
        ("ANTHROPIC_API_KEY", "anthropic:claude-sonnet-4-5"),
        ("GEMINI_API_KEY", "google:gemini-2.5-flash"),
        ("GOOGLE_API_KEY", "google:gemini-2.5-flash"),
    ],
)
def test_a_provider_key_picks_its_model(
    demo_env: pytest.MonkeyPatch, variable: str, model: str
) -> None:
    """Fails if a key the provider's SDK reads (GEMINI_API_KEY too) leaves the demo on TestModel."""
    demo_env.setenv(variable, "key-for-the-test")
    assert set(_models().values()) == {model}


def test_without_a_key_the_demo_says_it_uses_test_model(demo_env: pytest.MonkeyPatch) -> None:
    from covey_server_app.agents import build

    registry = build()
    assert all(isinstance(agent.model, TestModel) for agent in registry)
    assert registry.notice is not None
    for hint in (DEMO_NOTICE, "COVEY_DEMO_MODEL", "GEMINI_API_KEY", "OPENAI_API_KEY"):
        assert hint in registry.notice


async def test_covey_demo_model_picks_any_model(demo_env: pytest.MonkeyPatch) -> None:
    """Fails if the demo ignores COVEY_DEMO_MODEL: here a local OpenAI-compatible server (the
    loopback fake standing in for Ollama) answers, though an OpenAI key is set too."""
    from covey_server_app.agents import build

    with FakeOpenAIServer() as server:
        demo_env.setenv("OPENAI_API_KEY", "sk-not-used")
        demo_env.setenv("COVEY_DEMO_MODEL", "ollama:llama3.2")
        demo_env.setenv("OLLAMA_BASE_URL", server.url)
        registry = build()
        assert registry.notice is None
        agent = registry.get("assistant")
        assert agent is not None
        result = await agent.run("ping")
    assert result.error is None
    assert result.output == "Echo: ping"
    assert server.requests[0].json["model"] == "llama3.2"


def test_the_demo_serves_a_team_and_a_workflow(demo_env: pytest.MonkeyPatch) -> None:
    """Fails if the demo's team or workflow is not served, or does not run in demo mode."""
    from covey_server_app.agents import build
    from litestar.testing import TestClient

    from covey.runtime import RuntimeSettings, create_app

    app = create_app(RuntimeSettings(store="memory://"), registry=build())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        desk = client.get("/v1/teams/desk").json()
        assert [m["name"] for m in desk["members"]] == ["assistant", "forecaster"]
        # The calculator toolkit, by plugin reference, is among the assistant's tools.
        assistant = client.get("/v1/agents/assistant").json()
        assert "calculate" in [t["name"] for t in assistant["tools"]]
        flow = client.get("/v1/workflows/briefing").json()
        assert [s["name"] for s in flow["steps"]] == ["forecast", "headline"]
        for url in ("/v1/teams/desk/runs", "/v1/workflows/briefing/runs"):
            run = client.post(url, json={"input": "Paris"}).json()
            assert run["status"] == "completed", run
            assert client.get(f"/v1/runs/{run['run_id']}/children").json()["items"]


def test_the_demo_serves_its_docs_knowledge_base_ingested_at_startup(
    start_server: StartServer,
) -> None:
    """Fails if `make demo` does not ingest the repository's docs/ into the `docs` knowledge
    base at startup (in the background, with the local embedder), or cannot search it."""
    import time

    port = free_port()
    env = clean_env(PORT=str(port), UV=_uv(), COVEY_STORE="memory://")
    served = start_server(["bash", "scripts/demo.sh"], port=port, cwd=REPO, env=env)
    listing = httpx.get(f"{served.url}/v1/knowledge").json()["items"]
    assert [kb["name"] for kb in listing] == ["docs"]
    deadline = time.monotonic() + 600
    done: list[str] = []
    while not done:
        assert time.monotonic() < deadline, "no document of docs/ was ingested"
        time.sleep(1)
        rows = httpx.get(f"{served.url}/v1/knowledge/docs/contents").json()["items"]
        done = [r["name"] for r in rows if r["status"] == "completed"]
    assert set(done) <= {p.name for p in (REPO / "docs").glob("*.md")}
    hits = httpx.post(
        f"{served.url}/v1/knowledge/docs/search",
        json={"query": "covey", "k": 3, "mode": "vector"},
        timeout=120,
    ).json()["items"]
    assert hits, "a search of an ingested docs base finds passages"
    assert {h["name"] for h in hits} <= set(done) | {p.name for p in (REPO / "docs").glob("*.md")}


@pytest.mark.slow
def test_the_demo_assistant_learns_about_its_user_in_a_chat(tmp_path: Path) -> None:
    """Fails if the demo assistant does not learn (offline, in demo mode): after a `covey chat`
    as a user, `covey memories ls` shows what the user said about themselves, for them only."""
    import subprocess
    import sys

    config = str(REPO / "apps/server/covey.toml")
    env = clean_env(COVEY_STORE=f"sqlite:///{tmp_path / 'covey.db'}")
    cli = [sys.executable, "-m", "covey.runtime.cli"]
    chat = subprocess.run(
        [*cli, "chat", "assistant", "--config", config, "--user", "ann"],
        input="I live in Lyon\nWhat is the weather?\n\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert chat.returncode == 0, chat.stderr

    def memories(*who: str) -> str:
        listing = subprocess.run(
            [*cli, "memories", "ls", "--config", config, *who],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        return listing.stdout

    mine = memories("--user", "ann")
    assert "The user said: I live in Lyon" in mine
    assert "weather" not in mine  # a question says nothing about the user
    assert memories("--user", "bob").strip() == "No memories."
