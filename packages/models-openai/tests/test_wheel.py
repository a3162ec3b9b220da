"""The built wheel, installed alone with covey-spec into a fresh venv, works and brings only the
`openai` SDK (neither `anthropic` nor `google-genai`); its fake server needs the `testing` extra
(covey-testing) and says so when it is missing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE = Path(__file__).resolve().parents[1]
SPEC = PACKAGE.parent / "spec"
TESTING = PACKAGE.parent / "testing"
FOREIGN_SDKS = {"anthropic", "google-genai"}

# Runs inside the fresh venv before covey-testing is installed: the fake server says what to add.
WITHOUT_EXTRA = textwrap.dedent(
    """
    try:
        import covey.models.openai.testing
    except ImportError as error:
        print(error)
    else:
        print("imported")
    """
)

# Runs inside the fresh venv: a model string through the registry, against the fake server.
SMOKE = textwrap.dedent(
    """
    import asyncio, os, sys

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

    print(asyncio.run(main()))
    """
)

# Runs inside the fresh venv: Azure OpenAI through the SDK's AsyncAzureOpenAI, by model string.
AZURE_SMOKE = textwrap.dedent(
    """
    import asyncio, os

    from covey.models.openai.azure_testing import FakeAzureOpenAIServer
    from covey.models.openai.testing import text_reply
    from covey.spec import ModelRequest, ModelRequestParams
    from covey.spec.plugins import resolve_model

    async def main() -> str:
        with FakeAzureOpenAIServer([text_reply("hello from azure")], api_key="k-123456") as server:
            os.environ.update(AZURE_OPENAI_ENDPOINT=server.url, AZURE_OPENAI_API_KEY="k-123456")
            model = resolve_model("azure:my-deployment")
            response = await model.request([ModelRequest.user("hi")], None, ModelRequestParams())
            await model.aclose()
        assert server.requests[0].path.startswith("/openai/deployments/my-deployment/")
        return response.text()

    print(asyncio.run(main()))
    """
)


@pytest.mark.slow
def test_wheel_installs_alone_and_brings_only_the_openai_sdk(tmp_path: Path) -> None:
    out = tmp_path / "wheels"
    wheels = [build_wheel(PACKAGE, out), build_wheel(SPEC, out)]
    assert {w.name.split("-")[0] for w in out.glob("*.whl")} == {
        "covey_models_openai",
        "covey_spec",
    }

    venv = fresh_venv(tmp_path / "venv", unset_prefixes=("OPENAI_", "OLLAMA_", "AZURE_"))
    venv.install(*wheels)
    alone = {name for name in venv.distributions() if name.startswith("covey-")}
    assert alone == {"covey-models-openai", "covey-spec"}
    assert venv.run(WITHOUT_EXTRA).strip().splitlines()[-1] == (
        "covey.models.openai.testing needs covey-testing: pip install covey-models-openai[testing]"
    )

    venv.install(build_wheel(TESTING, out))
    text = venv.run(SMOKE).strip().splitlines()[-1]
    assert venv.run(AZURE_SMOKE).strip().splitlines()[-1] == "hello from azure"
    installed = venv.distributions()
    assert text == "hello from the wheel"
    assert {"covey-models-openai", "covey-spec", "openai"} <= installed
    assert not installed & FOREIGN_SDKS, (
        f"another provider's SDK came along: {installed & FOREIGN_SDKS}"
    )
    covey = {name for name in installed if name.startswith("covey-")}
    assert covey == {"covey-models-openai", "covey-spec", "covey-testing"}
