"""Attacks, written as a model (or whoever steers it) would try them.

Each test proves what did NOT happen with something observable: a canary file a successful attack
would create, a process that would run, a variable that would leak.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from shell_helpers import output, run

from covey.spec.errors import ApprovalRequired
from covey.tools.shell import ShellToolset

CANARY = "canary"


def make_script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.mark.parametrize(
    "payload",
    [
        "; touch canary",
        "x; touch canary",
        "$(touch canary)",
        "`touch canary`",
        "| touch canary",
        "&& touch canary",
        "|| touch canary",
        "x\ntouch canary",
        "> canary",
        "${IFS}touch${IFS}canary",
    ],
)
async def test_shell_metacharacters_are_plain_characters(tmp_path: Path, payload: str) -> None:
    shell = ShellToolset(allow=["echo"], cwd=tmp_path)
    result = await run(shell, "echo", payload)
    assert not result.is_error
    assert output(result) == payload + "\n"  # echo printed it as it is
    assert not (tmp_path / CANARY).exists()


async def test_globs_are_not_expanded(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.txt").write_text("b")
    shell = ShellToolset(allow=["echo", "ls"], cwd=tmp_path)
    assert output(await run(shell, "echo", "*.txt", "~", "$HOME")) == "*.txt ~ $HOME\n"
    listed = await run(shell, "ls", "*")
    assert listed.content["exit_code"] != 0  # no file is literally named "*"
    assert "a.txt" not in output(listed)


async def test_a_shell_string_as_the_program_is_not_a_command(tmp_path: Path) -> None:
    shell = ShellToolset(allow=["ls"], cwd=tmp_path)
    # One argument, so not the program `ls`; no shell splits it, and no program has that name
    # (the model hears so at once: nobody is asked to approve what cannot run).
    for approved in (False, True):
        result = await run(shell, "ls -la; touch canary", approved=approved)
        assert result.is_error and "not found" in result.content
    assert not (tmp_path / CANARY).exists()


@pytest.mark.parametrize(
    "command",
    [
        ["find", ".", "-exec", "touch", CANARY, ";"],
        ["find", "--", ".", "-exec", "touch", CANARY, ";"],  # `--` does not end find's primaries
        ["find", ".", "-execdir", "touch", CANARY, ";"],
        ["find", ".", "-ok", "touch", CANARY, ";"],
        ["find", ".", "-fprint", CANARY],
        ["find", ".", "-delete"],
    ],
)
async def test_find_options_that_run_programs_need_approval(
    tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "keep.txt").write_text("x")
    shell = ShellToolset(allow=["find"], cwd=tmp_path)
    with pytest.raises(ApprovalRequired, match="run another program or write a file"):
        await run(shell, *command)
    assert not (tmp_path / CANARY).exists()
    assert (tmp_path / "keep.txt").exists()
    # The harmless use still runs at once.
    assert "keep.txt" in output(await run(shell, "find", ".", "-name", "*.txt"))


@pytest.mark.parametrize(
    "command",
    [
        ["git", "-c", f"core.pager=touch {CANARY}", "log"],
        ["git", f"-ccore.pager=touch {CANARY}", "log"],  # value attached
        ["git", "--config-env=core.pager=X", "log"],
        ["git", "--exec-p=.", "log"],  # an abbreviated long option, as git accepts
        ["git", "grep", f"-O touch {CANARY}", "x"],
        ["git", "diff", f"--output={CANARY}"],
        ["git", "config", "alias.st", f"!touch {CANARY}"],  # an alias that runs a command
        ["git", "config", "core.fsmonitor", f"touch {CANARY}"],  # run by every `git status`
        ["git", "rebase", "-x", f"touch {CANARY}", "HEAD~1"],
        ["git", "bisect", "run", "touch", CANARY],
    ],
)
async def test_git_options_that_run_programs_need_approval(
    tmp_path: Path, command: list[str]
) -> None:
    shell = ShellToolset(allow=["git"], cwd=tmp_path)
    with pytest.raises(ApprovalRequired):
        await run(shell, *command)
    assert not (tmp_path / CANARY).exists()


async def test_a_prefix_rule_leaves_no_room_for_global_options(tmp_path: Path) -> None:
    shell = ShellToolset(allow=[["git", "status"]], cwd=tmp_path)
    with pytest.raises(ApprovalRequired, match="not on the allow-list"):
        await run(shell, "git", "-c", f"core.fsmonitor=touch {CANARY}", "status")
    with pytest.raises(ApprovalRequired):
        await run(shell, "git", "log")  # another subcommand
    result = await run(shell, "git", "status")  # not a repository: a normal, failed result
    assert not result.is_error and result.content["exit_code"] != 0
    assert not (tmp_path / CANARY).exists()


async def test_option_like_arguments_after_double_dash_reach_the_program_as_data(
    tmp_path: Path,
) -> None:
    (tmp_path / "-rf").write_text("a file with an unlucky name")
    shell = ShellToolset(allow=["cat"], cwd=tmp_path)
    result = await run(shell, "cat", "--", "-rf")
    assert output(result) == "a file with an unlucky name"


async def test_path_hijack_a_fake_ls_in_the_working_directory_never_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_script(tmp_path / "ls", f"touch {tmp_path / CANARY}")
    (tmp_path / "bin").mkdir()
    make_script(tmp_path / "bin" / "ls", f"touch {tmp_path / CANARY}")
    (tmp_path / "real.txt").write_text("x")
    # The server's PATH itself is careless: it looks in the current directory first.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f".:bin::{os.environ['PATH']}")
    shell = ShellToolset(allow=["ls"], cwd=tmp_path)
    result = await run(shell, "ls")
    assert "real.txt" in output(result)  # the real ls listed the directory
    assert not (tmp_path / CANARY).exists()
    # Spelled as a path, it is another program: it needs approval.
    with pytest.raises(ApprovalRequired):
        await run(shell, "./ls")
    assert not (tmp_path / CANARY).exists()


async def test_the_commands_path_has_no_relative_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f".:bin::{os.environ['PATH']}")
    shell = ShellToolset(allow=["printenv"], cwd=tmp_path)
    path = output(await run(shell, "printenv", "PATH")).strip()
    assert path and all(os.path.isabs(entry) for entry in path.split(":"))


async def test_a_program_given_as_a_path_is_not_the_allowed_name(tmp_path: Path) -> None:
    shell = ShellToolset(allow=["echo"], cwd=tmp_path)
    make_script(tmp_path / "echo", f"touch {tmp_path / CANARY}")
    for program in ("./echo", str(tmp_path / "echo"), "../" + tmp_path.name + "/echo"):
        with pytest.raises(ApprovalRequired):
            await run(shell, program, "hi")
    assert not (tmp_path / CANARY).exists()


async def test_an_absolute_path_entry_allows_that_file_only(tmp_path: Path) -> None:
    tool = make_script(tmp_path / "tool", 'echo "tool ran: $1"')
    shell = ShellToolset(allow=[str(tool)], cwd=tmp_path)
    assert output(await run(shell, str(tool), "x")) == "tool ran: x\n"
    # The bare name is looked up on the safe PATH, never in the working directory.
    bare = await run(shell, "tool", "x", approved=True)
    assert bare.is_error and "not found on the PATH" in bare.content


async def test_server_secrets_never_reach_a_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-do-not-leak-123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-do-not-leak-456")
    shell = ShellToolset(allow=["printenv"], cwd=tmp_path, env={"GIT_TOKEN": "tok-given-789"})
    printed = output(await run(shell, "printenv"))
    assert "OPENAI_API_KEY" not in printed and "sk-live-do-not-leak-123" not in printed
    assert "AWS_SECRET_ACCESS_KEY" not in printed and "aws-do-not-leak-456" not in printed
    assert "GIT_TOKEN=tok-given-789" in printed  # what was given on purpose is there
    names = {line.split("=", 1)[0] for line in printed.splitlines() if "=" in line}
    assert names <= {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ",
                     "TMPDIR", "GIT_TOKEN"}  # fmt: skip
    # The value given in `env` is not in the toolset's repr either.
    assert "tok-given-789" not in repr(shell) and "GIT_TOKEN" in repr(shell)


async def test_env_allow_names_exactly_what_is_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SETTING", "on")
    monkeypatch.setenv("OTHER", "off")
    shell = ShellToolset(allow=["printenv"], cwd=tmp_path, env_allow=["MY_SETTING"])
    printed = output(await run(shell, "printenv"))
    assert sorted(line.split("=", 1)[0] for line in printed.splitlines()) == [
        "MY_SETTING",
        "PATH",  # always set: the safe PATH (a default one here)
    ]


@pytest.mark.parametrize(
    "argument",
    [
        "/etc/passwd",
        "../outside/secret.txt",
        "sub/../../outside/secret.txt",
        "escape/secret.txt",  # a symlink inside, pointing out
        "--file=/etc/passwd",
        "if=../outside/secret.txt",
    ],
)
async def test_arguments_naming_paths_outside_need_approval(tmp_path: Path, argument: str) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("s3cret")
    (root / "escape").symlink_to(tmp_path / "outside")
    (root / "inside.txt").write_text("fine")
    shell = ShellToolset(allow=["cat"], cwd=root)
    with pytest.raises(ApprovalRequired, match="outside the working directory"):
        await run(shell, "cat", argument)
    # Paths inside, however written, run at once.
    for inside in ("inside.txt", "./inside.txt", "sub/../inside.txt", str(root / "inside.txt")):
        assert output(await run(shell, "cat", inside)) == "fine"
    # Turned off, the same call runs (cat then fails or succeeds on its own).
    open_shell = ShellToolset(allow=["cat"], cwd=root, confine_paths=False)
    assert not (await run(open_shell, "cat", argument)).is_error


@pytest.mark.parametrize("cwd", ["..", "../..", "sub/../..", "/etc", "/", "link", "link/x"])
async def test_cwd_cannot_leave_the_working_directory(tmp_path: Path, cwd: str) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    (outside / "x").mkdir(parents=True)
    (root / "link").symlink_to(outside)
    shell = ShellToolset(allow=["touch"], cwd=root)
    result = await run(shell, "touch", CANARY, cwd=cwd)
    assert result.is_error
    assert not (root / CANARY).exists() and not (outside / CANARY).exists()
    assert not (outside / "x" / CANARY).exists() and not (root / "sub" / CANARY).exists()


async def test_cwd_names_a_subdirectory(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    shell = ShellToolset(allow=["pwd"], cwd=tmp_path)
    assert output(await run(shell, "pwd", cwd="a/b")).strip() == str(tmp_path / "a" / "b")
    assert output(await run(shell, "pwd")).strip() == str(shell.cwd)
    missing = await run(shell, "pwd", cwd="nope")
    assert missing.is_error and "does not exist" in missing.content


async def test_deny_holds_even_when_approved(tmp_path: Path) -> None:
    victim = tmp_path / "important.txt"
    victim.write_text("keep me")
    shell = ShellToolset(allow=["ls"], deny=["rm", ["git", "push"]], cwd=tmp_path)
    for command in (["rm", "important.txt"], ["/bin/rm", "important.txt"]):
        result = await run(shell, *command, approved=True)
        assert result.is_error and "deny rule" in result.content
    pushed = await run(shell, "git", "push", "--force", approved=True)
    assert pushed.is_error and "deny rule" in pushed.content
    assert victim.read_text() == "keep me"


async def test_an_approved_command_runs(tmp_path: Path) -> None:
    shell = ShellToolset(cwd=tmp_path)  # nothing allowed
    with pytest.raises(ApprovalRequired):
        await run(shell, "touch", "made-by-approval")
    assert not (tmp_path / "made-by-approval").exists()
    result = await run(shell, "touch", "made-by-approval", approved=True)
    assert not result.is_error and result.content["exit_code"] == 0
    assert (tmp_path / "made-by-approval").exists()


@pytest.mark.parametrize("command", [["echo", "a\0b"], ["\0echo"], [""], ["echo", *["x"] * 2000]])
async def test_malformed_vectors_go_back_to_the_model(tmp_path: Path, command: list[str]) -> None:
    from covey.spec.errors import ModelRetry

    shell = ShellToolset(allow=["echo"], cwd=tmp_path)
    with pytest.raises(ModelRetry):
        await run(shell, *command)
