"""JWT auth over real HTTP: every failure mode, scopes, and tenant isolation."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from covey.runtime.auth import SCOPES

SECRET = "s3cret-s3cret-s3cret-s3cret-s3cret-s3cret"
ALL = " ".join(SCOPES[:-1])  # everything but admin


def token(
    sub: str = "alice",
    *,
    tenant: str | None = "acme",
    scope: str = ALL,
    key: Any = SECRET,
    algorithm: str = "HS256",
    headers: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    now = int(time.time())
    # An hour: test modules build their tokens at collection, and the whole suite may run well
    # past five minutes before a module's tests do.
    payload: dict[str, Any] = {"sub": sub, "scope": scope, "exp": now + 3600, "iat": now}
    if tenant is not None:
        payload["tenant"] = tenant
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def refused(response: httpx.Response, status: int = 401) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    slug = {401: "unauthorized", 403: "forbidden", 404: "not-found"}[status]
    assert body["type"] == f"urn:covey:problem:{slug}"
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    return body


@pytest.fixture
def jwt_api(serve) -> httpx.Client:
    return serve(
        auth="jwt", jwt_secret=SECRET, jwt_audience="covey-api", jwt_issuer="https://issuer"
    )[1]


def good(sub: str = "alice", **options: Any) -> dict[str, str]:
    return bearer(token(sub, aud="covey-api", iss="https://issuer", **options))


def test_every_way_a_token_is_refused(jwt_api: httpx.Client) -> None:
    url = "/v1/agents"
    assert jwt_api.get(url, headers=good()).status_code == 200
    assert "No bearer token" in refused(jwt_api.get(url))["detail"]
    refused(jwt_api.get(url, headers={"Authorization": "Basic YWxpY2U6cHc="}))
    refused(jwt_api.get(url, headers={"Authorization": "Bearer"}))
    assert "not a well-formed" in refused(jwt_api.get(url, headers=bearer("not.a.jwt")))["detail"]
    forged = token(aud="covey-api", iss="https://issuer", key="another-secret-another-secret-1234")
    assert "signature" in refused(jwt_api.get(url, headers=bearer(forged)))["detail"]
    expired = good(exp=int(time.time()) - 60)
    assert "expired" in refused(jwt_api.get(url, headers=expired))["detail"]
    early = good(nbf=int(time.time()) + 600)
    assert "not valid yet" in refused(jwt_api.get(url, headers=early))["detail"]
    wrong_aud = bearer(token(aud="someone-else", iss="https://issuer"))
    assert "audience" in refused(jwt_api.get(url, headers=wrong_aud))["detail"]
    no_aud = bearer(token(iss="https://issuer"))
    refused(jwt_api.get(url, headers=no_aud))
    wrong_iss = bearer(token(aud="covey-api", iss="https://evil"))
    assert "issuer" in refused(jwt_api.get(url, headers=wrong_iss))["detail"]
    no_exp = good(exp=None)
    assert "'exp'" in refused(jwt_api.get(url, headers=no_exp))["detail"]
    no_sub = bearer(token(sub=None, aud="covey-api", iss="https://issuer"))  # type: ignore[arg-type]
    assert "'sub'" in refused(jwt_api.get(url, headers=no_sub))["detail"]
    unsigned = jwt.encode({"sub": "a", "exp": time.time() + 60}, None, algorithm="none")
    refused(jwt_api.get(url, headers=bearer(unsigned)))
    # Probes and the schema need no token.
    assert jwt_api.get("/health").status_code == 200
    assert jwt_api.get("/ready").status_code == 200
    assert jwt_api.get("/schema/openapi.json").status_code == 200


def test_each_route_needs_its_scope(jwt_api: httpx.Client) -> None:
    def only(scope: str) -> dict[str, str]:
        return good(scope=scope)

    refused(jwt_api.get("/v1/agents", headers=only("runs:read")), 403)
    assert jwt_api.get("/v1/agents", headers=only("agents:read")).status_code == 200
    run = jwt_api.post("/v1/agents/echo/runs", json={"input": "x"}, headers=only("agents:read"))
    assert "agents:run" in refused(run, 403)["detail"]
    run = jwt_api.post("/v1/agents/echo/runs", json={"input": "x"}, headers=only("agents:run"))
    assert run.status_code == 200
    run_id = run.json()["run_id"]
    refused(jwt_api.get(f"/v1/runs/{run_id}", headers=only("agents:run")), 403)
    assert jwt_api.get(f"/v1/runs/{run_id}", headers=only("runs:read")).status_code == 200
    refused(jwt_api.post(f"/v1/runs/{run_id}/cancel", headers=only("runs:read")), 403)
    refused(jwt_api.get("/v1/sessions", headers=only("runs:read")), 403)
    assert jwt_api.get("/v1/sessions", headers=only("sessions:read")).status_code == 200
    session = run.json()["session_id"]
    refused(jwt_api.delete(f"/v1/sessions/{session}", headers=only("sessions:read")), 403)
    refused(jwt_api.get("/v1/plugins", headers=good()), 403)
    assert jwt_api.get("/v1/plugins", headers=only("admin")).status_code == 200
    assert (
        jwt_api.delete(f"/v1/sessions/{session}", headers=only("sessions:write")).status_code == 204
    )


def test_users_and_tenants_never_see_each_other(jwt_api: httpx.Client) -> None:
    alice = good("alice", tenant="acme")
    run = jwt_api.post(
        "/v1/agents/approver/runs", json={"input": "/f", "session_id": "shared-id"}, headers=alice
    ).json()
    assert run["user_id"] == "alice"
    run_id = run["run_id"]
    for intruder in (good("alice", tenant="globex"), good("bob", tenant="acme")):
        refused(jwt_api.get(f"/v1/runs/{run_id}", headers=intruder), 404)
        refused(jwt_api.get(f"/v1/runs/{run_id}/events", headers=intruder), 404)
        refused(jwt_api.post(f"/v1/runs/{run_id}/cancel", headers=intruder), 404)
        refused(
            jwt_api.post(
                f"/v1/runs/{run_id}/resume", json={"approvals": {"d1": True}}, headers=intruder
            ),
            404,
        )
        refused(jwt_api.get("/v1/sessions/shared-id", headers=intruder), 404)
        refused(jwt_api.get("/v1/sessions/shared-id/runs", headers=intruder), 404)
        refused(jwt_api.delete("/v1/sessions/shared-id", headers=intruder), 404)
        assert jwt_api.get("/v1/sessions", headers=intruder).json()["items"] == []
    # The same session id in another tenant is another session.
    other = jwt_api.post(
        "/v1/agents/echo/runs",
        json={"input": "hi", "session_id": "shared-id"},
        headers=good("alice", tenant="globex"),
    )
    assert other.json()["status"] == "completed"
    # An admin of the tenant sees every user's rows of that tenant, and only those.
    admin = good("root", tenant="acme", scope="admin")
    assert jwt_api.get(f"/v1/runs/{run_id}", headers=admin).json()["user_id"] == "alice"
    resumed = jwt_api.post(
        f"/v1/runs/{run_id}/resume", json={"approvals": {"d1": True}}, headers=admin
    ).json()
    assert resumed["status"] == "completed"
    assert resumed["user_id"] == "alice"
    refused(
        jwt_api.get(f"/v1/runs/{run_id}", headers=good("root", tenant="globex", scope="admin")), 404
    )


def test_two_users_of_one_tenant_using_one_session_id_get_their_own_sessions(
    jwt_api: httpx.Client,
) -> None:
    """User B posting a run with user A's session id gets a session of their own: the run
    completes, and nothing of A's session (state, history, runs) is visible to B."""
    alice, bob = good("alice", tenant="acme"), good("bob", tenant="acme")
    first = jwt_api.post(
        "/v1/agents/history/runs",
        json={"input": "alpha", "session_id": "s-1", "state": {"secret": "a"}},
        headers=alice,
    ).json()
    assert (first["status"], first["output"]) == ("completed", "seen: alpha")
    theirs = jwt_api.post(
        "/v1/agents/history/runs",
        json={"input": "beta", "session_id": "s-1", "state": {"mine": "b"}},
        headers=bob,
    )
    assert theirs.status_code == 200, theirs.text
    assert theirs.json()["status"] == "completed"
    assert theirs.json()["error"] is None
    assert theirs.json()["output"] == "seen: beta"  # not A's history
    bob_session = jwt_api.get("/v1/sessions/s-1", headers=bob).json()
    assert bob_session["user_id"] == "bob"
    assert bob_session["state"] == {"mine": "b"}
    bob_runs = jwt_api.get("/v1/sessions/s-1/runs", headers=bob).json()["items"]
    assert [r["run_id"] for r in bob_runs] == [theirs.json()["run_id"]]
    # A's session is untouched, and goes on with A's own history.
    alice_session = jwt_api.get("/v1/sessions/s-1", headers=alice).json()
    assert (alice_session["user_id"], alice_session["state"]) == ("alice", {"secret": "a"})
    again = jwt_api.post(
        "/v1/agents/history/runs", json={"input": "gamma", "session_id": "s-1"}, headers=alice
    ).json()
    assert again["output"] == "seen: alpha, gamma"
    alice_runs = jwt_api.get("/v1/sessions/s-1/runs", headers=alice).json()["items"]
    assert [r["run_id"] for r in alice_runs] == [first["run_id"], again["run_id"]]
    # Deleting B's session leaves A's.
    assert jwt_api.delete("/v1/sessions/s-1", headers=bob).status_code == 204
    assert jwt_api.get("/v1/sessions/s-1", headers=alice).json()["state"] == {"secret": "a"}
    refused(jwt_api.get(f"/v1/runs/{theirs.json()['run_id']}", headers=bob), 404)
    assert jwt_api.get(f"/v1/runs/{first['run_id']}", headers=alice).status_code == 200


def test_background_run_events_are_tenant_scoped_while_it_runs(
    jwt_api: httpx.Client, gates: Path
) -> None:
    run_id = jwt_api.post(
        "/v1/agents/gated/runs", json={"input": "t", "background": True}, headers=good()
    ).json()["run_id"]
    refused(jwt_api.get(f"/v1/runs/{run_id}/events", headers=good("eve", tenant="evil")), 404)
    refused(jwt_api.get(f"/v1/runs/{run_id}", headers=good("eve", tenant="evil")), 404)
    refused(jwt_api.post(f"/v1/runs/{run_id}/cancel", headers=good("bob")), 404)
    (gates / "t").touch()


def test_rs256_public_key_and_es256_jwks(serve, tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    key_file = tmp_path / "public.pem"
    key_file.write_bytes(pem)
    api = serve(auth="jwt", jwt_public_key=str(key_file))[1]
    ok = token(key=rsa_key, algorithm="RS256")
    assert api.get("/v1/agents", headers=bearer(ok)).status_code == 200
    refused(api.get("/v1/agents", headers=bearer(token())))  # HS256 is not accepted here

    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    jwk.update(kid="k1", use="sig", alg="ES256")
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [jwk]}))
    api = serve(auth="jwt", jwt_jwks_file=str(jwks))[1]
    signed = token(key=ec_key, algorithm="ES256", headers={"kid": "k1"})
    assert api.get("/v1/agents", headers=bearer(signed)).status_code == 200
    unknown = token(key=ec_key, algorithm="ES256", headers={"kid": "k2"})
    assert "kid" in refused(api.get("/v1/agents", headers=bearer(unknown)))["detail"]
    other = ec.generate_private_key(ec.SECP256R1())
    forged = token(key=other, algorithm="ES256", headers={"kid": "k1"})
    refused(api.get("/v1/agents", headers=bearer(forged)))


def test_required_tenant_claim(serve) -> None:
    api = serve(auth="jwt", jwt_secret=SECRET, jwt_require_tenant=True, jwt_tenant_claim="org")[1]
    refused(api.get("/v1/agents", headers=bearer(token(tenant=None))))
    assert api.get("/v1/agents", headers=bearer(token(tenant=None, org="acme"))).status_code == 200


def test_the_secret_never_shows(serve) -> None:
    from covey.runtime import RuntimeSettings

    settings = RuntimeSettings(auth="jwt", jwt_secret=SECRET, store="memory://")
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.model_dump())
    assert SECRET not in settings.model_dump_json()
