"""`PostgresCluster`: a throwaway PostgreSQL server on loopback, for tests and benchmarks.

It runs the PostgreSQL server binaries installed on the machine (Debian's `postgresql`
package: `/usr/lib/postgresql/<version>/bin`), in a fresh temporary directory, on a free
loopback port, with `trust` authentication, and removes everything when stopped. PostgreSQL
refuses to run as root, so under root the cluster runs as the `postgres` system user.

```python
with PostgresCluster() as cluster:
    url = cluster.create_database("covey_test")
    store = SqlStore(url)
```
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

from covey.spec.errors import ConfigurationError

__all__ = ["PostgresCluster", "PostgresUnavailableError", "find_postgres_bin"]

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresUnavailableError(ConfigurationError):
    """The PostgreSQL server binaries are missing, or the cluster failed to start."""


def find_postgres_bin() -> Path | None:
    """The newest `.../bin` holding `initdb` and `pg_ctl`, or `None` when none is installed.

    Looks at `COVEY_PG_BIN` first, then Debian's `/usr/lib/postgresql/*/bin`, then `PATH`.
    """
    candidates: list[Path] = []
    if os.environ.get("COVEY_PG_BIN"):
        candidates.append(Path(os.environ["COVEY_PG_BIN"]))

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", path.parent.name)) or (0,)

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """A private PostgreSQL cluster; a context manager that starts and removes it.

    Args:
        bin_dir: The server binaries (default: `find_postgres_bin()`).
        port: The loopback port (default: a free one).
        settings: Extra server settings (`-c name=value`), e.g. `{"fsync": "off"}` for tests.
        start_timeout: Seconds to wait for the server to accept connections.

    Raises:
        PostgresUnavailableError: no server binaries are installed (`make system-deps`
            installs them on Debian), or the cluster cannot be created or started.
    """

    def __init__(
        self,
        *,
        bin_dir: Path | None = None,
        port: int | None = None,
        settings: dict[str, str] | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        found = bin_dir or find_postgres_bin()
        if found is None:
            raise PostgresUnavailableError(
                "No PostgreSQL server binaries (initdb, pg_ctl) found. Install them with "
                "`make system-deps` (Debian: apt-get install postgresql), or set COVEY_PG_BIN."
            )
        self.bin_dir = found
        self.port = port or _free_port()
        self.settings = dict(settings or {})
        self.start_timeout = start_timeout
        self.directory: Path | None = None
        self._as_postgres = hasattr(os, "geteuid") and os.geteuid() == 0
        self._running = False

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"PostgresCluster(port={self.port}, {state})"

    @property
    def user(self) -> str:
        """The database superuser the cluster was created with."""
        return "postgres" if self._as_postgres else _current_user()

    def url(self, database: str = "postgres") -> str:
        """A `postgresql://` URL of `database` on this cluster (no password: trust auth)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, cwd="/"
        )

    def start(self) -> Self:
        """Create the cluster and start the server; returns once it accepts connections.

        Raises:
            PostgresUnavailableError: initdb or the server failed (the message has its output).
        """
        if self._running:
            return self
        self.directory = Path(tempfile.mkdtemp(prefix="covey-pg-"))
        try:
            if self._as_postgres:
                shutil.chown(self.directory, "postgres", "postgres")
            data = self.directory / "data"
            init = self._run(
                str(self.bin_dir / "initdb"),
                "-D",
                str(data),
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "-U",
                self.user,
            )
            if init.returncode != 0:
                raise PostgresUnavailableError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
            options = [
                f"-p {self.port}",
                f"-k {self.directory}",
                "-c listen_addresses=127.0.0.1",
                *(f"-c {k}={v}" for k, v in self.settings.items()),
            ]
            started = self._run(
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                " ".join(options),
                "-l",
                str(self.directory / "server.log"),
                "-w",
                "-t",
                str(int(self.start_timeout)),
                "start",
                timeout=self.start_timeout + 30,
            )
            if started.returncode != 0:
                log = self.directory / "server.log"
                tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
                raise PostgresUnavailableError(
                    f"PostgreSQL did not start on port {self.port}:\n{started.stdout}\n"
                    f"{started.stderr}\n{tail}"
                )
        except BaseException:
            self._remove()
            raise
        self._running = True
        return self

    def stop(self) -> None:
        """Stop the server and delete its files. Safe to call twice."""
        if self._running and self.directory is not None:
            self._run(
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.directory / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            )
        self._running = False
        self._remove()

    def _remove(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    def _psql(self, sql: str) -> None:
        psql = self.bin_dir / "psql"
        if not psql.is_file():
            psql = Path(shutil.which("psql") or "psql")
        done = self._run(
            str(psql),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.user,
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            sql,
        )
        if done.returncode != 0:
            raise PostgresUnavailableError(f"psql failed: {done.stderr.strip()}")

    def create_database(self, name: str) -> str:
        """Create an empty database and return its URL.

        Args:
            name: A lower-case identifier (letters, digits, `_`).
        """
        if not _NAME.match(name):
            raise ValueError(f"database name {name!r} must match {_NAME.pattern}")
        self._psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database (closing its connections first)."""
        if not _NAME.match(name):
            raise ValueError(f"database name {name!r} must match {_NAME.pattern}")
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _current_user() -> str:
    import getpass

    return getpass.getuser()
