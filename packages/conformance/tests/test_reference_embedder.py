"""The reference `HashEmbedder` passes `EmbedderSuite`."""

from __future__ import annotations

import pytest

from covey.conformance import EmbedderSuite
from covey.spec.embeddings import Embedder
from covey.testing import HashEmbedder


class TestHashEmbedder(EmbedderSuite):
    @pytest.fixture
    def embedder(self) -> Embedder:
        return HashEmbedder()


class TestHashEmbedderSmallBatches(EmbedderSuite):
    """Batches smaller than the suite's inputs exercise the batch-size contract."""

    @pytest.fixture
    def embedder(self) -> Embedder:
        return HashEmbedder(dimensions=256, max_batch_size=3)
