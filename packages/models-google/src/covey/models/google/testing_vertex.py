"""Fakes for Vertex AI tests: the API with its authentication, Google's OAuth token endpoint,
and service-account key files that really sign.

- `FakeVertexServer`: `FakeGeminiServer` on Vertex AI paths
  (`/v1beta1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent`...) that,
  like Vertex, answers `401 UNAUTHENTICATED` to a request without an accepted bearer token or
  express-mode key.
- `FakeGoogleOAuthServer`: the token endpoint a service account's `token_uri` names. It checks
  the RS256 signature of the JWT assertion google-auth posts against the service account's public
  key, checks its claims, and mints access tokens (`ya29.fake-...`).
- `service_account_info` / `write_service_account`: a service-account JSON with a fresh RSA key
  whose `token_uri` points at the fake endpoint.

Example:
    ```python
    import asyncio
    import tempfile
    from pathlib import Path

    from covey.models.google import VertexModel
    from covey.models.google.testing import text_answer
    from covey.models.google.testing_vertex import (
        FakeGoogleOAuthServer,
        FakeVertexServer,
        write_service_account,
    )
    from covey.spec import ModelRequest, ModelRequestParams


    async def main() -> None:
        with FakeGoogleOAuthServer() as oauth, FakeVertexServer(
            [text_answer("Hi!")], oauth=oauth
        ) as vertex:
            key_file = write_service_account(Path(tempfile.mkdtemp()) / "sa.json", oauth)
            model = VertexModel("gemini-2.5-flash", credentials_file=key_file, base_url=vertex.url)
            response = await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
            await model.aclose()
        assert response.text() == "Hi!"
        assert vertex.requests[0].headers["authorization"] == f"Bearer {oauth.issued[0]}"


    asyncio.run(main())
    ```

Key generation and signature checks use `cryptography`, which google-auth already requires.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

# Exchange and LoopbackServer (covey-testing) through the fake Gemini module: only a plugin's
# `testing` module may import covey.testing (the import-linter layer rule).
from covey.models.google.testing import (
    Exchange,
    FakeGeminiServer,
    LoopbackServer,
    RecordedRequest,
    Responder,
    ScriptedResponse,
    error_answer,
)

__all__ = [
    "GOOGLE_TOKEN_AUDIENCE",
    "JWT_BEARER_GRANT",
    "FakeGoogleOAuthServer",
    "FakeVertexServer",
    "TokenRequest",
    "new_private_key",
    "service_account_info",
    "write_service_account",
]

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
"""The grant type a service account uses to trade a signed JWT for an access token."""
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
"""The `aud` google-auth puts in a service account's assertion, whatever its `token_uri`."""
_tokens = itertools.count(1)


# --- service accounts ----------------------------------------------------------------------------


def new_private_key() -> str:
    """A fresh 2048-bit RSA private key, PEM (PKCS#8), as in a service-account file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def service_account_info(
    token_uri: str | FakeGoogleOAuthServer,
    *,
    project_id: str | None = "covey-test-project",
    client_email: str = "covey-agent@covey-test-project.iam.gserviceaccount.com",
    private_key: str | None = None,
) -> dict[str, Any]:
    """A service-account key as Google's console hands it out.

    Args:
        token_uri: Where google-auth trades the signed JWT for a token: a URL, or a
            `FakeGoogleOAuthServer` (which is told the public key, so it can check signatures).
        project_id: The project the key belongs to (`None` leaves the field out).
        client_email: The service account's address.
        private_key: A PEM RSA key (from `new_private_key`, reused to save time in a test
            suite); default a fresh one.
    """
    pem = private_key or new_private_key()
    key_id = os.urandom(20).hex()
    uri = token_uri.token_uri if isinstance(token_uri, FakeGoogleOAuthServer) else token_uri
    info: dict[str, Any] = {
        "type": "service_account",
        "private_key_id": key_id,
        "private_key": pem,
        "client_email": client_email,
        "client_id": str(int.from_bytes(os.urandom(8), "big")),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": uri,
        "universe_domain": "googleapis.com",
    }
    if project_id is not None:
        info["project_id"] = project_id
    if isinstance(token_uri, FakeGoogleOAuthServer):
        token_uri.trust(info)
    return info


def write_service_account(
    path: str | os.PathLike[str],
    token_uri: str | FakeGoogleOAuthServer,
    *,
    project_id: str | None = "covey-test-project",
    client_email: str = "covey-agent@covey-test-project.iam.gserviceaccount.com",
    private_key: str | None = None,
) -> Path:
    """Write `service_account_info(...)` to `path` (readable by its owner only); returns it."""
    info = service_account_info(
        token_uri, project_id=project_id, client_email=client_email, private_key=private_key
    )
    target = Path(path)
    target.write_text(json.dumps(info, indent=2), encoding="utf-8")
    target.chmod(0o600)
    return target


# --- the OAuth token endpoint --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """One request the fake token endpoint received.

    Attributes:
        form: The form fields (`grant_type`, `assertion`).
        header: The JWT header (`alg`, `kid`, `typ`), when an assertion came.
        claims: The JWT claims (`iss`, `aud`, `scope`, `iat`, `exp`).
        verified: Whether the signature checked out against a trusted key.
        access_token: The token minted for it (`None` when refused).
    """

    form: dict[str, str]
    header: dict[str, Any] = field(default_factory=dict[str, Any])
    claims: dict[str, Any] = field(default_factory=dict[str, Any])
    verified: bool = False
    access_token: str | None = None


class FakeGoogleOAuthServer(LoopbackServer[TokenRequest, ScriptedResponse]):
    """Google's OAuth 2.0 token endpoint on `127.0.0.1`, for service accounts.

        `POST /token` with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and a JWT
        `assertion` gets a fresh access token when the JWT is signed (RS256) by a trusted service
        account's key, its `iss` is that account, its `aud` is Google's token endpoint (or this one),
    its `scope` is set and
        it has not expired; otherwise `400 invalid_grant`, as Google answers. Scripted answers (a
        `ScriptedResponse`, e.g. a 500) are served first, instead of checking.

        Attributes:
            issued: Every access token minted, in order.
            requests: Every token request, with the decoded JWT.
    """

    protocol_version = "HTTP/1.1"
    server_version = "FakeGoogleOAuth/1.0"

    def __init__(
        self, script: Iterable[ScriptedResponse] | None = None, *, expires_in: int = 3600
    ) -> None:
        super().__init__(script)
        self.expires_in = expires_in
        self.issued: list[str] = []
        self._keys: dict[str, Any] = {}
        self._keys_lock = threading.Lock()

    @property
    def token_uri(self) -> str:
        """The `token_uri` to put in a service-account file."""
        return f"{self.url}/token"

    def trust(self, info: Mapping[str, Any]) -> None:
        """Accept assertions signed by this service account's key (`client_email` as `iss`)."""
        from cryptography.hazmat.primitives import serialization

        key = serialization.load_pem_private_key(str(info["private_key"]).encode(), password=None)
        with self._keys_lock:
            self._keys[str(info["client_email"])] = key.public_key()

    def serve(self, exchange: Exchange) -> None:
        raw = exchange.request
        form = dict(parse_qsl(raw.body.decode("utf-8", "replace")))
        if urlsplit(raw.path).path != "/token" or raw.method != "POST":
            self.record(TokenRequest(form=form), take_scripted=False)
            return _send_json(exchange, 404, {"error": "not_found"})
        header, claims, verified, problem = self._check(form)
        token = None if problem else f"ya29.fake-{next(_tokens)}-{os.urandom(12).hex()}"
        _, scripted = self.record(
            TokenRequest(form=form, header=header, claims=claims, verified=verified)
        )
        if scripted is not None:
            body: Any = scripted.body if scripted.body is not None else {}
            return _send_json(exchange, scripted.status, body, scripted.headers)
        if problem or token is None:
            return _send_json(
                exchange, 400, {"error": "invalid_grant", "error_description": problem}
            )
        with self._lock:
            self.issued.append(token)
            # Keep the record honest: the request that got this token says so.
            last = self._requests[-1]
            self._requests[-1] = TokenRequest(
                form=last.form,
                header=last.header,
                claims=last.claims,
                verified=last.verified,
                access_token=token,
            )
        return _send_json(
            exchange,
            200,
            {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"},
        )

    def _check(
        self, form: Mapping[str, str]
    ) -> tuple[dict[str, Any], dict[str, Any], bool, str | None]:
        if form.get("grant_type") != JWT_BEARER_GRANT:
            return {}, {}, False, "Unsupported grant type."
        pieces = form.get("assertion", "").split(".")
        if len(pieces) != 3:
            return {}, {}, False, "Invalid JWT: not three segments."
        try:
            header = json.loads(_b64(pieces[0]))
            claims = json.loads(_b64(pieces[1]))
            signature = _b64(pieces[2])
        except ValueError:
            return {}, {}, False, "Invalid JWT: bad encoding."
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return {}, {}, False, "Invalid JWT: not objects."
        header = cast(dict[str, Any], header)
        claims = cast(dict[str, Any], claims)
        with self._keys_lock:
            public_key = self._keys.get(str(claims.get("iss")))
        if header.get("alg") != "RS256" or public_key is None:
            return header, claims, False, "Invalid JWT Signature."
        verified = _verify_rs256(public_key, f"{pieces[0]}.{pieces[1]}".encode(), signature)
        if not verified:
            return header, claims, False, "Invalid JWT Signature."
        now = time.time()
        if claims.get("aud") not in (GOOGLE_TOKEN_AUDIENCE, self.token_uri):
            return header, claims, True, "Invalid JWT: check your aud claim."
        if not claims.get("scope"):
            return header, claims, True, "Invalid OAuth scope or ID token audience provided."
        if float(claims.get("exp", 0)) < now:
            return header, claims, True, "Invalid JWT: Token must be a short-lived token."
        return header, claims, True, None


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _verify_rs256(public_key: Any, message: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    try:
        public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def _send_json(
    exchange: Exchange, status: int, body: Any, headers: Mapping[str, str] | None = None
) -> None:
    exchange.send(status, json.dumps(body).encode(), headers=headers)


# --- the API -------------------------------------------------------------------------------------


class FakeVertexServer(FakeGeminiServer):
    """Vertex AI's Gemini API on `127.0.0.1`: `FakeGeminiServer`, checking authentication.

    Every request must carry `Authorization: Bearer <token>` with a token `oauth` minted (or one
    of `access_tokens`), or `x-goog-api-key` with one of `api_keys` (express mode); with none of
    those configured, any bearer token or key is taken. Otherwise it answers
    `401 UNAUTHENTICATED` without using a scripted answer, as Vertex does. Requests to a path
    that is not a Vertex AI one (`/v1beta1/projects/...` or `/v1beta1/publishers/...`) get 404.

    Args:
        script: As for `FakeGeminiServer`.
        oauth: A `FakeGoogleOAuthServer` whose minted tokens are accepted.
        access_tokens: Bearer tokens accepted as well.
        api_keys: Express-mode API keys accepted.
    """

    server_version = "FakeVertex/1.0"

    def __init__(
        self,
        script: Iterable[ScriptedResponse | Mapping[str, Any]] | Responder | None = None,
        *,
        oauth: FakeGoogleOAuthServer | None = None,
        access_tokens: Iterable[str] = (),
        api_keys: Iterable[str] = (),
    ) -> None:
        super().__init__(script)
        self.oauth = oauth
        self.access_tokens = set(access_tokens)
        self.api_keys = set(api_keys)

    def respond(self, request: RecordedRequest) -> ScriptedResponse:
        """Refuse unauthenticated requests and non-Vertex paths; else as `FakeGeminiServer`."""
        if not request.vertex:
            self.record(request, take_scripted=False)
            return error_answer(404, f"FakeVertexServer: {request.path} is not a Vertex AI path")
        if not self._authenticated(request.headers):
            self.record(request, take_scripted=False)
            return error_answer(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
                status_text="UNAUTHENTICATED",
                reason="ACCESS_TOKEN_TYPE_UNSUPPORTED",
            )
        return super().respond(request)

    def _authenticated(self, headers: Mapping[str, str]) -> bool:
        authorization = headers.get("authorization", "")
        key = headers.get("x-goog-api-key", "")
        token = authorization[7:] if authorization.lower().startswith("bearer ") else ""
        accepted = set(self.access_tokens)
        if self.oauth is not None:
            accepted.update(self.oauth.issued)
        if not accepted and not self.api_keys:
            return bool(token or key)
        return (bool(token) and token in accepted) or (bool(key) and key in self.api_keys)
