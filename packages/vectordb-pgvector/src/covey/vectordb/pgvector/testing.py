"""`PgVectorServer`: a throwaway PostgreSQL 16 + pgvector, for tests, benchmarks and laptops.

It runs the PostgreSQL that the [`pgserver`](https://pypi.org/project/pgserver/) wheel bundles
with pgvector (no system install: many Linux distributions package no pgvector), in a fresh
temporary directory, listening on a Unix socket only, and deletes everything when stopped. It
needs the `testing` extra: `pip install covey-vectordb-pgvector[testing]`.

```python
with PgVectorServer() as server:
    store = PgVectorStore(server.create_database())
```
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
import warnings
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, quote, urlsplit

__all__ = ["PgVectorServer"]


def _pgserver() -> Any:
    try:
        with warnings.catch_warnings():
            # pgserver picks its lock directory on import and warns when XDG_RUNTIME_DIR is unset.
            warnings.simplefilter("ignore")
            import pgserver  # pyright: ignore[reportMissingTypeStubs]
    except ModuleNotFoundError as error:
        if error.name != "pgserver":
            raise
        raise ImportError(
            "covey.vectordb.pgvector.testing needs pgserver: "
            "pip install covey-vectordb-pgvector[testing]"
        ) from error
    return pgserver


class PgVectorServer:
    """A private PostgreSQL 16 server with pgvector; a context manager that starts and removes it.

    Under root, pgserver runs the server as a system user of its own (`pgserver`), which it
    creates when missing.
    """

    def __init__(self) -> None:
        self._directory: str | None = None
        self._server: Any = None
        self.socket_dir: str | None = None
        """The directory of the server's Unix socket, once started."""

    def __repr__(self) -> str:
        state = "running" if self._server is not None else "stopped"
        return f"PgVectorServer({state})"

    def start(self) -> Self:
        """Create the cluster and start the server (a second or so)."""
        if self._server is not None:
            return self
        pgserver = _pgserver()
        # Not under pytest's tmp_path: a pytest starting elsewhere resets that tree to mode
        # 0700, and under root the server's own user must keep access to its directory.
        self._directory = tempfile.mkdtemp(prefix="covey-pgvector-")
        try:
            self._server = pgserver.get_server(f"{self._directory}/data", cleanup_mode="delete")
            uri: str = self._server.get_uri()
            [host] = parse_qs(urlsplit(uri).query)["host"]
            self.socket_dir = host
        except BaseException:
            self.stop()
            raise
        return self

    def url(self, database: str = "postgres") -> str:
        """The `postgresql+pgvector://` URL of `database` on this server."""
        if self.socket_dir is None:
            raise RuntimeError("PgVectorServer is not started: use `with PgVectorServer() as s:`")
        return f"postgresql+pgvector://postgres@/{database}?host={quote(self.socket_dir)}"

    def create_database(self) -> str:
        """A new, empty database with a random name; returns its URL."""
        if self._server is None:
            raise RuntimeError("PgVectorServer is not started: use `with PgVectorServer() as s:`")
        name = f"v_{uuid.uuid4().hex[:16]}"
        self._server.psql(f'CREATE DATABASE "{name}";')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and delete its files. Safe to call twice."""
        server, self._server = self._server, None
        try:
            if server is not None:
                server.cleanup()
        finally:
            if self._directory is not None:
                shutil.rmtree(self._directory, ignore_errors=True)
                self._directory = None
            self.socket_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
