"""The scope rules of `covey.spec.store`, as small checks on one row's `user_id`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from covey.spec.errors import InvalidInputError
from covey.spec.store import Scope, check_id

__all__ = [
    "check_optional",
    "check_scope",
    "check_sequence",
    "check_type",
    "stamp",
    "visible",
    "writable",
]

T = TypeVar("T")


def check_type(value: object, cls: type[T], what: str) -> T:
    """`value` if it is a `cls`, else `InvalidInputError` (callers may ignore type hints)."""
    if not isinstance(value, cls):
        raise InvalidInputError(f"{what} must be a {cls.__name__}, got {type(value).__name__}")
    return value


def check_scope(scope: object) -> Scope:
    """`scope` if it is a `Scope`, else `InvalidInputError`."""
    return check_type(scope, Scope, "scope")


def check_sequence(value: object, what: str) -> Sequence[Any]:
    """`value` if it is a list-like sequence (not a string), else `InvalidInputError`."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidInputError(f"{what} must be a sequence, got {type(value).__name__}")
    return value  # pyright: ignore[reportUnknownVariableType]


def check_optional(value: str | None, what: str) -> None:
    """Check an id that may be `None`."""
    if value is not None:
        check_id(value, what)


def stamp(scope: Scope, user_id: str | None, what: str) -> str | None:
    """The `user_id` a row written under `scope` gets.

    Raises:
        InvalidInputError: a user scope writes another user's row, or the id is malformed.
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


def visible(scope: Scope, user_id: str | None, *, shared: bool = False) -> bool:
    """Whether `scope` may read a row of `user_id` (`shared`: rows without a user are shared)."""
    if scope.user_id is None or user_id == scope.user_id:
        return True
    return shared and user_id is None


def writable(scope: Scope, user_id: str | None) -> bool:
    """Whether `scope` may change or delete a row of `user_id`."""
    return scope.user_id is None or user_id == scope.user_id
