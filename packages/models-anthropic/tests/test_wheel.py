"""The built wheel installs alone (with covey-spec) and pulls in no other provider's SDK."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent
WORKSPACE = PACKAGE.parent.parent
OTHER_SDKS = {"openai", "google-genai"}

SMOKE = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from importlib.metadata import distributions
    import covey.models.anthropic
    assert "anthropic" not in sys.modules, "importing the adapter imported the SDK"
    from covey.models.anthropic.testing import FakeAnthropicServer, text_message
    from covey.spec import ModelRequest, ModelRequestParams, plugins

    async def main():
        with FakeAnthropicServer([text_message("from the wheel")], api_key="sk-wheel") as server:
            os.environ["ANTHROPIC_API_KEY"] = "sk-wheel"
            os.environ["ANTHROPIC_BASE_URL"] = server.url
            model = plugins.resolve_model("anthropic:claude-sonnet-4-6")
            response = await model.request([ModelRequest.user("hi")], None, ModelRequestParams())
            await model.aclose()
        return response.text()

    text = asyncio.run(main())
    names = sorted({d.metadata["Name"].lower() for d in distributions()})
    print(json.dumps({"text": text, "distributions": names}))
    """
)


def run(*args: str | Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, env=env, check=False
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
def test_wheel_installs_alone_with_only_its_sdk(tmp_path):
    uv = shutil.which("uv")
    assert uv is not None, "uv is needed to build and install the wheel (pip install uv)"
    dist = tmp_path / "dist"
    run(uv, "build", "--wheel", PACKAGE, "-o", dist)
    run(uv, "build", "--wheel", WORKSPACE / "packages" / "spec", "-o", dist)
    wheels = sorted(dist.glob("*.whl"))
    names = [w.name for w in wheels]
    assert any(n.startswith("covey_models_anthropic-0.1.0-") for n in names), names
    assert any(n.startswith("covey_spec-") for n in names), names

    venv = tmp_path / "venv"
    run(uv, "venv", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "VIRTUAL_ENV"))}
    env["UV_SYSTEM_CERTS"] = "1"
    run(uv, "pip", "install", "--python", python, *wheels, env=env)

    report = json.loads(run(python, "-c", SMOKE, env=env).strip().splitlines()[-1])
    installed = set(report["distributions"])
    assert report["text"] == "from the wheel"
    assert {"covey-models-anthropic", "covey-spec", "anthropic"} <= installed
    assert not installed & OTHER_SDKS, f"other providers' SDKs installed: {installed & OTHER_SDKS}"
    assert not {n for n in installed if n.startswith("covey-")} - {
        "covey-models-anthropic",
        "covey-spec",
    }
