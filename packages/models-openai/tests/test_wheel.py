"""The built wheel, installed alone with covey-spec into a fresh venv, works and brings only the
`openai` SDK (neither `anthropic` nor `google-genai`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1]
SPEC = PACKAGE.parent / "spec"
FOREIGN_SDKS = {"anthropic", "google-genai"}

# Runs inside the fresh venv: a model string through the registry, against the fake server.
SMOKE = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from importlib.metadata import distributions

    import covey.models.openai
    assert "openai" not in sys.modules, "importing the adapter imported the SDK"
    from covey.models.openai.testing import FakeOpenAIServer, text_reply
    from covey.spec import ModelRequest, ModelRequestParams
    from covey.spec.plugins import resolve_model

    async def main() -> str:
        with FakeOpenAIServer([text_reply("hello from the wheel")]) as server:
            os.environ["OLLAMA_BASE_URL"] = server.url
            model = resolve_model("ollama:llama3.2")
            response = await model.request([ModelRequest.user("hi")], None, ModelRequestParams())
            await model.aclose()
        return response.text()

    text = asyncio.run(main())
    names = sorted({d.metadata["Name"].lower() for d in distributions()})
    print(json.dumps({"text": text, "distributions": names}))
    """
)


def _run(*args: str | Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, env=env, check=False
    )
    assert done.returncode == 0, f"{[str(a) for a in args]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.mark.slow
def test_wheel_installs_alone_and_brings_only_the_openai_sdk(tmp_path: Path) -> None:
    uv = shutil.which("uv")
    assert uv is not None, "uv must be on PATH to build and install the wheel"
    out = tmp_path / "wheels"
    _run(uv, "build", "--wheel", PACKAGE, "-o", out)
    _run(uv, "build", "--wheel", SPEC, "-o", out)
    wheels = sorted(out.glob("*.whl"))
    assert {w.name.split("-")[0] for w in wheels} == {"covey_models_openai", "covey_spec"}

    venv = tmp_path / "venv"
    _run(uv, "venv", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VIRTUAL_ENV", "OPENAI_", "OLLAMA_"))
    }
    env["UV_SYSTEM_CERTS"] = "1"
    _run(uv, "pip", "install", "--python", python, *wheels, env=env)

    report = json.loads(_run(python, "-c", SMOKE, env=env).strip().splitlines()[-1])
    installed = set(report["distributions"])
    assert report["text"] == "hello from the wheel"
    assert {"covey-models-openai", "covey-spec", "openai"} <= installed
    assert not installed & FOREIGN_SDKS, (
        f"another provider's SDK came along: {installed & FOREIGN_SDKS}"
    )
    covey = {name for name in installed if name.startswith("covey-")}
    assert covey == {"covey-models-openai", "covey-spec"}
