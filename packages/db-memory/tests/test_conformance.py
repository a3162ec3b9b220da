"""`MemoryStore` passes `StoreSuite` unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from covey.conformance import StoreSuite
from covey.db.memory import MemoryStore


class TestMemoryStore(StoreSuite):
    @pytest.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        async with MemoryStore() as store:
            yield store
