"""`ShellToolset`: one tool, `run_command`, that runs an argument vector without a shell."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, cast

import anyio
from pydantic import Field

from covey.spec.context import RunContext
from covey.spec.errors import ApprovalRequired, ConfigurationError, ModelRetry
from covey.spec.function_toolset import FunctionToolset, Tool
from covey.spec.tools import ToolDefinition, ToolResult, Toolset
from covey.tools.shell._policy import Policy, is_code_runner, parse_rules
from covey.tools.shell._process import run_process, safe_path

__all__ = ["DEFAULT_ENV_ALLOW", "ShellToolset"]

DEFAULT_ENV_ALLOW: tuple[str, ...] = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
)
"""Variables copied from the server's environment by default: none of them a secret."""

_MAX_ARGUMENTS = 1024
_MAX_ARGUMENT_BYTES = 128 * 1024


class ShellToolset(Toolset):
    """Runs programs for the model, from an allow-list; anything else waits for a person.

    The model calls `run_command(command=["git", "status"], cwd="sub/dir")`. `command` is an
    argument vector handed to the program as it is: no shell ever sees it, so `;`, `|`, `&&`,
    `$(...)`, backticks, globs and quotes are plain characters of an argument.

    - **Allowed** (runs at once): `argv` starts with an `allow` entry, no argument after that
      entry is an option listed in `covey.tools.shell.RISKY_OPTIONS` for the program (such as
      `find -exec` or `git -c`), and none names a path outside the working directory (with
      `confine_paths`): either needs approval.
    - **Approval**: anything else raises `covey.spec.errors.ApprovalRequired`; the run pauses
      and, once a person approves, the same call runs (`ctx.tool_call_approved`).
    - **Denied**: `argv` starts with a `deny` entry (the program compared by name, also against
      the file it resolves to): an error result, even when approved.

    The program is looked up on the safe PATH (the environment's PATH without relative entries,
    never the working directory), and run by its absolute path. A program given as a path (with
    a `/`) is never looked up and matches only an `allow` entry with that same absolute path.

    Args:
        allow: Program names (`"ls"`), absolute paths (`"/opt/bin/tool"`) or prefix vectors
            (`["git", "status"]`, any arguments after those). Empty (the default): every
            command needs approval.
        cwd: The working directory; commands run in it or in a subdirectory the model names
            (resolved, so `..` and symlinks cannot leave it).
        timeout: Seconds a command may run; then its whole process group is killed.
        max_output_bytes: Output (stdout and stderr together) kept per call: its first and last
            halves, with a marker giving the bytes dropped between them.
        env_allow: Variables copied from this process's environment (when set), read once when
            the toolset is made. Nothing else is, so API keys in the server's environment never
            reach a command.
        env: Fixed variables added to (or replacing) those; their values never appear in a
            repr or an error.
        deny: Entries as in `allow` that never run, even approved.
        allow_code_runners: Allow a shell, interpreter or command runner (`bash`, `python`,
            `env`, `xargs`, `awk`...) as a bare program name; refused by default, since that
            allows every command.
        confine_paths: An allowed call whose arguments name a path outside the working
            directory (`/etc/passwd`, `../x`, `--file=/x`, a symlink leading out) needs
            approval. Arguments are read as paths wherever they could be, so a pattern such as
            `/api/` is asked about too; `False` turns this off.
        max_concurrent: Commands of this toolset running at once; more calls wait their turn.
        id: The toolset's name (prefix when tool names clash).

    Raises:
        ConfigurationError: an entry is malformed, `cwd` is not a directory, a limit is not
            positive, or a code runner is allowed by name without `allow_code_runners`.
    """

    def __init__(
        self,
        allow: Iterable[str | Sequence[str]] = (),
        *,
        cwd: str | os.PathLike[str],
        timeout: float = 30.0,
        max_output_bytes: int = 32_000,
        env_allow: Iterable[str] = DEFAULT_ENV_ALLOW,
        env: Mapping[str, str] | None = None,
        deny: Iterable[str | Sequence[str]] = (),
        allow_code_runners: bool = False,
        confine_paths: bool = True,
        max_concurrent: int = 4,
        id: str = "shell",
    ) -> None:
        if os.name != "posix":
            raise ConfigurationError(
                "ShellToolset runs on POSIX systems (Linux, macOS): it relies on process groups "
                "to kill a command with everything it started."
            )
        self.id = id
        self._policy = Policy(allow=parse_rules(allow, "allow"), deny=parse_rules(deny, "deny"))
        if not allow_code_runners:
            for rule in self._policy.allow:
                if len(rule) == 1 and is_code_runner(rule[0]):
                    raise ConfigurationError(
                        f"allow entry {rule[0]!r} is a shell, interpreter or command runner: "
                        "allowing it by name allows every command. Allow a narrower prefix "
                        f"(such as [{rule[0]!r}, 'script.py']), leave it to approval, or pass "
                        "allow_code_runners=True if commands run in a sandbox."
                    )
        root = Path(cwd)
        try:
            self._root = root.resolve(strict=True)
        except OSError as e:
            raise ConfigurationError(f"cwd {str(root)!r} does not exist: {e.strerror}.") from e
        if not self._root.is_dir():
            raise ConfigurationError(f"cwd {str(root)!r} is not a directory.")
        if not timeout > 0:
            raise ConfigurationError(f"timeout must be a positive number of seconds: {timeout!r}")
        if max_output_bytes < 64:
            raise ConfigurationError(f"max_output_bytes must be at least 64: {max_output_bytes!r}")
        if max_concurrent < 1:
            raise ConfigurationError(f"max_concurrent must be at least 1: {max_concurrent!r}")
        self._confine_paths = confine_paths
        self._timeout = float(timeout)
        self._max_output_bytes = max_output_bytes
        self._limiter = anyio.CapacityLimiter(max_concurrent)
        extra = dict(env or {})
        for name, value in cast("dict[object, object]", extra).items():
            if not isinstance(name, str) or not isinstance(value, str) or "=" in name or not name:
                raise ConfigurationError(
                    f"env entries are variable names and string values; {name!r} is not valid."
                )
        names = tuple(env_allow)
        if isinstance(env_allow, str):
            raise ConfigurationError(
                f"env_allow is a sequence of names, got the string {env_allow!r}."
            )
        self._env_names = tuple(sorted({*names, *extra}))
        environ = {name: os.environ[name] for name in names if name in os.environ}
        environ.update(extra)
        environ["PATH"] = safe_path(environ.get("PATH"))
        self._environ = environ
        self._tools = FunctionToolset(
            [Tool(self._run_command, name="run_command", description=self._description())],
            id=id,
        )

    def __repr__(self) -> str:
        # Variable names only: values (tokens given in `env`) never appear.
        return (
            f"ShellToolset(allow={self._policy.describe_allowed()!r}, cwd={str(self._root)!r}, "
            f"timeout={self._timeout:g}, env_names={list(self._env_names)!r}, id={self.id!r})"
        )

    @property
    def cwd(self) -> Path:
        """The resolved working directory."""
        return self._root

    @property
    def policy(self) -> Policy:
        """The allow and deny rules."""
        return self._policy

    def _description(self) -> str:
        return (
            "Run a program directly, without a shell, and get its exit code and output (stdout "
            "and stderr together). `command` is the argument vector, one item per argument: "
            "pipes, redirections, `;`, `&&`, globs, `$VAR` and quotes are NOT interpreted. "
            f"Commands that run at once: {self._policy.describe_allowed()}. Any other command, "
            "options that run other programs, and paths outside the working directory wait for "
            "a person to approve them. Commands run in the working directory (`cwd` "
            f"names a subdirectory), with a {self._timeout:g} s time limit; long output is "
            "shortened in the middle."
        )

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        return await self._tools.list_tools(ctx)

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        return await self._tools.call_tool(name, args, ctx)

    async def _run_command(
        self,
        ctx: RunContext[Any],
        command: Annotated[list[str], Field(min_length=1)],
        cwd: str | None = None,
    ) -> ToolResult:
        """Run a program with an argument vector.

        Args:
            command: The program and its arguments, one item each, e.g. ["ls", "-la", "src"].
            cwd: A subdirectory of the working directory to run in, relative to it.
        """
        _check_argv(command)
        workdir = self._workdir(cwd)
        if isinstance(workdir, ToolResult):
            return workdir
        resolved = self._resolve(command[0], workdir)
        confine = (str(self._root), str(workdir)) if self._confine_paths else None
        decision = self._policy.decide(command, resolved, confine=confine)
        if decision.verdict == "deny":
            return ToolResult(content=decision.reason, is_error=True)
        if resolved is None:
            where = "" if "/" in command[0] else " on the PATH"
            return ToolResult(
                content=f"Program {command[0]!r} not found{where} (or not executable).",
                is_error=True,
            )
        if decision.verdict == "approve" and not ctx.tool_call_approved:
            raise ApprovalRequired(decision.reason)
        async with self._limiter:
            try:
                outcome = await run_process(
                    [resolved, *command[1:]],
                    cwd=str(workdir),
                    env=self._environ,
                    timeout=self._timeout,
                    max_output_bytes=self._max_output_bytes,
                )
            except OSError as e:
                return ToolResult(
                    content=f"Could not start {command[0]!r}: {e.strerror or e}.", is_error=True
                )
        content: dict[str, Any] = {
            "exit_code": outcome.exit_code,
            "output": outcome.output,
            "truncated": outcome.truncated,
            "timed_out": outcome.timed_out,
        }
        if outcome.timed_out:
            content["error"] = (
                f"The command ran past the {self._timeout:g} s time limit and was killed "
                "(with every process it started); the output is what it printed until then."
            )
        # A non-zero exit is information (grep found nothing, diff found differences), not a
        # failure of the tool; only a command stopped at the time limit is an error.
        return ToolResult(content=content, is_error=outcome.timed_out)

    def _workdir(self, cwd: str | None) -> Path | ToolResult:
        if cwd is None or cwd in ("", "."):
            return self._root
        if "\0" in cwd or os.path.isabs(cwd):
            return ToolResult(
                content=f"cwd must be a path relative to the working directory, not {cwd!r}.",
                is_error=True,
            )
        try:
            path = (self._root / cwd).resolve(strict=True)
        except OSError:
            return ToolResult(content=f"cwd {cwd!r} does not exist.", is_error=True)
        if not path.is_relative_to(self._root):
            return ToolResult(
                content=f"cwd {cwd!r} is outside the working directory.", is_error=True
            )
        if not path.is_dir():
            return ToolResult(content=f"cwd {cwd!r} is not a directory.", is_error=True)
        return path

    def _resolve(self, program: str, workdir: Path) -> str | None:
        """The executable `program` names: on the safe PATH, or a path (relative to `workdir`)."""
        if "/" in program:
            path = program if os.path.isabs(program) else str(workdir / program)
            return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
        found = shutil.which(program, path=self._environ["PATH"])
        return os.path.abspath(found) if found else None


def _check_argv(command: list[str]) -> None:
    if not command[0]:
        raise ModelRetry("command[0] is empty: give the program's name first.")
    if len(command) > _MAX_ARGUMENTS:
        raise ModelRetry(f"command has {len(command)} arguments; at most {_MAX_ARGUMENTS}.")
    if sum(len(a.encode("utf-8", "surrogatepass")) for a in command) > _MAX_ARGUMENT_BYTES:
        raise ModelRetry(f"command is longer than {_MAX_ARGUMENT_BYTES} bytes in all.")
    for i, argument in enumerate(command):
        if "\0" in argument:
            raise ModelRetry(f"command[{i}] contains a NUL character, which no argument can hold.")
