"""Fixtures: real boto3 against `FakeBedrockServer` on 127.0.0.1, with static fake credentials
and no AWS config files, so nothing from the machine's AWS setup leaks into a test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from covey.models.bedrock import BedrockModel
from covey.models.bedrock.testing import FakeBedrockServer

ACCESS_KEY = "AKIAFAKEBEDROCK0001"
SECRET_KEY = "fake-secret-key-DO-NOT-SHOW-0123456789abcdef"
SESSION_TOKEN = "fake-session-token-DO-NOT-SHOW-9876543210"
REGION = "us-east-1"
MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_BEARER_TOKEN_BEDROCK",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


class AWS:
    """The fake credentials, region and model of every test."""

    ACCESS_KEY = ACCESS_KEY
    SECRET_KEY = SECRET_KEY
    SESSION_TOKEN = SESSION_TOKEN
    REGION = REGION
    MODEL = MODEL


@pytest.fixture
def aws() -> type[AWS]:
    return AWS


@pytest.fixture
def server() -> Iterator[FakeBedrockServer]:
    with FakeBedrockServer(access_key_id=ACCESS_KEY) as fake:
        yield fake


@pytest.fixture
def make_model(server: FakeBedrockServer) -> Iterator[Any]:
    models: list[BedrockModel] = []

    def make(model_id: str = MODEL, **kwargs: Any) -> BedrockModel:
        kwargs.setdefault("region_name", REGION)
        kwargs.setdefault("endpoint_url", server.url)
        model = BedrockModel(model_id, **kwargs)
        models.append(model)
        return model

    yield make
    for model in models:
        model._clients.close()


@pytest.fixture
def model(make_model: Any) -> BedrockModel:
    return make_model()
