"""The built wheel installs alone (with covey-spec and covey-tools-web, whose SSRF-guarded
fetcher it reads URLs through) and says what to install for the rest."""

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
        # Beautiful Soup comes with covey-tools-web: HTML reads without the [html] extra.
        print(HtmlReader().read(b"<main><p>Kettles</p></main>")[0].text)

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
    wheels = [
        build_wheel(PACKAGE, dist),
        build_wheel(PACKAGES / "spec", dist),
        build_wheel(PACKAGES / "tools-web", dist),
    ]
    venv = fresh_venv(tmp_path / "venv")
    venv.install(*wheels)

    assert venv.run(ALONE).strip().splitlines() == ["pip install covey-models-local", "Kettles"]
    covey = {n for n in venv.distributions() if n.startswith("covey-")}
    assert covey == {"covey-knowledge", "covey-spec", "covey-tools-web"}
    assert not {"pypdf", "python-docx", "onnxruntime"} & venv.distributions()

    venv.install(build_wheel(PACKAGES / "testing", dist), build_wheel(PACKAGES / "db-memory", dist))
    assert venv.run(WITH_PARTS).strip().splitlines()[-1] == "k.txt"
