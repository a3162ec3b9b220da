"""`files` and `files:PATH` tool references: the entry point and `from_reference`."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

from covey.spec import plugins
from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.tools.files import FileToolset, from_reference


def test_entry_point_is_registered() -> None:
    [found] = entry_points(group="covey.tools", name="files")
    assert found.load() is from_reference


async def test_from_reference_is_read_only_and_rooted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ctx = RunContext(run_id="r")
    here = from_reference(None)
    assert isinstance(here, FileToolset) and here.root == str(tmp_path)
    assert here.id == "files" and not here.write
    assert {t.name for t in await here.list_tools(ctx)} == {
        "read_file",
        "list_files",
        "search_files",
    }
    (tmp_path / "sub").mkdir()
    assert from_reference("sub").root == str(tmp_path / "sub")
    with pytest.raises(ConfigurationError):
        from_reference("does-not-exist")


def test_resolve_toolset() -> None:
    resolve = getattr(plugins, "resolve_toolset", None)
    if resolve is None:
        pytest.skip("covey.spec.plugins.resolve_toolset is not on this branch yet")
    toolset = resolve("files")
    assert isinstance(toolset, FileToolset) and not toolset.write
