"""Attack tests: every way out of the root a model (or someone racing it) could try.

Each attack runs against real files in a temp directory with a secret file next to the root;
the checks are what an attacker would look for: the secret's text in a result, a file written
outside, an error that names a path outside the root, a call that blocks.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from covey.spec.context import RunContext
from covey.spec.errors import ToolNotFoundError
from covey.spec.tools import ToolResult
from covey.tools.files import FileToolset
from covey.tools.files._confine import Root

from .conftest import SECRET


async def call(toolset: FileToolset, ctx: RunContext, name: str, **args: Any) -> ToolResult:
    """Call a tool and check the result leaks neither the secret nor a path outside the root."""
    result = await toolset.call_tool(name, args, ctx)
    text = repr(result.content) + repr(result.metadata)
    assert SECRET not in text
    for value in args.values():  # echoing the model's own path back is no leak
        if isinstance(value, str) and value:
            text = text.replace(repr(value), "").replace(value, "")
    parent = str(Path(toolset.root).parent)
    assert parent not in text, f"{name}{args} named a path outside the root: {text}"
    return result


async def refused(toolset: FileToolset, ctx: RunContext, name: str, **args: Any) -> str:
    result = await call(toolset, ctx, name, **args)
    assert result.is_error, f"{name}{args} was not refused: {result.content!r}"
    assert isinstance(result.content, str)
    return result.content


TRAVERSALS = [
    "../outside/secret.txt",
    "docs/../../outside/secret.txt",
    "..",
    "./../outside/secret.txt",
    "docs/..",
    "docs/../notes.txt",  # inside, but `..` is refused outright
]


@pytest.mark.parametrize("path", TRAVERSALS)
async def test_dot_dot_is_refused_for_every_tool(root: Path, ctx: RunContext, path: str) -> None:
    toolset = FileToolset(root, write=True)
    assert "'..'" in await refused(toolset, ctx, "read_file", path=path)
    await refused(toolset, ctx, "list_files", path=path)
    await refused(toolset, ctx, "search_files", query="SECRET", path=path)
    await refused(toolset, ctx, "write_file", path=path + "/x.txt", content="pwned")
    assert sorted(os.listdir(root.parent / "outside")) == ["secret.txt"]


async def test_absolute_paths_are_refused(root: Path, outside: Path, ctx: RunContext) -> None:
    toolset = FileToolset(root, write=True)
    for path in [
        str(outside / "secret.txt"),
        "/etc/passwd",
        "//etc/passwd",
        str(root / "notes.txt"),
    ]:
        assert "absolute" in await refused(toolset, ctx, "read_file", path=path)
    await refused(toolset, ctx, "write_file", path=str(outside / "new.txt"), content="pwned")
    assert not (outside / "new.txt").exists()


@pytest.mark.parametrize(
    "path",
    [
        "~/secret.txt",
        "~root/.ssh/id_rsa",
        "..\\outside\\secret.txt",
        "C:\\Windows\\win.ini",
        "C:/Windows/win.ini",
        "notes.txt\x00.png",
        "docs/\udc80\ud800",
    ],
)
async def test_home_backslash_drive_nul_and_bad_text_are_refused(
    root: Path, ctx: RunContext, path: str
) -> None:
    toolset = FileToolset(root, write=True)
    await refused(toolset, ctx, "read_file", path=path)
    await refused(toolset, ctx, "write_file", path=path, content="pwned")


@pytest.mark.parametrize(
    "path",
    ["%2e%2e/outside/secret.txt", "%2E%2E%2Foutside%2Fsecret.txt", "．．/outside/secret.txt"],
)
async def test_encoded_dots_are_plain_names_inside_the_root(
    root: Path, ctx: RunContext, path: str
) -> None:
    """Nothing is URL- or Unicode-decoded: these are names of files that do not exist."""
    toolset = FileToolset(root)
    assert "no such" in await refused(toolset, ctx, "read_file", path=path)
    # `..%2f...` starts with a dot: a hidden name, refused as such.
    assert "hidden" in await refused(toolset, ctx, "read_file", path="..%2foutside%2fsecret.txt")


async def test_symlinked_file_pointing_outside(root: Path, outside: Path, ctx: RunContext) -> None:
    (root / "passwd").symlink_to("/etc/passwd")
    (root / "secret").symlink_to(outside / "secret.txt")
    (root / "relative").symlink_to("../outside/secret.txt")
    toolset = FileToolset(root, write=True)
    for name in ("passwd", "secret", "relative"):
        assert "outside the root" in await refused(toolset, ctx, "read_file", path=name)
        assert "outside the root" in await refused(toolset, ctx, "list_files", path=name)
        # Writing to the link's name never writes through it.
        message = await refused(
            toolset, ctx, "write_file", path=name, content="pwned", overwrite=True
        )
        assert "symbolic link" in message
    assert (outside / "secret.txt").read_text() == SECRET + "\n"
    listed = await call(toolset, ctx, "list_files")
    kinds = {e["path"]: e["type"] for e in listed.content["entries"]}
    assert kinds["secret"] == kinds["passwd"] == "symlink"


async def test_symlinked_parent_directory(root: Path, outside: Path, ctx: RunContext) -> None:
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "docs" / "deeper").symlink_to("../../outside", target_is_directory=True)
    toolset = FileToolset(root, write=True)
    for base in ("escape", "docs/deeper"):
        await refused(toolset, ctx, "read_file", path=f"{base}/secret.txt")
        await refused(toolset, ctx, "list_files", path=base)
        await refused(toolset, ctx, "search_files", query="TOP", path=base)
        await refused(toolset, ctx, "write_file", path=f"{base}/new.txt", content="pwned")
        await refused(toolset, ctx, "write_file", path=f"{base}/sub/new.txt", content="pwned")
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    # A search from the root walks past the links without entering them.
    (root / "secret-link.txt").symlink_to(outside / "secret.txt")
    for query, regex in (("TOP-SECRET", False), ("SECRET", True), ("(?s).", True)):
        found = await call(toolset, ctx, "search_files", query=query, regex=regex)
        assert all(m["path"] in ("docs/guide.md", "notes.txt") for m in found.content["matches"])
        assert found.content["files_searched"] == 2


async def test_symlinks_inside_the_root_work(root: Path, ctx: RunContext) -> None:
    """Confinement is about where a link leads: links that stay inside are followed."""
    (root / "guide").symlink_to("docs/guide.md")
    (root / "d").symlink_to("docs", target_is_directory=True)
    toolset = FileToolset(root, write=True)
    read = await call(toolset, ctx, "read_file", path="guide")
    assert read.content.startswith("# Guide") and read.metadata["path"] == "docs/guide.md"
    assert (await call(toolset, ctx, "read_file", path="d/guide.md")).content.startswith("# Guide")
    written = await call(toolset, ctx, "write_file", path="d/new.md", content="made")
    assert not written.is_error and (root / "docs" / "new.md").read_text() == "made"


async def test_symlink_loops(root: Path, ctx: RunContext) -> None:
    (root / "a").symlink_to("b")
    (root / "b").symlink_to("a")
    (root / "self").symlink_to("self")
    (root / "dirloop").symlink_to(".", target_is_directory=True)
    # realpath stops at a loop and leaves the rest of the target, `..` and all, unresolved.
    (root / "tricky").symlink_to("self/../../outside/secret.txt")
    (root / "tricky2").symlink_to("self/../notes.txt")
    toolset = FileToolset(root, write=True)
    for path in ("a", "b", "self", "a/x.txt", "tricky", "tricky2"):
        await refused(toolset, ctx, "read_file", path=path)
        await refused(toolset, ctx, "write_file", path=f"{path}/x.txt", content="x")
    # A link back to the root is listed, never entered: the listing ends.
    listed = await call(toolset, ctx, "list_files", recursive=True)
    paths = [e["path"] for e in listed.content["entries"]]
    assert "dirloop" in paths and not any(p.startswith("dirloop/") for p in paths)
    found = await call(toolset, ctx, "search_files", query="alpha")
    assert [m["path"] for m in found.content["matches"]] == ["notes.txt"]


async def test_hard_link_to_an_outside_file(root: Path, outside: Path, ctx: RunContext) -> None:
    os.link(outside / "secret.txt", root / "hard.txt")
    toolset = FileToolset(root, write=True)
    assert "hard link" in await refused(toolset, ctx, "read_file", path="hard.txt")
    found = await call(toolset, ctx, "search_files", query="TOP-SECRET")
    assert found.content["matches"] == []
    assert "hard link" in await refused(
        toolset, ctx, "write_file", path="hard.txt", content="pwned", overwrite=True
    )
    assert (outside / "secret.txt").read_text() == SECRET + "\n"


async def test_fifo_is_refused_without_blocking(root: Path, ctx: RunContext) -> None:
    """Opening a FIFO for reading blocks until a writer comes; the toolset never opens one."""
    os.mkfifo(root / "pipe")
    toolset = FileToolset(root, write=True)
    assert "not a regular file" in await refused(toolset, ctx, "read_file", path="pipe")
    assert "not a regular file" in await refused(
        toolset, ctx, "write_file", path="pipe", content="x", overwrite=True
    )
    found = await call(toolset, ctx, "search_files", query="x")
    assert found.content["matches"] == []
    listed = await call(toolset, ctx, "list_files")
    assert {"path": "pipe", "type": "other"} in listed.content["entries"]


async def test_device_file_is_refused(root: Path, ctx: RunContext) -> None:
    try:
        os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device file needs CAP_MKNOD")
    toolset = FileToolset(root)
    assert "not a regular file" in await refused(toolset, ctx, "read_file", path="null")


async def test_writing_through_a_dangling_symlink(
    root: Path, outside: Path, ctx: RunContext
) -> None:
    (root / "out").symlink_to(outside / "created.txt")
    (root / "in").symlink_to("docs/created.txt")
    toolset = FileToolset(root, write=True)
    for name in ("out", "in"):
        for overwrite in (False, True):
            assert "symbolic link" in await refused(
                toolset, ctx, "write_file", path=name, content="pwned", overwrite=overwrite
            )
    assert not (outside / "created.txt").exists()
    assert not (root / "docs" / "created.txt").exists()


async def test_a_parent_swapped_for_a_link_after_the_check_is_not_followed(
    root: Path, outside: Path, ctx: RunContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race: `docs` is checked, then replaced by a link to the outside before it is opened.

    The swap is done inside `Root.resolve` (right after the check), so the race is won by the
    attacker every time; the descriptor walk must still refuse to follow the new link.
    """
    (outside / "guide.md").write_text(SECRET)
    real_resolve = Root.resolve

    def resolve_then_swap(
        self: Root, path: str, parts: tuple[str, ...], **options: bool
    ) -> tuple[str, ...]:
        if (root / "docs").is_symlink():  # undo the last call's swap: every call faces the race
            (root / "docs").unlink()
            (root / "docs-moved").rename(root / "docs")
        resolved = real_resolve(self, path, parts, **options)
        assert resolved[0] == "docs"  # the check passed: `docs` was a real directory
        (root / "docs").rename(root / "docs-moved")
        (root / "docs").symlink_to(outside, target_is_directory=True)
        return resolved

    monkeypatch.setattr(Root, "resolve", resolve_then_swap)
    toolset = FileToolset(root, write=True)
    assert "symbolic link" in await refused(toolset, ctx, "read_file", path="docs/guide.md")
    await refused(toolset, ctx, "list_files", path="docs")
    await refused(toolset, ctx, "search_files", query="TOP", path="docs")
    await refused(toolset, ctx, "write_file", path="docs/guide.md", content="pwned", overwrite=True)
    await refused(toolset, ctx, "write_file", path="docs/new/file.md", content="pwned")
    assert sorted(os.listdir(outside)) == ["guide.md", "secret.txt"]
    assert (outside / "guide.md").read_text() == SECRET


async def test_huge_files_are_not_read_or_searched(root: Path, ctx: RunContext) -> None:
    with (root / "huge.log").open("wb") as f:
        f.truncate(2_000_001)  # sparse: no disk used
    toolset = FileToolset(root, max_file_bytes=2_000_000, write=True, max_write_bytes=1000)
    assert "2000001 bytes" in await refused(toolset, ctx, "read_file", path="huge.log")
    found = await call(toolset, ctx, "search_files", query="x")
    assert found.content["matches"] == []
    assert "1001 bytes" in await refused(
        toolset, ctx, "write_file", path="big.txt", content="x" * 1001
    )
    assert not (root / "big.txt").exists()


async def test_binary_files_are_not_read(root: Path, ctx: RunContext) -> None:
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    toolset = FileToolset(root)
    assert "binary" in await refused(toolset, ctx, "read_file", path="image.png")
    assert (await call(toolset, ctx, "search_files", query="PNG")).content["matches"] == []


async def test_write_tools_are_not_listed_or_callable_when_read_only(
    root: Path, ctx: RunContext
) -> None:
    toolset = FileToolset(root)
    names = {t.name for t in await toolset.list_tools(ctx)}
    assert names == {"read_file", "list_files", "search_files"}
    for name, args in (
        ("write_file", {"path": "x.txt", "content": "x"}),
        ("delete_file", {"path": "notes.txt"}),
    ):
        with pytest.raises(ToolNotFoundError):
            await toolset.call_tool(name, args, ctx)
    assert not (root / "x.txt").exists() and (root / "notes.txt").exists()
    writer = FileToolset(root, write=True)
    assert "delete_file" not in {t.name for t in await writer.list_tools(ctx)}


async def test_hidden_files_are_out_of_reach_by_default(root: Path, ctx: RunContext) -> None:
    (root / ".env").write_text("API_KEY=TOP-SECRET-outside-the-root\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[remote]\n")
    (root / "settings").symlink_to(".env")
    toolset = FileToolset(root, write=True)
    await refused(toolset, ctx, "read_file", path=".env")
    await refused(toolset, ctx, "read_file", path="docs/../.env")
    assert "hidden" in await refused(toolset, ctx, "read_file", path="settings")
    await refused(toolset, ctx, "read_file", path=".git/config")
    await refused(toolset, ctx, "write_file", path=".env", content="x", overwrite=True)
    listed = await call(toolset, ctx, "list_files", recursive=True)
    assert all(not e["path"].startswith(".") for e in listed.content["entries"])
    assert (await call(toolset, ctx, "search_files", query="API_KEY")).content["matches"] == []
    opened = FileToolset(root, allow_hidden=True)
    assert "[remote]" in (await opened.call_tool("read_file", {"path": ".git/config"}, ctx)).content


async def test_catastrophic_regex_stops_at_the_timeout(root: Path, ctx: RunContext) -> None:
    (root / "a.txt").write_text("a" * 5000 + "b\n")
    toolset = FileToolset(root, search_timeout=0.3)
    result = await call(toolset, ctx, "search_files", query="(a|aa)+$", regex=True)
    assert result.content["truncated"] is True
    assert "stopped after 0.3 s" in result.content["note"]
    bad = await refused(toolset, ctx, "search_files", query="(unclosed", regex=True)
    assert "does not compile" in bad


async def test_the_root_may_itself_be_a_link(tmp_path: Path, root: Path, ctx: RunContext) -> None:
    (tmp_path / "link-to-root").symlink_to(root, target_is_directory=True)
    toolset = FileToolset(tmp_path / "link-to-root")
    assert toolset.root == str(root)  # tmp_path is already resolved
    assert (await call(toolset, ctx, "read_file", path="notes.txt")).content.startswith("alpha")


async def test_paths_too_long_or_too_deep(root: Path, ctx: RunContext) -> None:
    toolset = FileToolset(root, write=True)
    assert "64 components" in await refused(
        toolset, ctx, "write_file", path="a/" * 65 + "x", content="x"
    )
    assert not (root / "a").exists()
    assert "4096 characters" in await refused(toolset, ctx, "read_file", path="x" * 5000)
    assert "too long" in await refused(toolset, ctx, "read_file", path="x" * 300)
