from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The tests import their server module by name (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from a2a_servers import A2AServer


@pytest.fixture(scope="module")
def remote() -> Iterator[str]:
    """The base URL of the SDK-built A2A agents (one server per module)."""
    server = A2AServer().start()
    yield server.url
    server.stop()
