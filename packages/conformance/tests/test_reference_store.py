"""The reference `InMemoryStore` passes `StoreSuite`."""

from __future__ import annotations

import pytest

from covey.conformance import StoreSuite
from covey.spec.store import Store
from covey.testing import InMemoryStore


class TestInMemoryStore(StoreSuite):
    @pytest.fixture
    def store(self) -> Store:
        return InMemoryStore()
