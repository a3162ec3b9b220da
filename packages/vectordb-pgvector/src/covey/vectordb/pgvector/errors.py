"""Driver errors translated into Covey's errors, without a password or a bound value in them.

PostgreSQL reports what went wrong by SQLSTATE: class `22` (a value it cannot take: a NUL
character, a number out of range) is the caller's input; `08` and a refused socket mean the
server is out of reach. The engine hides statement parameters, so messages never quote data.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import exc as sa_exc

from covey.spec.errors import ConfigurationError, CoveyError, InvalidInputError, VectorStoreError

__all__ = ["PgVectorUnavailableError", "sqlstate", "translate_error"]


class PgVectorUnavailableError(VectorStoreError):
    """PostgreSQL could not be reached, or refused the connection. Nothing was written."""


def sqlstate(error: BaseException | None) -> str | None:
    """The SQLSTATE of a driver error, looking through SQLAlchemy's adapters."""
    seen = 0
    while error is not None and seen < 5:
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(code, str) and len(code) == 5:
            return code
        error = error.__cause__ or error.__context__
        seen += 1
    return None


def _reason(error: BaseException) -> str:
    inner = error.orig if isinstance(error, sa_exc.DBAPIError) and error.orig else error
    lines = str(inner).strip().splitlines()
    return lines[0][:300] if lines else type(inner).__name__


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def translate_error(
    error: BaseException, *, action: str, where: str, password: str | None
) -> CoveyError:
    """The error to raise for what the driver raised while doing `action` on `where`.

    Args:
        error: The driver's or SQLAlchemy's error.
        action: What the store was doing, e.g. `"upsert into 'docs'"`.
        where: The masked URL.
        password: The URL's password, removed from the message should a driver quote it.
    """
    if isinstance(error, CoveyError):
        return error
    reason = _scrub(_reason(error), password)
    code = sqlstate(error)
    if isinstance(error, UnicodeEncodeError):
        return InvalidInputError(f"{action}: a string is not valid UTF-8 ({error.reason})")
    if code is not None and code.startswith("22"):
        return InvalidInputError(f"{action}: PostgreSQL refused a value: {reason}")
    if code == "28P01" or (code or "").startswith("28"):
        return PgVectorUnavailableError(
            f"{action}: PostgreSQL at {where} refused the credentials ({reason})"
        )
    if (
        (code or "").startswith(("08", "57P"))
        or isinstance(error, OSError | asyncio.TimeoutError)
        or (isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated)
        or (isinstance(error, sa_exc.DBAPIError) and isinstance(error.orig, OSError))
    ):
        return PgVectorUnavailableError(
            f"{action}: cannot reach PostgreSQL at {where} ({reason}). Check that the server "
            "is running and the URL is right."
        )
    if code == "3D000":
        return ConfigurationError(f"{action}: {reason} (on the server at {where})")
    suffix = f" [SQLSTATE {code}]" if code else ""
    return VectorStoreError(f"{action}: PostgreSQL error: {reason}{suffix}")
