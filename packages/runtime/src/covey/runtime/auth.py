"""JWT bearer authentication: who is calling, for which tenant, with which scopes.

A token's `sub` is the user, a configurable claim (default `tenant`) the tenant, and its
`scope` (or `scp`) claim the scopes. The user id never comes from a request body.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from covey.runtime.config import RuntimeSettings
from covey.spec.errors import ConfigurationError
from covey.spec.store import Scope, check_id

__all__ = ["SCOPES", "AuthError", "Principal", "TokenVerifier", "anonymous", "parse_bearer"]

SCOPES = (
    "agents:read",
    "agents:run",
    "runs:read",
    "runs:write",
    "sessions:read",
    "sessions:write",
    "knowledge:read",
    "knowledge:write",
    "memories:read",
    "memories:write",
    "schedules:read",
    "schedules:write",
    "admin",
)
"""Every scope a token may carry; `admin` implies all the others and sees the whole tenant."""


class AuthError(Exception):
    """A request's credentials were refused; `reason` is a stable code, the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a user of a tenant, with scopes.

    Attributes:
        user_id: The token's `sub`; `None` when auth is off.
        tenant_id: The tenant whose rows the caller reaches.
        scopes: What the caller may do.
    """

    user_id: str | None
    tenant_id: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """Whether the caller holds `scope` (or `admin`)."""
        return "admin" in self.scopes or scope in self.scopes

    @property
    def is_admin(self) -> bool:
        """Whether the caller holds `admin`."""
        return "admin" in self.scopes

    @property
    def read_scope(self) -> Scope:
        """The store scope for reads: the caller's own rows (admins: the whole tenant)."""
        return Scope(self.tenant_id, None if self.is_admin else self.user_id)

    @property
    def write_scope(self) -> Scope:
        """The store scope new runs are written under: the caller's tenant and user."""
        return Scope(self.tenant_id, self.user_id)


def anonymous() -> Principal:
    """The caller when auth is off: tenant `default`, no user, every scope."""
    return Principal(user_id=None, tenant_id="default", scopes=frozenset(SCOPES))


class TokenVerifier:
    """Checks bearer tokens against the configured key, algorithms, audience and issuer.

    Args:
        settings: The runtime settings (`auth = "jwt"` and one key source).

    Raises:
        ConfigurationError: the key or JWKS file cannot be read.
    """

    __slots__ = ("_algorithms", "_audience", "_issuer", "_jwks", "_key", "_settings")

    def __init__(self, settings: RuntimeSettings) -> None:
        import jwt

        self._settings = settings
        self._algorithms = settings.algorithms
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._key: Any = None
        self._jwks: dict[str | None, Any] = {}
        if settings.jwt_secret is not None:
            self._key = settings.jwt_secret.get_secret_value()
        elif settings.jwt_public_key is not None:
            self._key = _public_key(settings.jwt_public_key, settings.base_dir)
        elif settings.jwt_jwks_file is not None:
            path = settings.jwt_jwks_file
            try:
                keyset = jwt.PyJWKSet.from_json(path.read_text(encoding="utf-8"))
            except (OSError, ValueError, jwt.PyJWTError) as exc:
                raise ConfigurationError(
                    f"jwt_jwks_file {str(path)!r} is not a readable JWKS file: {exc}"
                ) from None
            for key in keyset.keys:
                self._jwks[key.key_id] = key.key
        else:
            raise ConfigurationError(
                "auth = 'jwt' needs jwt_secret, jwt_public_key or jwt_jwks_file"
            )

    def _signing_key(self, token: str) -> Any:
        import jwt

        if not self._jwks:
            return self._key
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed", "The bearer token is not a JWT") from None
        kid = header.get("kid")
        if kid in self._jwks:
            return self._jwks[kid]
        if kid is None and len(self._jwks) == 1:
            return next(iter(self._jwks.values()))
        raise AuthError("unknown_key", "The token's key id (kid) is not in the JWKS")

    def verify(self, token: str) -> Principal:
        """The principal a valid token names.

        Raises:
            AuthError: the token is malformed, badly signed, expired, not yet valid, for another
                audience or issuer, or lacks `sub` or a required tenant.
        """
        import jwt

        key = self._signing_key(token)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._settings.jwt_leeway,
                options={"require": ["exp", "sub"], "verify_sub": False},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("expired", "The token has expired (exp)") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("not_yet_valid", "The token is not valid yet (nbf/iat)") from None
        except jwt.InvalidAudienceError:
            raise AuthError("audience", "The token is for another audience (aud)") from None
        except jwt.InvalidIssuerError:
            raise AuthError("issuer", "The token comes from another issuer (iss)") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError("claims", f"The token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidSignatureError:
            raise AuthError("signature", "The token's signature does not verify") from None
        except jwt.InvalidAlgorithmError:
            raise AuthError(
                "algorithm", "The token is signed with an algorithm not accepted"
            ) from None
        except jwt.DecodeError:
            raise AuthError("malformed", "The bearer token is not a well-formed JWT") from None
        except jwt.PyJWTError as exc:
            raise AuthError("invalid", f"The token was refused: {type(exc).__name__}") from None
        return self._principal(claims)

    def _principal(self, claims: dict[str, Any]) -> Principal:
        settings = self._settings
        subject = claims.get("sub")
        tenant = claims.get(settings.jwt_tenant_claim)
        if tenant is None:
            if settings.jwt_require_tenant:
                raise AuthError(
                    "claims", f"The token lacks the {settings.jwt_tenant_claim!r} claim"
                )
            tenant = "default"
        try:
            check_id(subject, "sub")
            check_id(tenant, settings.jwt_tenant_claim)
        except Exception as exc:
            raise AuthError("claims", f"The token's claims are invalid: {exc}") from None
        raw = claims.get(settings.jwt_scope_claim, claims.get("scp", ""))
        if isinstance(raw, str):
            scopes = frozenset(raw.split())
        elif isinstance(raw, list):
            scopes = frozenset(str(s) for s in cast("list[Any]", raw))
        else:
            scopes = frozenset[str]()
        return Principal(user_id=str(subject), tenant_id=str(tenant), scopes=scopes)


def _public_key(value: str, base_dir: Path) -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    text = value
    if "-----BEGIN" not in value:
        path = Path(value)
        if not path.is_absolute():
            path = base_dir / path
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"jwt_public_key: cannot read {str(path)!r} ({exc.strerror}); give the PEM text "
                "or the path of a PEM file"
            ) from None
    try:
        return load_pem_public_key(text.encode())
    except ValueError:
        raise ConfigurationError(
            "jwt_public_key is not a PEM public key ('-----BEGIN PUBLIC KEY-----...')"
        ) from None


def parse_bearer(header: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header.

    Raises:
        AuthError: the header is missing or not a bearer token.
    """
    if not header:
        raise AuthError("missing", "No bearer token: send 'Authorization: Bearer <token>'")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("malformed", "The Authorization header is not 'Bearer <token>'")
    return token.strip()
