"""Database errors, translated into Covey's `StoreError` family with the cause chained.

Drivers report the same problem in different words; this module reads the SQLSTATE code
(PostgreSQL, through asyncpg or psycopg) or the SQLite error text and picks the error a caller
can act on. Messages never carry a password or the statement's parameters (user data).
"""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy import exc as sa_exc

from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError, StoreError

__all__ = ["StoreUnavailableError", "translate_error"]


class StoreUnavailableError(StoreError):
    """The database could not be reached, or stayed busy or locked past the timeout.

    Retrying later may work; nothing was written.
    """


def _sqlstate(error: BaseException | None) -> str | None:
    """The SQLSTATE of a driver error, looking through SQLAlchemy's adapters."""
    seen = 0
    while error is not None and seen < 5:
        for attribute in ("sqlstate", "pgcode"):
            code = getattr(error, attribute, None)
            if isinstance(code, str) and len(code) == 5:
                return code
        error = error.__cause__ or error.__context__
        seen += 1
    return None


def _first_line(error: BaseException | None) -> str:
    if error is None:
        return ""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300]}" if text else type(error).__name__


def _scrub(text: str, secret: str | None) -> str:
    return text.replace(secret, "***") if secret else text


def translate_error(
    error: BaseException, *, action: str, where: str, password: str | None = None
) -> StoreError:
    """The `StoreError` to raise for a database error; the caller chains `error` as its cause.

    Args:
        error: What the driver or SQLAlchemy raised.
        action: What the store was doing, e.g. `"save_run"`.
        where: The masked database URL.
        password: The URL's password, removed from the message should a driver quote it.
    """
    orig: BaseException | None = error
    if isinstance(error, sa_exc.DBAPIError):
        orig = error.orig if isinstance(error.orig, BaseException) else error
    detail = _scrub(_first_line(orig), password)
    code = _sqlstate(orig)
    message = f"{action} failed on {where}: {detail}"
    text = str(orig).lower()

    if code is not None:
        if code == "23505":
            return ConflictError(f"{message}. A row with that key already exists.")
        if code == "23503":
            return NotFoundError(f"{message}. A row it refers to is gone.")
        if code in ("40001", "40P01"):
            return ConflictError(f"{message}. Another transaction got in the way; retry.")
        if code.startswith(("22", "54")) or code in ("23502", "23514"):
            return InvalidInputError(
                f"{message}. PostgreSQL refused the data (text and JSON cannot hold the NUL "
                "character \\u0000, for example); nothing was written."
            )
        if code.startswith(("28", "3D")):
            return StoreUnavailableError(
                f"{message}. Check the URL's user, password and database name."
            )
        if code.startswith(("08", "53", "57")):
            return StoreUnavailableError(f"{message}. Check the server and retry.")
        return StoreError(message)

    if isinstance(error, sa_exc.DataError):
        return InvalidInputError(
            f"{message}. The database refused the data (PostgreSQL text and JSON cannot hold "
            "the NUL character \\u0000, for example); nothing was written."
        )
    if isinstance(error, sa_exc.TimeoutError):
        return StoreUnavailableError(
            f"{action} waited too long for a free database connection on {where}; raise "
            "pool_size or pool_timeout, or lower the load"
        )
    if isinstance(error, sa_exc.IntegrityError) or isinstance(orig, sqlite3.IntegrityError):
        if "unique" in text or "primary key" in text:
            return ConflictError(f"{message}. A row with that key already exists.")
        if "foreign key" in text:
            return NotFoundError(f"{message}. A row it refers to is gone.")
        return InvalidInputError(f"{message}; nothing was written.")
    if isinstance(orig, sqlite3.OperationalError) and (
        "locked" in text or "busy" in text or "unable to open" in text
    ):
        return StoreUnavailableError(
            f"{message}. Another process held the database past busy_timeout, or the file "
            "cannot be opened; retry, or check the path and its permissions."
        )
    if isinstance(orig, sqlite3.DataError | OverflowError) or "too big" in text:
        return InvalidInputError(f"{message}; nothing was written.")
    if isinstance(orig, OSError | asyncio.TimeoutError | ConnectionError) or (
        isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated
    ):
        return StoreUnavailableError(f"{message}. Check that the database is running.")
    return StoreError(message)
