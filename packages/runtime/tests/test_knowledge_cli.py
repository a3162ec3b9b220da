"""`covey knowledge ingest | search | ls`, run as the installed command in a project folder
whose app serves a knowledge base on LanceDB (on disk) with a SQLite store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

COVEY = Path(sys.executable).parent / "covey"

APP = """
from covey.knowledge import Knowledge
from covey.runtime import Registry
from covey.testing import HashEmbedder

docs = Knowledge("docs", vector_store="lancedb:///.covey/lancedb", embedder=HashEmbedder())
registry = Registry(knowledge=[docs])
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "notes").mkdir(parents=True)
    (folder / "kbapp.py").write_text(APP)
    (folder / "covey.toml").write_text(
        'agents = "kbapp:registry"\nstore = "sqlite:///.covey/covey.db"\n'
    )
    (folder / "notes" / "otters.md").write_text(
        "# Otters\n\nSea otters hold hands while they sleep.\n"
    )
    (folder / "notes" / "bees.txt").write_text("Honey bees dance to show where flowers are.\n")
    return folder


def covey(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVEY_")}
    return subprocess.run(
        [str(COVEY), *args], cwd=project, env=env, capture_output=True, text=True, timeout=120
    )


def test_ingest_then_search_and_list_from_the_command_line(project: Path) -> None:
    """Fails if `covey knowledge ingest` does not ingest a folder into the app's knowledge base
    and store (reporting files and chunks), or `search` / `ls` do not find what it stored.
    (Four commands only: importing LanceDB takes seconds per process.)"""
    ingested = covey(
        project, "knowledge", "ingest", "docs", "notes", "--metadata", '{"shelf": "a"}'
    )
    assert ingested.returncode == 0, ingested.stderr
    assert "otters.md: 1 chunks" in ingested.stderr
    assert "files 2  chunks 2  embedded 2" in ingested.stderr

    found = covey(project, "knowledge", "search", "docs", "otters sleep", "-k", "1", "--json")
    assert found.returncode == 0, found.stderr
    [hit] = json.loads(found.stdout)
    assert hit["name"] == "otters.md"
    assert hit["metadata"]["shelf"] == "a"

    listed = covey(project, "knowledge", "ls", "docs", "--json")
    rows = json.loads(listed.stdout)
    assert sorted(r["name"] for r in rows) == ["bees.txt", "otters.md"]
    assert {r["status"] for r in rows} == {"completed"}

    # Another tenant's listing and search see none of it.
    other = covey(project, "knowledge", "search", "docs", "otters", "--tenant", "globex")
    assert other.stdout == "No passages found.\n"


def test_an_unknown_knowledge_base_is_a_configuration_error(project: Path) -> None:
    """Fails if a typo in the knowledge base's name is not exit status 2 naming those served."""
    result = covey(project, "knowledge", "ls", "dcos")
    assert result.returncode == 2
    assert "No knowledge base 'dcos'" in result.stderr
    assert "docs" in result.stderr
