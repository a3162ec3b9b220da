"""The built wheel installs alone (with covey-spec) and pulls in no other provider's SDK; its fake
server needs the `testing` extra (covey-testing) and says so when it is missing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE = Path(__file__).resolve().parent.parent
WORKSPACE = PACKAGE.parent.parent
OTHER_SDKS = {"openai", "google-genai"}

# Runs inside the fresh venv before covey-testing is installed: the fake server says what to add.
WITHOUT_EXTRA = textwrap.dedent(
    """
    try:
        import covey.models.anthropic.testing
    except ImportError as error:
        print(error)
    else:
        print("imported")
    """
)

SMOKE = textwrap.dedent(
    """
    import asyncio, os, sys
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

    print(asyncio.run(main()))
    """
)


@pytest.mark.slow
def test_wheel_installs_alone_with_only_its_sdk(tmp_path):
    dist = tmp_path / "dist"
    wheels = [build_wheel(PACKAGE, dist), build_wheel(WORKSPACE / "packages" / "spec", dist)]
    names = [w.name for w in sorted(dist.glob("*.whl"))]
    assert any(n.startswith("covey_models_anthropic-0.1.0-") for n in names), names
    assert any(n.startswith("covey_spec-") for n in names), names

    venv = fresh_venv(tmp_path / "venv", unset_prefixes=("ANTHROPIC_",))
    venv.install(*wheels)
    alone = {name for name in venv.distributions() if name.startswith("covey-")}
    assert alone == {"covey-models-anthropic", "covey-spec"}
    assert venv.run(WITHOUT_EXTRA).strip().splitlines()[-1] == (
        "covey.models.anthropic.testing needs covey-testing: "
        "pip install covey-models-anthropic[testing]"
    )

    venv.install(build_wheel(WORKSPACE / "packages" / "testing", dist))
    text = venv.run(SMOKE).strip().splitlines()[-1]
    installed = venv.distributions()
    assert text == "from the wheel"
    assert {"covey-models-anthropic", "covey-spec", "anthropic"} <= installed
    assert not installed & OTHER_SDKS, f"other providers' SDKs installed: {installed & OTHER_SDKS}"
    assert not {n for n in installed if n.startswith("covey-")} - {
        "covey-models-anthropic",
        "covey-spec",
        "covey-testing",
    }
