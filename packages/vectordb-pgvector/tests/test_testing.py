"""`PgVectorServer` without its extra says what to install."""

from __future__ import annotations

import sys

import pytest

from covey.vectordb.pgvector.testing import PgVectorServer


def test_missing_pgserver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pgserver", None)
    server = PgVectorServer()
    with pytest.raises(ImportError, match=r"pip install covey-vectordb-pgvector\[testing\]"):
        server.start()
    assert repr(server) == "PgVectorServer(stopped)"
    with pytest.raises(RuntimeError, match="not started"):
        server.url()
