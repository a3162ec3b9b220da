"""The built wheel installs alone (with covey-spec and boto3) and pulls in no other provider's
SDK; its fake server needs the `testing` extra (covey-testing) and says so when it is missing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE = Path(__file__).resolve().parent.parent
WORKSPACE = PACKAGE.parent.parent
OTHER_SDKS = {"openai", "anthropic", "google-genai"}

WITHOUT_EXTRA = textwrap.dedent(
    """
    try:
        import covey.models.bedrock.testing
    except ImportError as error:
        print(error)
    else:
        print("imported")
    """
)

SMOKE = textwrap.dedent(
    """
    import asyncio, os, sys
    import covey.models.bedrock
    assert "boto3" not in sys.modules, "importing the adapter imported the SDK"
    from covey.models.bedrock.testing import FakeBedrockServer, text_response
    from covey.spec import ModelRequest, ModelRequestParams, plugins

    async def main():
        with FakeBedrockServer([text_response("from the wheel")]) as server:
            os.environ.update(
                AWS_ACCESS_KEY_ID="AKIAWHEEL00000000001",
                AWS_SECRET_ACCESS_KEY="wheel-secret",
                AWS_REGION="us-east-1",
                AWS_ENDPOINT_URL_BEDROCK_RUNTIME=server.url,
                AWS_CONFIG_FILE=os.devnull,
                AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                AWS_EC2_METADATA_DISABLED="true",
            )
            model = plugins.resolve_model("bedrock:amazon.nova-pro-v1:0")
            response = await model.request([ModelRequest.user("hi")], None, ModelRequestParams())
            await model.aclose()
        return response.text()

    print(asyncio.run(main()))
    """
)


@pytest.mark.slow
def test_wheel_installs_alone_with_only_its_sdk(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    wheels = [build_wheel(PACKAGE, dist), build_wheel(WORKSPACE / "packages" / "spec", dist)]
    names = [w.name for w in sorted(dist.glob("*.whl"))]
    assert any(n.startswith("covey_models_bedrock-0.1.0-") for n in names), names

    venv = fresh_venv(tmp_path / "venv", unset_prefixes=("AWS_",))
    venv.install(*wheels)
    alone = {name for name in venv.distributions() if name.startswith("covey-")}
    assert alone == {"covey-models-bedrock", "covey-spec"}
    assert venv.run(WITHOUT_EXTRA).strip().splitlines()[-1] == (
        "covey.models.bedrock.testing needs covey-testing: "
        "pip install covey-models-bedrock[testing]"
    )

    venv.install(build_wheel(WORKSPACE / "packages" / "testing", dist))
    text = venv.run(SMOKE).strip().splitlines()[-1]
    installed = venv.distributions()
    assert text == "from the wheel"
    assert {"covey-models-bedrock", "covey-spec", "boto3", "botocore"} <= installed
    assert not installed & OTHER_SDKS, f"other providers' SDKs installed: {installed & OTHER_SDKS}"
