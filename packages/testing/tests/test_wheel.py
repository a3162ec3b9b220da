"""The covey-testing wheel installs alone with the covey-spec wheel, brings no other Covey
package and no third-party library beyond covey-spec's, and its doubles work from the installed
files (the loopback server over real HTTP)."""

from __future__ import annotations

import textwrap
import zipfile
from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE = Path(__file__).resolve().parents[1]
SPEC = PACKAGE.parent / "spec"

SMOKE = textwrap.dedent(
    """
    import asyncio, json, urllib.request

    from covey.spec import ModelRequest, ModelRequestParams
    from covey.spec.store import Scope, Session
    from covey.testing import EchoChatModel, HashEmbedder, InMemoryStore
    from covey.testing.http import Exchange, LoopbackServer, RecordedRequest

    class Fake(LoopbackServer[RecordedRequest, str]):
        def serve(self, exchange: Exchange) -> None:
            _, scripted = self.record(exchange.request)
            exchange.send(200, json.dumps({"text": scripted}).encode())

    async def main():
        reply = await EchoChatModel().request([ModelRequest.user("hi")], None, ModelRequestParams())
        [vector] = await HashEmbedder(dimensions=8).embed(["a b"])
        saved = await InMemoryStore().save_session(Scope(), Session(id="s"), expected_version=0)
        return reply.text(), len(vector), saved.version

    with Fake(["pong"]) as server:
        with urllib.request.urlopen(server.url + "/ping") as answer:
            body = json.load(answer)
    print(*asyncio.run(main()), body["text"])
    """
)


@pytest.mark.slow
def test_wheel_installs_alone_with_covey_spec(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    wheel = build_wheel(PACKAGE, dist)
    names = zipfile.ZipFile(wheel).namelist()
    assert "covey/__init__.py" not in names
    assert "covey/testing/py.typed" in names
    assert "covey/testing/http.py" in names

    venv = fresh_venv(tmp_path / "venv")
    venv.install(wheel, build_wheel(SPEC, dist))

    assert venv.run(SMOKE).strip().splitlines()[-1] == "hi 8 1 pong"
    installed = venv.distributions()
    assert {n for n in installed if n.startswith("covey-")} == {"covey-spec", "covey-testing"}
    assert not installed & {"hypothesis", "httpx", "pytest", "openai"}, sorted(installed)
