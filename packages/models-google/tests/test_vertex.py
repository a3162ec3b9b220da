"""VertexModel through the real google-genai SDK (`vertexai=True`) and real google-auth, against
FakeVertexServer and a fake OAuth token endpoint on loopback: the URL, the authentication, where
project, location and credentials come from, and the configuration errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials as OAuthCredentials

from covey.models.google import VertexModel
from covey.models.google.testing import text_answer
from covey.models.google.testing_vertex import (
    GOOGLE_TOKEN_AUDIENCE,
    JWT_BEARER_GRANT,
    FakeGoogleOAuthServer,
    FakeVertexServer,
    write_service_account,
)
from covey.spec import ModelRequest, ModelRequestParams
from covey.spec.errors import AuthenticationError, ConfigurationError, ModelConnectionError
from covey.spec.models import FinalResponseEvent
from covey.spec.plugins import refresh, resolve_model

pytestmark = pytest.mark.usefixtures("clean_google_env")

VERTEX_PATH = (
    "/v1beta1/projects/{project}/locations/{location}/publishers/google/models/"
    "gemini-2.5-flash:{action}"
)


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value))


def hello() -> list[ModelRequest]:
    return [ModelRequest.user("Hello")]


async def test_service_account_file_mints_a_token_with_a_signed_jwt_and_the_call_carries_it(
    oauth: FakeGoogleOAuthServer, vertex: FakeVertexServer, service_account: Path
) -> None:
    vertex.add(text_answer("Hi from Vertex."), text_answer("Again."))
    model = VertexModel(
        "gemini-2.5-flash",
        credentials_file=service_account,
        location="europe-west4",
        base_url=vertex.url,
    )
    first = await model.request(hello(), None, ModelRequestParams())
    second = await model.request(hello(), None, ModelRequestParams())
    await model.aclose()

    assert (first.text(), second.text()) == ("Hi from Vertex.", "Again.")
    # One token request: a JWT google-auth signed with the file's RSA key, checked by the fake.
    [grant] = oauth.requests
    assert grant.form["grant_type"] == JWT_BEARER_GRANT
    assert grant.verified, "the assertion's RS256 signature did not verify"
    assert grant.header["alg"] == "RS256"
    assert grant.header["kid"] == read_json(service_account)["private_key_id"]
    assert grant.claims["iss"] == "covey-agent@covey-test-project.iam.gserviceaccount.com"
    assert grant.claims["aud"] == GOOGLE_TOKEN_AUDIENCE
    assert grant.claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    # Both model calls carried the minted token (the token is cached until it expires).
    [token] = oauth.issued
    assert grant.access_token == token
    assert [r.headers["authorization"] for r in vertex.requests] == [f"Bearer {token}"] * 2
    # The project comes from the file's project_id; the path is Vertex's resource path.
    assert vertex.requests[0].path == VERTEX_PATH.format(
        project="covey-test-project", location="europe-west4", action="generateContent"
    )
    assert "x-goog-api-key" not in vertex.requests[0].headers


async def test_stream_url_and_token(
    oauth: FakeGoogleOAuthServer, vertex: FakeVertexServer, service_account: Path
) -> None:
    vertex.add(text_answer("Streaming from Vertex now."))
    model = VertexModel(
        "gemini-2.5-flash",
        credentials_file=service_account,
        project="other-project",
        location="us-central1",
        base_url=vertex.url,
    )
    events = [e async for e in model.request_stream(hello(), None, ModelRequestParams())]
    await model.aclose()
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    assert final.response.text() == "Streaming from Vertex now."
    request = vertex.requests[0]
    assert request.path == VERTEX_PATH.format(
        project="other-project", location="us-central1", action="streamGenerateContent"
    )
    assert request.query == {"alt": "sse"}
    assert request.headers["authorization"] == f"Bearer {oauth.issued[0]}"


async def test_ready_credentials_and_environment_project_location_and_base_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeVertexServer([text_answer("ok")], access_tokens=["ya29.ready-token"]) as vertex:
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-project")
        monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "asia-northeast1")
        monkeypatch.setenv("GOOGLE_VERTEX_BASE_URL", vertex.url)
        model = VertexModel(
            "gemini-2.5-flash", credentials=OAuthCredentials(token="ya29.ready-token")
        )
        response = await model.request(hello(), None, ModelRequestParams())
        await model.aclose()
    assert response.text() == "ok"
    assert vertex.requests[0].path == VERTEX_PATH.format(
        project="env-project", location="asia-northeast1", action="generateContent"
    )
    assert vertex.requests[0].headers["authorization"] == "Bearer ya29.ready-token"


async def test_location_defaults_to_global_like_google_genai(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeVertexServer([text_answer("ok")]) as vertex:
        model = VertexModel(
            "gemini-2.5-flash",
            project="p1",
            credentials=OAuthCredentials(token="ya29.any"),
            base_url=vertex.url,
        )
        await model.request(hello(), None, ModelRequestParams())
        await model.aclose()
    assert vertex.requests[0].location == "global"


async def test_application_default_credentials_from_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
    oauth: FakeGoogleOAuthServer,
    vertex: FakeVertexServer,
    service_account: Path,
) -> None:
    """`vertex:<model>` with nothing but the usual Google Cloud variables."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account))
    monkeypatch.setenv("GOOGLE_VERTEX_BASE_URL", vertex.url)
    refresh()
    model = resolve_model("vertex:gemini-2.5-flash")
    assert isinstance(model, VertexModel)
    assert model.provider == "vertex"
    vertex.add(text_answer("ADC works."))
    response = await model.request(hello(), None, ModelRequestParams())
    await model.aclose()
    assert response.text() == "ADC works."
    assert vertex.requests[0].project == "covey-test-project"
    assert vertex.requests[0].headers["authorization"] == f"Bearer {oauth.issued[0]}"


async def test_a_gemini_key_in_the_environment_is_never_sent_to_vertex(
    monkeypatch: pytest.MonkeyPatch,
    oauth: FakeGoogleOAuthServer,
    vertex: FakeVertexServer,
    service_account: Path,
) -> None:
    """Gemini API users often have GOOGLE_API_KEY set; Vertex with credentials ignores it."""
    gemini_key = "AIzaSyGEMINI-KEY-NOT-FOR-VERTEX-000000"
    monkeypatch.setenv("GOOGLE_API_KEY", gemini_key)
    monkeypatch.setenv("GEMINI_API_KEY", gemini_key)
    vertex.add(text_answer("ok"))
    model = VertexModel("gemini-2.5-flash", credentials_file=service_account, base_url=vertex.url)
    await model.request(hello(), None, ModelRequestParams())
    await model.aclose()
    request = vertex.requests[0]
    assert "x-goog-api-key" not in request.headers
    assert request.headers["authorization"] == f"Bearer {oauth.issued[0]}"
    assert gemini_key not in json.dumps(request.headers)


async def test_express_mode_api_key_uses_the_publisher_path_and_no_token() -> None:
    key = "AQ.express-mode-key-0123456789"
    with FakeVertexServer([text_answer("express")], api_keys=[key]) as vertex:
        model = VertexModel("gemini-2.5-flash", api_key=key, base_url=vertex.url)
        response = await model.request(hello(), None, ModelRequestParams())
        await model.aclose()
    assert response.text() == "express"
    request = vertex.requests[0]
    assert request.path == "/v1beta1/publishers/google/models/gemini-2.5-flash:generateContent"
    assert request.headers["x-goog-api-key"] == key
    assert "authorization" not in request.headers
    assert key not in repr(model)


async def test_a_token_the_api_does_not_take_is_an_authentication_error() -> None:
    with FakeVertexServer(access_tokens=["ya29.the-right-one"]) as vertex:
        model = VertexModel(
            "gemini-2.5-flash",
            project="p",
            credentials=OAuthCredentials(token="ya29.a-stale-one"),
            base_url=vertex.url,
        )
        with pytest.raises(AuthenticationError) as caught:
            await model.request(hello(), None, ModelRequestParams())
        await model.aclose()
    assert caught.value.status_code == 401
    assert "Vertex AI" in str(caught.value)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in str(caught.value)


# --- configuration errors ------------------------------------------------------------------------


async def test_no_project_anywhere_is_a_configuration_error(
    tmp_path: Path, oauth: FakeGoogleOAuthServer, rsa_key: str
) -> None:
    key_file = write_service_account(
        tmp_path / "no-project.json", oauth, project_id=None, private_key=rsa_key
    )
    private_key = read_json(key_file)["private_key"]
    model = VertexModel("gemini-2.5-flash", credentials_file=key_file)
    with pytest.raises(ConfigurationError) as caught:
        await model.request(hello(), None, ModelRequestParams())
    message = str(caught.value)
    assert "No Google Cloud project" in message
    assert "GOOGLE_CLOUD_PROJECT" in message
    assert "project=" in message
    assert private_key not in message
    assert oauth.requests == [], "no token is asked for before the project is known"


async def test_no_credentials_at_all_is_a_configuration_error() -> None:
    # No variable, no gcloud login, not on Google Cloud: ADC finds nothing.
    model = VertexModel("gemini-2.5-flash", project="p")
    with pytest.raises(ConfigurationError) as caught:
        await model.request(hello(), None, ModelRequestParams())
    message = str(caught.value)
    assert "Could not load Google Cloud credentials" in message
    assert "gcloud auth application-default login" in message
    assert caught.value.__cause__ is None


async def test_a_missing_credentials_file_is_named() -> None:
    model = VertexModel("gemini-2.5-flash", project="p", credentials_file="/nonexistent/sa.json")
    with pytest.raises(ConfigurationError, match=re.escape("/nonexistent/sa.json")):
        await model.request(hello(), None, ModelRequestParams())


async def test_a_broken_key_file_never_shows_its_contents(tmp_path: Path) -> None:
    secret = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC-not-a-real-key"
    info = {
        "type": "service_account",
        "project_id": "p",
        "private_key_id": "abc123def456abc123def456",
        "private_key": f"-----BEGIN PRIVATE KEY-----\n{secret}\n-----END PRIVATE KEY-----\n",
        "client_email": "x@p.iam.gserviceaccount.com",
        "token_uri": "http://127.0.0.1:9/token",
    }
    path = tmp_path / "broken.json"
    write_json(path, info)
    model = VertexModel("gemini-2.5-flash", credentials_file=path)
    with pytest.raises(ConfigurationError) as caught:
        await model.request(hello(), None, ModelRequestParams())
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_adc_pointing_at_a_missing_file_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/adc.json")
    model = VertexModel("gemini-2.5-flash", project="p")
    with pytest.raises(ConfigurationError, match=re.escape("/nonexistent/adc.json")):
        await model.request(hello(), None, ModelRequestParams())


async def test_only_service_account_and_user_files_are_read(tmp_path: Path) -> None:
    """An external-account file can make google-auth run a command named in it: refused."""
    path = tmp_path / "external.json"
    marker = tmp_path / "ran"
    path.write_text(
        json.dumps(
            {
                "type": "external_account",
                "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/x",
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "token_url": "http://127.0.0.1:9/token",
                "credential_source": {"executable": {"command": f"touch {marker}"}},
            }
        )
    )
    model = VertexModel("gemini-2.5-flash", project="p", credentials_file=path)
    with pytest.raises(ConfigurationError, match="external_account"):
        await model.request(hello(), None, ModelRequestParams())
    assert not marker.exists()


@pytest.mark.parametrize(
    "project", ["p/../../other-project", "proj?alt=json", "Proj ect", "p%2F..", "a" * 200]
)
def test_a_project_that_is_not_an_id_is_refused(project: str) -> None:
    """The project goes into the URL path: nothing that could reshape it is let through."""
    with pytest.raises(ConfigurationError, match="not a Google Cloud project id"):
        VertexModel("gemini-2.5-flash", project=project, credentials_file="sa.json")


async def test_a_location_from_the_environment_that_is_not_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "us-central1/../../evil")
    model = VertexModel("gemini-2.5-flash", project="p-123", credentials=OAuthCredentials("t"))
    with pytest.raises(ConfigurationError, match="not a Vertex AI location"):
        await model.request(hello(), None, ModelRequestParams())


def test_project_numbers_domain_scoped_projects_and_multi_regions_are_accepted() -> None:
    VertexModel("gemini-2.5-flash", project="example.com:my-project", location="eu")
    VertexModel("gemini-2.5-flash", project="123456789012", location="us-central1")


def test_api_key_with_a_project_or_credentials_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="express-mode api_key"):
        VertexModel("gemini-2.5-flash", api_key="AQ.k-123456", project="p")
    with pytest.raises(ConfigurationError, match="express-mode api_key"):
        VertexModel("gemini-2.5-flash", api_key="AQ.k-123456", credentials_file="sa.json")
    with pytest.raises(ConfigurationError, match="either credentials"):
        VertexModel(
            "gemini-2.5-flash", credentials=OAuthCredentials(token="t"), credentials_file="f"
        )
    with pytest.raises(ConfigurationError, match="needs a model name"):
        VertexModel("  ")


def test_nothing_is_read_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/never-read.json")
    model = VertexModel("gemini-2.5-flash")  # no error: credentials load on the first request
    assert repr(model) == (
        "VertexModel(model_name='gemini-2.5-flash', "
        "auth=VertexAuth(project=None, location=None, ADC))"
    )


# --- the token endpoint --------------------------------------------------------------------------


async def test_a_key_google_does_not_know_is_an_authentication_error_without_the_key(
    tmp_path: Path, oauth: FakeGoogleOAuthServer, vertex: FakeVertexServer
) -> None:
    # A fresh key the token endpoint was never told about: "Invalid JWT Signature".
    key_file = write_service_account(tmp_path / "revoked.json", oauth.token_uri)
    info = read_json(key_file)
    model = VertexModel("gemini-2.5-flash", credentials_file=key_file, base_url=vertex.url)
    with pytest.raises(AuthenticationError) as caught:
        await model.request(hello(), None, ModelRequestParams())
    await model.aclose()
    error = caught.value
    assert "Invalid JWT Signature" in str(error)
    assert vertex.requests == [], "no model call without a token"
    assert oauth.requests[0].verified is False
    for shown in (str(error), repr(error), repr(error.__cause__)):
        assert info["private_key"] not in shown
        assert info["private_key_id"] not in shown


async def test_an_unreachable_token_endpoint_is_a_connection_error(
    tmp_path: Path, vertex: FakeVertexServer, rsa_key: str
) -> None:
    with FakeGoogleOAuthServer() as gone:
        key_file = write_service_account(tmp_path / "sa.json", gone, private_key=rsa_key)
    # `gone` is closed: its port refuses connections.
    model = VertexModel("gemini-2.5-flash", credentials_file=key_file, base_url=vertex.url)
    with pytest.raises(ModelConnectionError, match="token endpoint"):
        await model.request(hello(), None, ModelRequestParams())
    await model.aclose()
    assert vertex.requests == []
