"""`SqlStore`: the `covey.spec.store.Store` on SQLite or PostgreSQL, one code path for both.

Each method checks its input and builds its statements, then runs one synchronous transaction
function over a SQLAlchemy `Connection` through the backend's runner (`covey.db.sql.runners`).
"""

from __future__ import annotations

from covey.db.sql.store_core import DEFAULT_MAX_JSON_BYTES
from covey.db.sql.store_core import R as R  # the type variables this module always had
from covey.db.sql.store_core import T as T
from covey.db.sql.store_directory import SqlDirectory
from covey.db.sql.store_knowledge import SqlKnowledge
from covey.db.sql.store_memories import SqlMemories
from covey.db.sql.store_operations import SqlOperations
from covey.db.sql.store_runs import SqlRuns
from covey.db.sql.store_sessions import SqlSessions

__all__ = ["DEFAULT_MAX_JSON_BYTES", "SqlStore"]


class SqlStore(SqlSessions, SqlRuns, SqlMemories, SqlDirectory, SqlKnowledge, SqlOperations):
    """A `Store` in SQLite (default) or PostgreSQL.

    Constructing it does no I/O. The first call connects, and (with `auto_migrate`) creates or
    upgrades the schema under a database-wide lock. Use it as an async context manager, or
    call `close`. One store serves many concurrent tasks; it belongs to one event loop at a
    time, and moves to a new one when used from it (successive `run_sync` calls, for example).

    Args:
        url: `sqlite:///path/to/covey.db` or `postgresql://user:password@host:5432/db`
            (see `covey.db.sql.urls`).
        pool_size: Connections kept open.
        max_overflow: Extra connections allowed under load.
        pool_timeout: Seconds to wait for a free connection.
        pool_recycle: Seconds after which a PostgreSQL connection is replaced.
        pool_pre_ping: Check PostgreSQL connections before use (survives server restarts).
        connect_timeout: Seconds to wait when opening a PostgreSQL connection.
        statement_timeout: Seconds a PostgreSQL statement may run (`None`: server default).
        busy_timeout: Seconds SQLite waits for another process's write lock.
        inline: SQLite: run each transaction on the event loop first, without waiting for any
            lock, and in a worker thread only when the database is busy or the read is large
            (see `covey.db.sql.runners`). `False`: every transaction in a worker thread (for a
            database on a slow or network file system, where even a free transaction is slow).
        max_json_bytes: The largest JSON payload one row may hold; larger writes raise
            `InvalidInputError`.
        auto_migrate: Create or upgrade the schema on first use. With `False`, a database not
            at the latest version raises `SchemaVersionError` until `migrate` is run.
        echo: Log every statement through the `sqlalchemy.engine` logger.

    Raises:
        ConfigurationError: the URL or an option is invalid.

    Example:
        ```python
        async with SqlStore("sqlite:///covey.db") as store:
            session = await store.save_session(Scope(), Session(), expected_version=0)
        ```
    """
