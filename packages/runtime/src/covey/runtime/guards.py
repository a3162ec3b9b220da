"""Authentication middleware and the scope guard.

The middleware turns the bearer token into a `Principal` (`connection.user`) on every route but
health, readiness and the OpenAPI schema; with auth off every caller is the anonymous principal
of tenant `default`. Each route names the scope it needs in `opt={"scope": ...}`.
"""

from __future__ import annotations

from typing import Any, cast

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.middleware.base import DefineMiddleware

from covey.runtime.auth import AuthError, Principal, TokenVerifier, anonymous, parse_bearer

__all__ = ["PUBLIC_PATHS", "AuthMiddleware", "auth_middleware", "principal_of", "require_scope"]

PUBLIC_PATHS = ("^/health$", "^/ready$", "^/schema", "^/console", "^/$")
"""Paths served without a token: probes, the OpenAPI document and the console's files (they
hold no data; every API call the console makes needs the token)."""


class AuthMiddleware(AbstractAuthenticationMiddleware):
    """Sets `connection.user` to the caller's `Principal`, or answers 401."""

    verifier: TokenVerifier | None = None

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        """Verify the bearer token (none needed when auth is off)."""
        verifier = self.verifier
        if verifier is None:
            return AuthenticationResult(user=anonymous(), auth=None)
        try:
            principal = verifier.verify(parse_bearer(connection.headers.get("authorization")))
        except AuthError as exc:
            raise NotAuthorizedException(
                detail=str(exc),
                headers={
                    "WWW-Authenticate": f'Bearer realm="covey", error="invalid_token", '
                    f'error_description="{exc.reason}"'
                },
            ) from None
        return AuthenticationResult(user=principal, auth=None)


def auth_middleware(verifier: TokenVerifier | None) -> DefineMiddleware:
    """The middleware, bound to `verifier` (`None`: auth off)."""

    class _Bound(AuthMiddleware):
        pass

    _Bound.verifier = verifier
    return DefineMiddleware(_Bound, exclude=list(PUBLIC_PATHS))


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The caller of an authenticated connection."""
    user = cast("dict[str, Any]", connection.scope).get("user")
    if not isinstance(user, Principal):
        raise NotAuthorizedException(detail="Not authenticated")
    return user


def require_scope(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Guard: the caller must hold the scope the route names in `opt["scope"]`."""
    needed = handler.opt.get("scope")
    if needed is None:
        return
    if not principal_of(connection).allows(str(needed)):
        raise PermissionDeniedException(detail=f"This needs the {needed!r} scope (or 'admin')")
