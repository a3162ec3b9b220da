"""What each tool does for a model that stays inside the root: pages, listings, searches, writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.spec.tools import ToolArgumentsError
from covey.tools.files import FileToolset


async def test_read_whole_file_and_pages(root: Path, ctx: RunContext) -> None:
    toolset = FileToolset(root)
    whole = await toolset.call_tool("read_file", {"path": "notes.txt"}, ctx)
    assert whole.content == "alpha\nbeta\ngamma\n" and not whole.is_error
    assert whole.metadata == {"path": "notes.txt", "total_lines": 3}
    page = await toolset.call_tool("read_file", {"path": "notes.txt", "offset": 1, "limit": 1}, ctx)
    assert page.content == "beta\n[lines 2-2 of 3; call read_file with offset=2 to continue]"
    assert page.metadata["next_offset"] == 2
    past = await toolset.call_tool("read_file", {"path": "notes.txt", "offset": 3}, ctx)
    assert past.is_error and "3 lines" in past.content
    with pytest.raises(ToolArgumentsError):
        await toolset.call_tool("read_file", {"path": "notes.txt", "offset": -1}, ctx)


async def test_a_long_file_is_read_in_pages_of_max_read_bytes(root: Path, ctx: RunContext) -> None:
    lines = [f"line {i:04d}\n" for i in range(1000)]  # 10 bytes each
    (root / "long.txt").write_text("".join(lines))
    toolset = FileToolset(root, max_read_bytes=1000)
    got: list[str] = []
    offset = 0
    while True:
        result = await toolset.call_tool("read_file", {"path": "long.txt", "offset": offset}, ctx)
        assert len(result.content.encode()) <= 1000 + 100  # a page and its note
        got += result.content.splitlines(keepends=True)[: result.metadata["end_line"] - offset]
        if "next_offset" not in result.metadata:
            break
        offset = result.metadata["next_offset"]
    assert got == lines


async def test_a_line_longer_than_a_page_is_cut_and_the_read_moves_on(
    root: Path, ctx: RunContext
) -> None:
    (root / "min.js").write_text("é" * 3000 + "\nnext\n")
    toolset = FileToolset(root, max_read_bytes=1001)
    first = await toolset.call_tool("read_file", {"path": "min.js"}, ctx)
    assert first.content.startswith("é" * 500 + "\n[lines 1-1 of 2; line 1 was cut")
    second = await toolset.call_tool("read_file", {"path": "min.js", "offset": 1}, ctx)
    assert second.content == "next\n[lines 2-2 of 2]"


async def test_invalid_utf8_is_replaced_not_fatal(root: Path, ctx: RunContext) -> None:
    (root / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    result = await FileToolset(root).call_tool("read_file", {"path": "latin1.txt"}, ctx)
    assert result.content == "caf\ufffd\n"


async def test_missing_files_and_directories(root: Path, ctx: RunContext) -> None:
    toolset = FileToolset(root)
    for name, args in (
        ("read_file", {"path": "nope.txt"}),
        ("read_file", {"path": "docs"}),
        ("read_file", {"path": "."}),
        ("read_file", {"path": "notes.txt/x"}),
        ("list_files", {"path": "nope"}),
        ("search_files", {"query": "x", "path": "nope"}),
    ):
        result = await toolset.call_tool(name, args, ctx)
        assert result.is_error, (name, args)


async def test_list_files(root: Path, ctx: RunContext) -> None:
    toolset = FileToolset(root)
    top = await toolset.call_tool("list_files", {}, ctx)
    assert top.content == {
        "path": ".",
        "entries": [
            {"path": "docs", "type": "dir"},
            {"path": "notes.txt", "type": "file", "size": 17},
        ],
        "truncated": False,
    }
    deep = await toolset.call_tool("list_files", {"recursive": True, "pattern": "*.md"}, ctx)
    assert [e["path"] for e in deep.content["entries"]] == ["docs/guide.md"]
    sub = await toolset.call_tool("list_files", {"path": "./docs/"}, ctx)
    assert sub.content["path"] == "docs"


async def test_list_and_search_stop_at_max_results(root: Path, ctx: RunContext) -> None:
    for i in range(30):
        (root / f"f{i:02d}.txt").write_text("needle\nneedle\n")
    toolset = FileToolset(root, max_results=5)
    listed = await toolset.call_tool("list_files", {}, ctx)
    assert len(listed.content["entries"]) == 5 and listed.content["truncated"] is True
    found = await toolset.call_tool("search_files", {"query": "needle"}, ctx)
    assert len(found.content["matches"]) == 5 and found.content["truncated"] is True
    few = FileToolset(root, max_scan_entries=10)
    scanned = await few.call_tool("search_files", {"query": "needle", "glob": "f2*"}, ctx)
    assert scanned.content["truncated"] is True and "10 entries" in scanned.content["note"]


async def test_search_files(root: Path, ctx: RunContext) -> None:
    toolset = FileToolset(root)
    found = await toolset.call_tool("search_files", {"query": "INSTALL"}, ctx)
    assert found.content["matches"] == [
        {"path": "docs/guide.md", "line": 3, "text": "Install with pip."}
    ]
    exact = await toolset.call_tool(
        "search_files", {"query": "INSTALL", "case_sensitive": True}, ctx
    )
    assert exact.content["matches"] == []
    pattern = await toolset.call_tool(
        "search_files", {"query": r"^(alpha|gamma)$", "regex": True, "path": "."}, ctx
    )
    assert [(m["path"], m["line"]) for m in pattern.content["matches"]] == [
        ("notes.txt", 1),
        ("notes.txt", 3),
    ]
    only_md = await toolset.call_tool("search_files", {"query": "a", "glob": "*.md"}, ctx)
    assert {m["path"] for m in only_md.content["matches"]} == {"docs/guide.md"}
    under = await toolset.call_tool("search_files", {"query": "a", "path": "docs"}, ctx)
    assert {m["path"] for m in under.content["matches"]} == {"docs/guide.md"}
    empty = await toolset.call_tool("search_files", {"query": ""}, ctx)
    assert empty.is_error


async def test_write_creates_refuses_to_clobber_and_replaces_atomically(
    root: Path, ctx: RunContext
) -> None:
    toolset = FileToolset(root, write=True)
    made = await toolset.call_tool("write_file", {"path": "out/deep/new.md", "content": "one"}, ctx)
    assert made.content == "Created out/deep/new.md (3 bytes)."
    assert (root / "out" / "deep" / "new.md").read_text() == "one"
    again = await toolset.call_tool("write_file", {"path": "out/deep/new.md", "content": "x"}, ctx)
    assert again.is_error and "overwrite" in again.content
    os.chmod(root / "notes.txt", 0o640)
    inode = (root / "notes.txt").stat().st_ino
    replaced = await toolset.call_tool(
        "write_file", {"path": "notes.txt", "content": "new\n", "overwrite": True}, ctx
    )
    assert replaced.content == "Replaced notes.txt (4 bytes)."
    after = (root / "notes.txt").stat()
    assert (root / "notes.txt").read_text() == "new\n"
    assert after.st_ino != inode  # a new file renamed over the old one
    assert stat.S_IMODE(after.st_mode) == 0o640  # the old file's mode is kept
    assert sorted(os.listdir(root)) == ["docs", "notes.txt", "out"]  # no temp left
    onto_dir = await toolset.call_tool(
        "write_file", {"path": "docs", "content": "x", "overwrite": True}, ctx
    )
    assert onto_dir.is_error and "directory" in onto_dir.content
    under_file = await toolset.call_tool("write_file", {"path": "notes.txt/x", "content": "x"}, ctx)
    assert under_file.is_error


async def test_delete_file(root: Path, ctx: RunContext) -> None:
    (root / "link").symlink_to("notes.txt")
    toolset = FileToolset(root, write=True, delete=True)
    assert (await toolset.call_tool("delete_file", {"path": "docs"}, ctx)).is_error
    assert (await toolset.call_tool("delete_file", {"path": "link"}, ctx)).is_error
    assert (await toolset.call_tool("delete_file", {"path": "nope"}, ctx)).is_error
    done = await toolset.call_tool("delete_file", {"path": "notes.txt"}, ctx)
    assert done.content == "Deleted notes.txt." and not (root / "notes.txt").exists()
    assert (root / "link").is_symlink()


def test_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not an existing directory"):
        FileToolset(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigurationError):
        FileToolset(tmp_path / "file")
    with pytest.raises(ConfigurationError, match="write=True"):
        FileToolset(tmp_path, delete=True)
    with pytest.raises(ConfigurationError, match="max_read_bytes"):
        FileToolset(tmp_path, max_read_bytes=0)
    with pytest.raises(ConfigurationError, match="id"):
        FileToolset(tmp_path, id="has space")
    assert repr(FileToolset(tmp_path)) == f"FileToolset({str(tmp_path)!r}, read-only, id='files')"


async def test_a_root_removed_under_the_toolset_gives_error_results(
    tmp_path: Path, ctx: RunContext
) -> None:
    root = tmp_path / "gone"
    root.mkdir()
    toolset = FileToolset(root, write=True)
    root.rmdir()
    for name, args in (
        ("read_file", {"path": "a.txt"}),
        ("list_files", {}),
        ("search_files", {"query": "x"}),
        ("write_file", {"path": "a.txt", "content": "x"}),
    ):
        result = await toolset.call_tool(name, args, ctx)
        assert result.is_error and str(tmp_path) not in result.content, (name, result.content)
