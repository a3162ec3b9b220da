"""Running commands for real: exit codes, stdin, timeouts, process groups, the output cap."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
from shell_helpers import output, run

from covey.tools.shell import ShellToolset
from covey.tools.shell._process import OutputCapture


async def wait_until_dead(pid: int) -> None:
    """Return once process `pid` has exited (Linux: its pidfd becomes readable)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        with anyio.fail_after(10):
            await anyio.wait_readable(fd)
    finally:
        os.close(fd)


async def test_non_zero_exit_is_a_normal_result(tmp_path: Path) -> None:
    shell = ShellToolset(allow=["ls"], cwd=tmp_path)
    result = await run(shell, "ls", "no-such-file")
    assert not result.is_error
    assert result.content["exit_code"] == 2
    assert "no-such-file" in output(result)  # stderr is in the output too
    assert result.content["timed_out"] is False


async def test_stdin_is_closed(tmp_path: Path) -> None:
    shell = ShellToolset(allow=["cat"], cwd=tmp_path, timeout=60)
    result = await run(shell, "cat")  # would wait for input forever on an open stdin
    assert result.content == {"exit_code": 0, "output": "", "truncated": False, "timed_out": False}


async def test_timeout_kills_the_command_and_its_children(tmp_path: Path) -> None:
    shell = ShellToolset(allow=[["sh", "-c"]], cwd=tmp_path, timeout=3)
    script = "sleep 300 & echo $! > child.pid; echo $$ > leader.pid; echo started; wait"
    result = await run(shell, "sh", "-c", script)
    assert result.is_error
    assert result.content["timed_out"] is True
    assert result.content["exit_code"] == -9
    assert output(result) == "started\n"  # what it printed before the limit
    assert "time limit" in result.content["error"]
    for name in ("leader.pid", "child.pid"):
        await wait_until_dead(int((tmp_path / name).read_text()))


async def test_what_a_command_leaves_running_dies_with_it(tmp_path: Path) -> None:
    shell = ShellToolset(allow=[["sh", "-c"]], cwd=tmp_path)
    # The leader exits at once; its child would hold the output pipe for five minutes.
    result = await run(shell, "sh", "-c", "sleep 300 & echo $! > child.pid; echo bye")
    assert not result.is_error and result.content["exit_code"] == 0
    assert output(result) == "bye\n"
    await wait_until_dead(int((tmp_path / "child.pid").read_text()))


async def test_a_cancelled_call_kills_its_process_group(tmp_path: Path) -> None:
    shell = ShellToolset(allow=[["sh", "-c"]], cwd=tmp_path, timeout=300)
    ready = tmp_path / "ready"
    os.mkfifo(ready)
    async with anyio.create_task_group() as tg:
        # The command says it is running (and its child's pid) through a FIFO, then waits.
        tg.start_soon(run, shell, "sh", "-c", "sleep 300 & echo $! > ready; wait")
        child = int(await anyio.to_thread.run_sync(ready.read_text))
        tg.cancel_scope.cancel()  # the run is cancelled while the command runs
    await wait_until_dead(child)


async def test_output_cap_on_a_command_that_never_stops(tmp_path: Path) -> None:
    shell = ShellToolset(allow=["yes"], cwd=tmp_path, timeout=1, max_output_bytes=1000)
    result = await run(shell, "yes")
    content = result.content
    assert content["timed_out"] is True and content["truncated"] is True
    text = output(result)
    head, marker, tail = text.partition("\n[... ")
    assert marker, text
    assert head == "y\n" * 250  # the first 500 bytes
    omitted, _, rest = tail.partition(" bytes of output omitted ...]\n")
    assert int(omitted) > 0
    assert len(rest.encode()) == 500 and set(rest) <= {"y", "\n"}


async def test_output_cap_keeps_the_beginning_and_the_end(tmp_path: Path) -> None:
    shell = ShellToolset(allow=["seq"], cwd=tmp_path, max_output_bytes=1000)
    result = await run(shell, "seq", "1", "100000")
    assert not result.is_error and result.content["exit_code"] == 0
    assert result.content["truncated"] is True
    text = output(result)
    total = len("".join(f"{i}\n" for i in range(1, 100001)).encode())
    assert text.startswith("1\n2\n3\n")
    assert text.endswith("99999\n100000\n")
    assert f"[... {total - 1000} bytes of output omitted ...]" in text


async def test_short_output_is_whole(tmp_path: Path) -> None:
    shell = ShellToolset(allow=["seq"], cwd=tmp_path, max_output_bytes=1000)
    result = await run(shell, "seq", "1", "5")
    assert result.content == {
        "exit_code": 0,
        "output": "1\n2\n3\n4\n5\n",
        "truncated": False,
        "timed_out": False,
    }


def test_capture_splits_a_stream_into_head_and_tail() -> None:
    capture = OutputCapture(10)
    for chunk in (b"abc", b"defgh", b"ijklmnop", b"qrstuvwxyz"):
        capture.add(chunk)
    assert capture.truncated and capture.total == 26
    assert capture.text() == "abcde\n[... 16 bytes of output omitted ...]\nvwxyz"
    exact = OutputCapture(10)
    exact.add(b"0123456789")
    assert not exact.truncated and exact.text() == "0123456789"


async def test_invalid_utf8_is_replaced_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "bin.dat").write_bytes(b"ok \xff\xfe end")
    shell = ShellToolset(allow=["cat"], cwd=tmp_path)
    assert output(await run(shell, "cat", "bin.dat")) == "ok \ufffd\ufffd end"


async def test_a_file_that_cannot_be_executed_is_an_error_result(tmp_path: Path) -> None:
    script = tmp_path / "noshebang"
    script.write_bytes(b"\x00\x01\x02 not a program")
    script.chmod(0o755)
    shell = ShellToolset(allow=[str(script)], cwd=tmp_path)
    result = await run(shell, str(script))
    assert result.is_error and "Could not start" in result.content


async def test_calls_beyond_max_concurrent_wait_their_turn(tmp_path: Path) -> None:
    shell = ShellToolset(allow=[["sh", "-c"]], cwd=tmp_path, max_concurrent=1)
    # Each command logs its start and end: with one slot, no start comes before the previous
    # command's end (with three at once, the three starts would come first).
    script = "echo start >> log; sleep 0.05; echo end >> log"
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(run, shell, "sh", "-c", script)
    assert (tmp_path / "log").read_text() == "start\nend\n" * 3
