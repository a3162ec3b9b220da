"""Entry points, lazy SDK import, profiles, and how credentials and region are found."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest

from covey.models.bedrock import BedrockModel, bedrock_profile
from covey.models.bedrock.testing import FakeBedrockServer, text_response
from covey.spec import ModelProfile, ModelRequest, ModelRequestParams, plugins


def test_entry_point_resolves_model_strings() -> None:
    plugins.refresh()
    info = {p.name: p for p in plugins.available("models")}["bedrock"]
    assert info.distribution == "covey-models-bedrock"
    model = plugins.resolve_model("bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert isinstance(model, BedrockModel)
    assert model.model_name == "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert model.provider == "bedrock"
    arn = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.amazon.nova-pro-v1:0"
    assert plugins.resolve_model(f"bedrock:{arn}").model_name == arn


def test_importing_and_constructing_imports_no_sdk() -> None:
    code = textwrap.dedent(
        """
        import sys
        from covey.spec import plugins
        from covey.models.bedrock import BedrockModel, BedrockEmbedder
        import covey.models.bedrock.testing
        plugins.resolve_model("bedrock:amazon.nova-pro-v1:0")
        plugins.resolve_embedder("bedrock:amazon.titan-embed-text-v2:0")
        BedrockModel("anthropic.claude-3-haiku-20240307-v1:0", region_name="eu-west-1")
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"boto3", "botocore", "urllib3"})
        assert not loaded, loaded
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize(
    ("model_id", "thinking", "cache", "forced", "video"),
    [
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", True, True, True, False),
        ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", True, True, True, False),
        ("global.anthropic.claude-opus-4-1-20250805-v1:0", True, True, True, False),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", False, True, True, False),
        ("anthropic.claude-3-haiku-20240307-v1:0", False, False, True, False),
        ("eu.amazon.nova-pro-v1:0", False, True, True, True),
        ("amazon.nova-premier-v1:0", False, False, True, True),
        ("meta.llama3-1-70b-instruct-v1:0", False, False, False, False),
        ("mistral.mistral-large-2407-v1:0", False, False, True, False),
        ("us.deepseek.r1-v1:0", True, False, False, False),
    ],
)
def test_profiles_by_family(
    model_id: str, thinking: bool, cache: bool, forced: bool, video: bool
) -> None:
    profile = bedrock_profile(model_id)
    assert profile.supports_thinking is thinking
    assert profile.supports_prompt_cache is cache
    assert profile.supports_tool_choice_required is forced
    assert profile.supports_video is video
    assert profile.supports_tools and profile.supports_streaming_usage
    assert not profile.supports_audio
    assert profile.default_output_mode == "tool"
    assert BedrockModel(model_id).profile == profile


def test_profile_override() -> None:
    custom = ModelProfile(supports_tools=False)
    assert BedrockModel("amazon.nova-lite-v1:0", profile=custom).profile is custom


async def test_aclose_is_safe_twice_and_before_any_request() -> None:
    model = BedrockModel("amazon.nova-lite-v1:0")
    await model.aclose()
    await model.aclose()


async def test_a_named_profile_gives_region_and_credentials(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, aws: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    config = tmp_path / "config"
    config.write_text("[profile team]\nregion = eu-central-1\n")
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[team]\naws_access_key_id = AKIATEAMPROFILE00001\naws_secret_access_key = team-secret-123456\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    with FakeBedrockServer(
        [text_response("from the profile")], access_key_id="AKIATEAMPROFILE00001"
    ) as server:
        model = BedrockModel("amazon.nova-pro-v1:0", profile_name="team", endpoint_url=server.url)
        response = await model.request([ModelRequest.user("hi")], None, ModelRequestParams())
        await model.aclose()
    assert response.text() == "from the profile"
    assert "/eu-central-1/bedrock/aws4_request" in server.requests[0].headers["authorization"]


async def test_a_ready_session_or_client_is_used(aws: Any) -> None:
    import boto3

    with FakeBedrockServer(
        [text_response("one"), text_response("two")], access_key_id="AKIASESSION000000001"
    ) as server:
        session = boto3.Session(
            aws_access_key_id="AKIASESSION000000001",
            aws_secret_access_key="session-secret-0123",
            region_name="ap-southeast-2",
        )
        by_session = BedrockModel("amazon.nova-pro-v1:0", session=session, endpoint_url=server.url)
        assert (
            await by_session.request([ModelRequest.user("a")], None, ModelRequestParams())
        ).text() == "one"
        client = session.client("bedrock-runtime", endpoint_url=server.url)
        by_client = BedrockModel("amazon.nova-pro-v1:0", client=client)
        assert (
            await by_client.request([ModelRequest.user("b")], None, ModelRequestParams())
        ).text() == "two"
        await by_client.aclose()  # a client passed in stays the caller's
        client.close()
        await by_session.aclose()
    assert all("/ap-southeast-2/" in r.headers["authorization"] for r in server.requests)
