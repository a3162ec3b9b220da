"""The covey-models-google wheel installed alone (with the covey-spec wheel) into a fresh venv.

Checks that it brings google-genai and neither of the other providers' SDKs, registers its entry
points, imports without loading the SDK, and works end to end against `FakeGeminiServer` from
the installed files (its fake server once covey-testing, the `testing` extra, is installed too;
without it, importing the fake server says what to install). Needs the package index (to install google-genai); it fails, never skips,
when a build or an install breaks.
"""

from __future__ import annotations

import textwrap
import zipfile
from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE_DIR = Path(__file__).resolve().parents[1]
SPEC_DIR = PACKAGE_DIR.parent / "spec"
TESTING_DIR = PACKAGE_DIR.parent / "testing"

# Runs inside the fresh venv before covey-testing is installed: the fake server says what to add.
WITHOUT_EXTRA = textwrap.dedent(
    """
    try:
        import covey.models.google.testing
    except ImportError as error:
        print(error)
    else:
        print("imported")
    """
)

PROBE = r"""
import asyncio, importlib.metadata as md, json, os, re, sys

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

import covey.models.google
from covey.spec import plugins
loaded_on_import = sorted(m for m in sys.modules if m.split(".")[0] in {"google", "httpx2"})
described = {k: sorted(i.name for i in v) for k, v in plugins.describe().items()}

from covey.models.google.testing import FakeGeminiServer, text_answer
from covey.models.google.testing_vertex import (
    FakeGoogleOAuthServer, FakeVertexServer, write_service_account,
)
from covey.spec import ModelRequest, ModelRequestParams
import tempfile, pathlib

async def main():
    with FakeGeminiServer([text_answer("from the wheel")]) as server:
        # Read at the first request, so the models resolved from strings find them.
        os.environ["GEMINI_API_KEY"] = "fake-key"
        os.environ["GOOGLE_GEMINI_BASE_URL"] = server.url
        model = plugins.resolve_model("google:gemini-2.5-flash")
        response = await model.request([ModelRequest.user("hi")], None, ModelRequestParams())
        await model.aclose()
        embedder = plugins.resolve_embedder("google:gemini-embedding-001:8")
        server.add({"embeddings": [{"values": [1.0] * 8}]})
        vectors = await embedder.embed(["x"])
        await embedder.aclose()
    # Vertex AI: a service-account file, a signed JWT traded for a token, the token on the call.
    with FakeGoogleOAuthServer() as oauth, FakeVertexServer(oauth=oauth) as vertex:
        key = write_service_account(pathlib.Path(tempfile.mkdtemp()) / "sa.json", oauth)
        os.environ["GOOGLE_APPLICATION_CREDENTIALS"] = str(key)
        os.environ["GOOGLE_VERTEX_BASE_URL"] = vertex.url
        model = plugins.resolve_model("vertex:gemini-2.5-flash")
        vertex.add(text_answer("from vertex"))
        answer = await model.request([ModelRequest.user("hi")], None, ModelRequestParams())
        await model.aclose()
        embedder = plugins.resolve_embedder("vertex:text-embedding-005:16")
        vertex_vectors = await embedder.embed(["x", "y"])
        await embedder.aclose()
        vertex_report = {
            "text": answer.text(),
            "path": vertex.requests[0].path,
            "token_used": vertex.requests[0].headers["authorization"] == f"Bearer {oauth.issued[0]}",
            "verified": oauth.requests[0].verified,
            "sizes": [len(v) for v in vertex_vectors],
        }
    return response.text(), len(vectors[0]), vertex_report

text, size, vertex_report = asyncio.run(main())
print(json.dumps({
    "installed": sorted(norm(d.metadata["Name"]) for d in md.distributions()),
    "loaded_on_import": loaded_on_import,
    "described": described,
    "covey_namespace_file": getattr(sys.modules["covey"], "__file__", None),
    "text": text,
    "size": size,
    "vertex": vertex_report,
}))
"""


@pytest.mark.slow
def test_wheel_installs_alone_with_only_the_google_sdk(tmp_path: Path) -> None:
    """Fails if the wheel pulls in openai or anthropic, misses google-genai (or google-auth,
    which Vertex AI's credentials need), ships
    `covey/__init__.py` or `covey/models/__init__.py`, loses an entry point, or cannot answer a
    request from its installed files. To fix: correct pyproject.toml's dependencies / entry
    points or the offending import."""
    dist = tmp_path / "dist"
    spec_wheel = build_wheel(SPEC_DIR, dist)
    wheel = build_wheel(PACKAGE_DIR, dist)
    names = zipfile.ZipFile(wheel).namelist()
    assert "covey/__init__.py" not in names
    assert "covey/models/__init__.py" not in names
    assert "covey/models/google/py.typed" in names
    assert "covey/models/google/testing.py" in names
    assert "covey/models/google/testing_vertex.py" in names
    assert "covey/models/google/vertex.py" in names

    venv = fresh_venv(tmp_path / "venv")
    venv.install(spec_wheel, wheel)
    alone = {name for name in venv.distributions() if name.startswith("covey-")}
    assert alone == {"covey-models-google", "covey-spec"}
    assert venv.run(WITHOUT_EXTRA).strip().splitlines()[-1] == (
        "covey.models.google.testing needs covey-testing: pip install covey-models-google[testing]"
    )

    venv.install(build_wheel(TESTING_DIR, dist))
    report = venv.run_json(PROBE)

    installed = set(report["installed"])
    assert {"covey-spec", "covey-models-google", "google-genai", "google-auth"} <= installed
    assert not installed & {"openai", "anthropic"}, sorted(installed)
    assert report["loaded_on_import"] == []
    assert report["covey_namespace_file"] is None
    assert report["described"]["models"] == ["gemini", "google", "vertex"]
    assert report["described"]["embedders"] == ["google", "vertex"]
    assert report["text"] == "from the wheel"
    assert report["size"] == 8
    assert report["vertex"] == {
        "text": "from vertex",
        "path": "/v1beta1/projects/covey-test-project/locations/global/publishers/google/models/"
        "gemini-2.5-flash:generateContent",
        "token_used": True,
        "verified": True,
        "sizes": [16, 16],
    }
