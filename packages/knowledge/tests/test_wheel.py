"""The built wheel installs alone (with covey-spec only) and says what to install for the rest."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE = Path(__file__).resolve().parent.parent
PACKAGES = PACKAGE.parent

ALONE = textwrap.dedent(
    """
    import asyncio
    from covey.knowledge import HtmlReader, Knowledge
    from covey.spec.errors import ConfigurationError

    async def main():
        try:
            await Knowledge("docs").search("anything")
        except ConfigurationError as exc:
            print(exc.install)
        try:
            HtmlReader().read(b"<p>x</p>")
        except ConfigurationError as exc:
            print(str(exc).rsplit(": ", 1)[1])

    asyncio.run(main())
    """
)

WITH_PARTS = textwrap.dedent(
    """
    import asyncio
    from covey.knowledge import Knowledge
    from covey.testing import HashEmbedder, InMemoryVectorStore

    async def main():
        kb = Knowledge("docs", vector_store=InMemoryVectorStore(), embedder=HashEmbedder())
        await kb.ingest_text("Kettles boil water.", name="k.txt")
        [hit] = await kb.search("kettles", k=1)
        print(hit.name)

    asyncio.run(main())
    """
)


@pytest.mark.slow
def test_wheel_installs_alone_and_names_what_is_missing(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    wheels = [build_wheel(PACKAGE, dist), build_wheel(PACKAGES / "spec", dist)]
    venv = fresh_venv(tmp_path / "venv")
    venv.install(*wheels)

    assert venv.run(ALONE).strip().splitlines() == [
        "pip install covey-models-local",
        'pip install "covey-knowledge[html]"',
    ]
    covey = {n for n in venv.distributions() if n.startswith("covey-")}
    assert covey == {"covey-knowledge", "covey-spec"}
    assert not {"pypdf", "python-docx", "beautifulsoup4", "onnxruntime"} & venv.distributions()

    venv.install(build_wheel(PACKAGES / "testing", dist), build_wheel(PACKAGES / "db-memory", dist))
    assert venv.run(WITH_PARTS).strip().splitlines()[-1] == "k.txt"
