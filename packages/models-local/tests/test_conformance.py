"""`MiniLMEmbedder` passes the shared `EmbedderSuite` unchanged."""

from __future__ import annotations

import pytest

from covey.conformance import EmbedderSuite
from covey.models.local import MiniLMEmbedder


class TestMiniLMEmbedderConformance(EmbedderSuite):
    @pytest.fixture
    def embedder(self) -> MiniLMEmbedder:
        return MiniLMEmbedder()
