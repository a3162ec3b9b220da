"""Which argument vectors run without a person's approval, which need it, which never run.

A rule is a prefix vector: `("ls",)` allows `ls` with any arguments, `("git", "status")` allows
argument vectors that start with `git status`. Arguments after the prefix are free, except
options known to make an otherwise harmless program run another program or write a file of the
caller's choosing (`find -exec`, `git -c core.pager=...`, `tar --to-command`): a call carrying
one needs approval. That table is defence in depth, not a sandbox: it cannot know every program
and it errs on the side of asking (a false hit costs an approval, a miss costs a command).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from covey.spec.errors import ConfigurationError

__all__ = [
    "CODE_RUNNERS",
    "RISKY_OPTIONS",
    "Decision",
    "Policy",
    "is_code_runner",
    "outside_path",
    "parse_rules",
    "risky_argument",
]

Rule = tuple[str, ...]

CODE_RUNNERS: frozenset[str] = frozenset(
    {
        # shells and wrappers whose arguments are another command
        "sh", "bash", "dash", "zsh", "ksh", "fish", "csh", "tcsh", "busybox",
        "env", "xargs", "nice", "nohup", "timeout", "stdbuf", "time", "watch", "setsid",
        "sudo", "doas", "su", "runuser", "chroot", "unshare", "nsenter", "flock",
        "strace", "ltrace", "gdb", "script", "parallel", "ssh", "docker", "podman", "kubectl",
        "ionice", "taskset", "chrt", "prlimit", "setpriv", "systemd-run", "pkexec", "firejail",
        "bwrap", "proot", "crontab", "at", "batch", "xdg-open",
        # editors with a command mode
        "vi", "vim", "nvim", "view", "ex", "ed", "emacs",
        # languages whose arguments are a program (or scripts that are)
        "awk", "gawk", "mawk", "nawk", "sed", "perl", "ruby", "php", "lua", "node", "deno",
        "bun", "Rscript", "julia", "osascript", "tclsh", "expect", "uv", "uvx", "pipx", "npx",
    }
)  # fmt: skip
"""Programs whose arguments are themselves code or a command line: allowing one of these by
name allows every command, so `ShellToolset` refuses that unless told `allow_code_runners=True`.
"""

_INTERPRETER = re.compile(r"(python|pypy|pip|perl|ruby|php|node|lua)[0-9.]*")

RISKY_OPTIONS: Mapping[str, tuple[str, ...]] = {
    "find": (
        "-exec", "-execdir", "-ok", "-okdir", "-delete",
        "-fprint", "-fprint0", "-fprintf", "-fls",
    ),
    "git": (
        "-c", "--config-env", "--config", "--exec-path", "--upload-pack", "--receive-pack",
        "--exec", "--template", "--output", "-O", "--open-files-in-pager", "--ext-diff",
        "--extcmd", "--tool", "-x",
        # subcommands that run commands, or write configuration (aliases, core.fsmonitor,
        # core.hooksPath) that later commands run
        "config", "submodule", "bisect", "filter-branch", "difftool", "mergetool",
    ),
    "hg": ("--config", "--tool"),
    "make": ("--eval", "-E"),
    "rg": ("--pre",),
    "fd": ("-x", "--exec", "-X", "--exec-batch"),
    "scp": ("-S", "-o", "-F"),
    "sftp": ("-S", "-o", "-F", "-D"),
    "tar": (
        "--to-command", "--use-compress-program", "-I", "--checkpoint-action", "--info-script",
        "--new-volume-script", "-F", "--rsh-command", "--rmt-command",
    ),
    "rsync": ("-e", "--rsh", "--rsync-path"),
    "sort": ("--compress-program", "-o", "--output"),
    "zip": ("-T", "--test", "--unzip-command"),
    "man": ("-P", "--pager", "-H", "--html"),
    "curl": ("-o", "--output", "-O", "--remote-name", "-K", "--config", "--output-dir"),
    "wget": ("-O", "--output-document", "-o", "--output-file", "-e", "--execute", "-P"),
    "less": ("-o", "--log-file", "-O", "--LOG-FILE"),
    "dd": ("of=",),
}  # fmt: skip
"""Per program: options (and a few operands: `dd`'s `of=`, git's subcommands) that run another
program or write a file the caller names, or configuration that later calls run. A call of an
allowed program carrying one needs approval. Entries without a dash match a whole argument."""

_CLUSTER = re.compile(r"-[A-Za-z]+")


def is_code_runner(program: str) -> bool:
    """Whether allowing `program` by name would allow any command (a shell, an interpreter...)."""
    name = os.path.basename(program)
    return name in CODE_RUNNERS or _INTERPRETER.fullmatch(name) is not None


def _hits(argument: str, option: str) -> bool:
    if option.endswith("="):  # dd-style operand
        return argument.startswith(option)
    if option.startswith("--"):
        # GNU getopt and git accept any unambiguous abbreviation of a long option.
        name = argument.split("=", 1)[0]
        return len(name) > 2 and name.startswith("--") and option.startswith(name)
    if len(option) == 2:
        # A short option alone, with its value attached (`-ccore.pager=x`), or in a cluster
        # (`rsync -avze ssh`).
        return argument.startswith(option) or (
            _CLUSTER.fullmatch(argument) is not None and option[1] in argument[1:]
        )
    return argument == option  # find's single-dash words


def risky_argument(program: str, arguments: Iterable[str]) -> str | None:
    """The first argument that makes `program` run another program or write a named file.

    Every argument is checked, also after `--`: what `--` means is up to each program (`find`
    still reads `-exec` after it), so it cannot be trusted to end the options.
    """
    options = RISKY_OPTIONS.get(os.path.basename(program))
    if not options:
        return None
    for argument in arguments:
        for option in options:
            if _hits(argument, option):
                return argument
    return None


def parse_rules(entries: Iterable[str | Sequence[str]], what: str) -> tuple[Rule, ...]:
    """Check `allow`/`deny` entries: a program name, an absolute path, or a prefix vector.

    Raises:
        ConfigurationError: an entry is empty, a string with spaces (a shell string, not a
            vector), a relative path, or not strings.
    """
    if isinstance(entries, str):
        raise ConfigurationError(
            f"{what} must be a sequence of entries, got the string {entries!r}. "
            f"Write {what}=({entries!r},)."
        )
    rules: list[Rule] = []
    for entry in cast("Iterable[object]", entries):
        parts: tuple[object, ...] = ()
        if isinstance(entry, str):
            parts = (entry,)
        elif isinstance(entry, Sequence):
            parts = tuple(cast("Sequence[object]", entry))
        if not parts or not all(isinstance(part, str) and part for part in parts):
            raise ConfigurationError(
                f"{what} entry {entry!r} must be a program name or a non-empty list of "
                "non-empty strings."
            )
        rule = cast("Rule", parts)
        if any("\0" in part for part in rule):
            raise ConfigurationError(f"{what} entry {entry!r} contains a NUL character.")
        program = rule[0]
        if isinstance(entry, str) and any(c.isspace() for c in entry):
            raise ConfigurationError(
                f"{what} entry {entry!r} is a shell string; commands are argument vectors. "
                f"Write {list(entry.split())!r} to allow commands starting with those words."
            )
        if "/" in program and not os.path.isabs(program):
            raise ConfigurationError(
                f"{what} entry {entry!r}: a program is a name looked up on the safe PATH or "
                "an absolute path, not a relative path."
            )
        rules.append(rule)
    return tuple(rules)


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy says about one argument vector."""

    verdict: Literal["allow", "approve", "deny"]
    """`allow` (runs now), `approve` (needs a person's approval) or `deny` (never runs)."""
    reason: str


def _display(argv: Sequence[str]) -> str:
    import shlex

    shown = shlex.join(argv)
    return shown if len(shown) <= 300 else shown[:297] + "..."


@dataclass(frozen=True, slots=True)
class Policy:
    """The allow and deny rules of one `ShellToolset`."""

    allow: tuple[Rule, ...]
    deny: tuple[Rule, ...]

    def describe_allowed(self) -> str:
        """The allow-list as the model is told it."""
        if not self.allow:
            return "none"
        return "; ".join(
            _display(rule) + (" (any arguments)" if len(rule) == 1 else " ...")
            for rule in self.allow
        )

    def decide(
        self,
        argv: Sequence[str],
        resolved: str | None,
        *,
        confine: tuple[str, str] | None = None,
    ) -> Decision:
        """Decide on `argv`; `resolved` is the executable it would run, when it was found.

        `confine` is `(root, workdir)`: an allowed call whose arguments name a path outside
        `root` (see `outside_path`) needs approval.
        """
        for rule in self.deny:
            if _denied(rule, argv, resolved):
                return Decision(
                    "deny",
                    f"`{_display(argv)}` matches the deny rule `{_display(rule)}`; it never runs.",
                )
        risky: str | None = None
        outside: str | None = None
        for rule in self.allow:
            if tuple(argv[: len(rule)]) != rule:
                continue
            rest = argv[len(rule) :]
            hit = risky_argument(argv[0], rest)
            if hit is not None:
                risky = risky or hit
                continue
            away = outside_path(rest, root=confine[0], workdir=confine[1]) if confine else None
            if away is not None:
                outside = outside or away
                continue
            return Decision("allow", f"`{_display(argv)}` matches `{_display(rule)}`.")
        if risky is not None:
            return Decision(
                "approve",
                f"`{_display(argv)}` needs approval: its argument {risky!r} can make "
                f"{os.path.basename(argv[0])!r} run another program or write a file.",
            )
        if outside is not None:
            return Decision(
                "approve",
                f"`{_display(argv)}` needs approval: its argument {outside!r} names a path "
                "outside the working directory.",
            )
        return Decision(
            "approve", f"`{_display(argv)}` needs approval: it is not on the allow-list."
        )


def outside_path(arguments: Iterable[str], *, root: str, workdir: str) -> str | None:
    """The first argument naming a path outside `root`, read from `workdir`, symlinks followed.

    An argument counts as a path wherever it could be one: as a whole, and after its first `=`
    (`--file=/etc/passwd`, `if=/etc/shadow`). So `/etc/passwd`, `../../x`, and `notes` when
    `notes` is a symlink to elsewhere, are found; a plain word resolves inside and passes. A
    pattern that looks like an absolute path (`grep /api/ src`) is found too: it is asked about.
    """
    for argument in arguments:
        candidates = [argument]
        if "=" in argument:
            candidates.append(argument.split("=", 1)[1])
        for candidate in candidates:
            if not candidate:
                continue
            real = os.path.realpath(os.path.join(workdir, candidate))
            if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
                return argument
    return None


def _denied(rule: Rule, argv: Sequence[str], resolved: str | None) -> bool:
    if tuple(argv[1 : len(rule)]) != rule[1:] or len(argv) < len(rule):
        return False
    program = rule[0]
    if "/" in program:
        return program in (argv[0], resolved)
    names = {argv[0], os.path.basename(argv[0])}
    if resolved is not None:
        names.add(os.path.basename(resolved))
        names.add(os.path.basename(os.path.realpath(resolved)))
    return program in names
