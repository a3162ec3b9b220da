"""The scope rules of `covey.spec.store`, as SQL conditions and write-time checks.

Every statement the store runs is filtered by one of these conditions: `tenant_id` always, and
`user_id` for user scopes (shared rows aside, for reading). `visible` and `writable` hold one
scope's ids; `visible_to` and `writable_by` serve every scope of one shape (tenant-wide, or one
user), taking the ids as parameters (`scope_params`), for statements built once and reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import BindParameter, ColumnElement, String, Table, and_, bindparam, or_

from covey.spec.errors import InvalidInputError
from covey.spec.store import Scope, check_id

__all__ = [
    "SCOPE_TENANT",
    "SCOPE_USER",
    "check_optional",
    "check_scope",
    "check_sequence",
    "check_type",
    "scope_params",
    "stamp",
    "visible",
    "visible_to",
    "writable",
    "writable_by",
]

SCOPE_TENANT = "scope_tenant_id"
SCOPE_USER = "scope_user_id"
"""The parameter names of `visible_to` and `writable_by` (never a column's name)."""

T = TypeVar("T")


def check_type(value: object, cls: type[T], what: str) -> T:
    """`value` if it is a `cls`, else `InvalidInputError` (callers may ignore type hints)."""
    if not isinstance(value, cls):
        raise InvalidInputError(f"{what} must be a {cls.__name__}, got {type(value).__name__}")
    return value


def check_sequence(value: object, what: str) -> Sequence[Any]:
    """`value` if it is a list-like sequence (not a string), else `InvalidInputError`."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidInputError(f"{what} must be a sequence, got {type(value).__name__}")
    return value  # pyright: ignore[reportUnknownVariableType]


def check_scope(scope: object) -> Scope:
    """`scope` if it is a `Scope`, else `InvalidInputError`."""
    return check_type(scope, Scope, "scope")


def check_optional(value: str | None, what: str) -> None:
    """Check an id that may be `None`."""
    if value is not None:
        check_id(value, what)


def stamp(scope: Scope, user_id: str | None, what: str) -> str | None:
    """The `user_id` a row written under `scope` gets.

    Raises:
        InvalidInputError: a user scope writes a row of another user, or the id is malformed.
    """
    if scope.user_id is None:
        check_optional(user_id, f"{what}.user_id")
        return user_id
    if user_id is None:
        return scope.user_id
    if user_id != scope.user_id:
        raise InvalidInputError(
            f"{what}.user_id is {user_id!r}, but the scope is user {scope.user_id!r}; a user "
            "scope can only write its own rows (use a tenant-wide scope for admin work)"
        )
    return user_id


def visible(table: Table, scope: Scope, *, shared: bool = False) -> ColumnElement[bool]:
    """Rows of `table` that `scope` may read (`shared`: rows without a user too)."""
    return _rows(table, scope.tenant_id, scope.user_id, shared=shared)


def writable(table: Table, scope: Scope) -> ColumnElement[bool]:
    """Rows of `table` that `scope` may change or delete."""
    return visible(table, scope)


def visible_to(table: Table, *, user_scoped: bool, shared: bool = False) -> ColumnElement[bool]:
    """`visible` for any scope of one shape; run the statement with `scope_params(scope)`."""
    user = bindparam(SCOPE_USER, type_=String()) if user_scoped else None
    return _rows(table, bindparam(SCOPE_TENANT, type_=String()), user, shared=shared)


def writable_by(table: Table, *, user_scoped: bool) -> ColumnElement[bool]:
    """`writable` for any scope of one shape; run the statement with `scope_params(scope)`."""
    return visible_to(table, user_scoped=user_scoped)


def scope_params(scope: Scope) -> dict[str, str | None]:
    """The parameters of a statement filtered by `visible_to` or `writable_by`."""
    return {SCOPE_TENANT: scope.tenant_id, SCOPE_USER: scope.user_id}


def _rows(
    table: Table,
    tenant_id: str | BindParameter[str],
    user_id: str | BindParameter[str] | None,
    *,
    shared: bool,
) -> ColumnElement[bool]:
    tenant = table.c.tenant_id == tenant_id
    if user_id is None:
        return tenant
    own = table.c.user_id == user_id
    if shared:
        return and_(tenant, or_(own, table.c.user_id.is_(None)))
    return and_(tenant, own)
