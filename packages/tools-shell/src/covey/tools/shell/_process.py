"""Running one argument vector: a clean environment, its own process group, bounded output.

Why a process group: a command may start children (`make` runs compilers, a test runner runs
workers). Started with `start_new_session=True`, the command leads a new session and process
group, and `os.killpg` on that group reaches every descendant that did not leave it on purpose.
The group is killed when the call ends, whatever ended it (exit, timeout, cancellation): no
command outlives its call.

Why head and tail: the beginning of an output says what a command started doing and the end how
it finished (a test runner's summary, a compiler's last error); the middle is what a cap can
drop. The pipe is drained to the end so the command is never blocked on a full pipe, and only
`max_output_bytes` are kept in memory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import anyio
from anyio.abc import Process

__all__ = ["DEFAULT_PATH", "Outcome", "OutputCapture", "run_process", "safe_path"]

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
"""The PATH used when neither `env_allow` nor `env` gives one."""


def safe_path(path: str | None) -> str:
    """`path` without its relative entries (an empty entry, `.`, `bin`...): those are looked up
    from the working directory, where a model-written `ls` could be waiting."""
    kept = [entry for entry in (path or "").split(os.pathsep) if os.path.isabs(entry)]
    return os.pathsep.join(kept) if kept else DEFAULT_PATH


class OutputCapture:
    """Keeps the first and last bytes of a stream, at most `limit` in all, and counts the rest."""

    def __init__(self, limit: int) -> None:
        self._tail_limit = limit // 2
        self._head_limit = limit - self._tail_limit
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self._tail_limit:
            self._tail += chunk
            excess = len(self._tail) - self._tail_limit
            if excess > 0:
                del self._tail[:excess]

    @property
    def truncated(self) -> bool:
        return self.total > len(self._head) + len(self._tail)

    def text(self) -> str:
        """The output as text (invalid UTF-8 replaced), with a marker where bytes were dropped."""
        head = self._head.decode("utf-8", "replace")
        if not self.truncated:
            return head + self._tail.decode("utf-8", "replace")
        dropped = self.total - len(self._head) - len(self._tail)
        marker = f"\n[... {dropped} bytes of output omitted ...]\n"
        return head + marker + self._tail.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a command ended."""

    exit_code: int | None
    """The exit status; negative when a signal ended it (`-9` when killed at the timeout)."""
    output: str
    output_bytes: int
    truncated: bool
    timed_out: bool


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(pgid, signal.SIGKILL)


async def run_process(
    argv: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    timeout: float,  # noqa: ASYNC109 - the command's own limit, after which it is killed
    max_output_bytes: int,
) -> Outcome:
    """Run `argv` (argv[0] an absolute path) and collect what it prints, within `timeout`.

    Raises:
        OSError: the program could not be started (not executable, bad format...).
    """
    capture = OutputCapture(max_output_bytes)
    # Shielded: a cancellation arriving while asyncio is still wiring the pipes would drop the
    # process object and leave the command running with nobody to kill it.
    process: Process | None = None
    with anyio.CancelScope(shield=True):
        process = await anyio.open_process(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
        )
    assert process is not None
    stdout = process.stdout
    assert stdout is not None

    async def read() -> None:
        # Ends when every process holding the pipe has closed it or died.
        async for chunk in stdout:
            capture.add(chunk)

    timed_out = False
    try:
        with anyio.move_on_after(timeout) as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(read)
                await process.wait()
                # The command is done when it exits: what it left running (holding the pipe
                # open) goes with it.
                _kill_group(process.pid)
        timed_out = scope.cancelled_caught
    finally:
        # Also on cancellation and after a normal exit: children left behind die with the call.
        _kill_group(process.pid)
        with anyio.CancelScope(shield=True):
            await process.aclose()
    return Outcome(
        exit_code=process.returncode,
        output=capture.text(),
        output_bytes=capture.total,
        truncated=capture.truncated,
        timed_out=timed_out,
    )
