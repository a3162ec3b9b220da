"""The allow/deny rules and the table of risky options, without running anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from covey.spec.errors import ConfigurationError
from covey.tools.shell import ShellToolset
from covey.tools.shell._policy import Policy, is_code_runner, parse_rules, risky_argument


def policy(allow: list[str | list[str]], deny: list[str | list[str]] | None = None) -> Policy:
    return Policy(allow=parse_rules(allow, "allow"), deny=parse_rules(deny or [], "deny"))


@pytest.mark.parametrize(
    ("argv", "verdict"),
    [
        (["ls"], "allow"),
        (["ls", "-la", "src"], "allow"),
        (["git", "status"], "allow"),
        (["git", "status", "--short"], "allow"),
        (["git"], "approve"),  # shorter than the prefix
        (["git", "log"], "approve"),
        (["git", "-C", "/", "status"], "approve"),
        (["lsblk"], "approve"),  # a name is matched whole, not as a prefix of a string
        (["/bin/ls"], "approve"),  # a path is not the bare name
        (["rm", "-rf", "x"], "deny"),
    ],
)
def test_decisions(argv: list[str], verdict: str) -> None:
    rules = policy(["ls", ["git", "status"]], deny=["rm"])
    assert rules.decide(argv, None).verdict == verdict


@pytest.mark.parametrize(
    ("program", "arguments", "hit"),
    [
        ("find", [".", "-name", "*.py"], None),
        ("find", [".", "-exec", "x", ";"], "-exec"),
        ("/usr/bin/find", [".", "-okdir", "x", ";"], "-okdir"),  # by the program's file name
        ("tar", ["-xzf", "a.tgz"], None),
        ("tar", ["--to-com=sh", "-xf", "a.tar"], "--to-com=sh"),  # getopt abbreviation
        ("tar", ["-xIsh", "-f", "a.tar"], "-xIsh"),  # -I in a cluster, its value attached
        ("tar", ["-xf", "a.tar", "-I", "sh"], "-I"),
        ("rsync", ["-avze", "sh -c x", "a", "b"], "-avze"),  # in a cluster of short options
        ("rsync", ["-av", "a", "b"], None),
        ("sort", ["--compress-program=sh", "f"], "--compress-program=sh"),
        ("sort", ["-o", "out", "f"], "-o"),
        ("dd", ["if=a", "of=/etc/passwd"], "of=/etc/passwd"),
        ("git", ["log", "--oneline"], None),
        ("git", ["--", "-c"], "-c"),  # `--` does not end the check
        ("ls", ["-exec"], None),  # options of other programs mean nothing to ls
        ("rg", ["--pre=sh", "x"], "--pre=sh"),
        ("make", ["--eval=$(shell id)"], "--eval=$(shell id)"),
        ("fd", ["-x", "rm"], "-x"),
        ("git", ["config", "--get", "user.name"], "config"),  # a whole-word subcommand
        ("git", ["log", "--", "configure.ac"], None),  # ...not a prefix of a word
    ],
)
def test_risky_arguments(program: str, arguments: list[str], hit: str | None) -> None:
    assert risky_argument(program, arguments) == hit


def test_arguments_inside_the_allowed_prefix_are_the_configurers_choice() -> None:
    rules = policy([["git", "-c", "core.pager=cat", "log"]])
    assert rules.decide(["git", "-c", "core.pager=cat", "log", "-5"], None).verdict == "allow"
    assert rules.decide(["git", "-c", "core.pager=cat", "log", "-cx"], None).verdict == "approve"


def test_deny_matches_the_resolved_file_too() -> None:
    rules = policy([], deny=["rm"])
    assert rules.decide(["./my-rm"], "/usr/bin/rm").verdict == "deny"
    assert rules.decide(["/usr/bin/rm"], "/usr/bin/rm").verdict == "deny"
    assert rules.decide(["rmdir", "x"], "/usr/bin/rmdir").verdict == "approve"
    by_path = policy([], deny=["/usr/bin/rm"])
    assert by_path.decide(["rm"], "/usr/bin/rm").verdict == "deny"


@pytest.mark.parametrize(
    "program", ["sh", "bash", "env", "xargs", "python", "python3.11", "node", "awk", "sudo"]
)
def test_code_runners_cannot_be_allowed_by_name(tmp_path: Path, program: str) -> None:
    assert is_code_runner(program)
    with pytest.raises(ConfigurationError, match="allows every command"):
        ShellToolset(allow=[program], cwd=tmp_path)
    # Deliberately: a narrower prefix, or the explicit switch.
    ShellToolset(allow=[[program, "--version"]], cwd=tmp_path)
    ShellToolset(allow=[program], cwd=tmp_path, allow_code_runners=True)


@pytest.mark.parametrize(
    ("allow", "message"),
    [
        ("ls", "sequence of entries"),
        (["git status"], "shell string"),
        ([[]], "non-empty"),
        ([["git", ""]], "non-empty"),
        ([5], "non-empty"),
        (["bin/tool"], "relative path"),
        (["l\0s"], "NUL"),
    ],
)
def test_malformed_entries_are_configuration_errors(
    tmp_path: Path, allow: object, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ShellToolset(allow=allow, cwd=tmp_path)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cwd": "/no/such/dir"}, "does not exist"),
        ({"timeout": 0}, "timeout"),
        ({"max_output_bytes": 10}, "max_output_bytes"),
        ({"max_concurrent": 0}, "max_concurrent"),
        ({"env": {"A=B": "x"}}, "env entries"),
        ({"env_allow": "PATH"}, "env_allow"),
    ],
)
def test_bad_settings_are_configuration_errors(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    settings: dict[str, object] = {"cwd": tmp_path, **kwargs}
    with pytest.raises(ConfigurationError, match=message):
        ShellToolset(**settings)  # type: ignore[arg-type]


def test_cwd_must_be_a_directory(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigurationError, match="not a directory"):
        ShellToolset(cwd=tmp_path / "f")


async def test_the_model_is_told_what_runs_without_approval(tmp_path: Path) -> None:
    from covey.spec.context import RunContext

    shell = ShellToolset(allow=["ls", ["git", "status"]], cwd=tmp_path, timeout=5)
    [definition] = await shell.list_tools(RunContext(run_id="r"))
    assert definition.name == "run_command"
    assert "ls (any arguments); git status ..." in definition.description
    assert "5 s time limit" in definition.description
    assert definition.parameters_json_schema["required"] == ["command"]
    assert definition.parameters_json_schema["properties"]["command"]["minItems"] == 1
    assert shell.id == "shell"


def test_the_docs_table_lists_every_risky_option() -> None:
    """docs/tools.md shows RISKY_OPTIONS as a table; it must say what the code does."""
    from covey.tools.shell import RISKY_OPTIONS

    docs = Path(__file__).resolve().parents[3] / "docs" / "tools.md"
    section = docs.read_text().split("## Shell", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, list[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`") and cells[0].endswith("`"):
            rows[cells[0].strip("`")] = [c.strip().strip("`") for c in cells[1].split(", ")]
    assert rows == {program: list(options) for program, options in RISKY_OPTIONS.items()}
