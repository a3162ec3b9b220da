"""`StoreSuite`: what every `covey.spec.store.Store` implementation must do.

Subclass it in your plugin's tests and supply one fixture, `store`, returning a ready store::

    class TestSQLiteStore(StoreSuite):
        @pytest.fixture
        async def store(self, tmp_path):
            async with SQLStore(f"sqlite+aiosqlite:///{tmp_path}/covey.db") as store:
                yield store

Every test works in tenants with random names, so the store need not be empty, but it must
not be shared with tests running at the same time. Tests are marked `@pytest.mark.asyncio`; in
pytest-asyncio's strict mode declare the fixture with `@pytest_asyncio.fixture`.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

import pytest

from covey.conformance.store.approvals import ApprovalTests
from covey.conformance.store.common import StoreScopes
from covey.conformance.store.directory import DirectoryTests
from covey.conformance.store.events import EventTests
from covey.conformance.store.isolation import IsolationTests
from covey.conformance.store.knowledge import KnowledgeTests
from covey.conformance.store.memories import MemoryTests
from covey.conformance.store.run_claims import RunClaimTests
from covey.conformance.store.runs import RunTests
from covey.conformance.store.schedules import ScheduleTests
from covey.conformance.store.sessions import SessionTests
from covey.conformance.store.spans import SpanTests
from covey.conformance.store.validation import ValidationTests
from covey.spec.store import Scope, Store

__all__ = ["StoreScopes", "StoreSuite"]


# pytest runs inherited tests base-most first: the mixins are listed last domain first so that
# the tests run in the order they always did, sessions first.
class StoreSuite(
    ValidationTests,
    IsolationTests,
    SpanTests,
    ScheduleTests,
    ApprovalTests,
    KnowledgeTests,
    DirectoryTests,
    MemoryTests,
    EventTests,
    RunClaimTests,
    RunTests,
    SessionTests,
):
    """Conformance tests for a `Store`. Supply the `store` fixture; see the module docs."""

    __covey_conformance_suite__: ClassVar[bool] = True

    @pytest.fixture
    def store(self) -> Store:
        """The store under test: override this fixture in your subclass."""
        pytest.fail(
            "StoreSuite needs a `store` fixture: define `store` in your subclass, returning (or "
            "yielding) a Store ready to use.",
            pytrace=False,
        )

    @pytest.fixture
    def conformance_scopes(self) -> StoreScopes:
        """Fresh tenants for one test, so tests never see each other's rows."""
        suffix = uuid.uuid4().hex[:12]
        a, b = f"tenant-a-{suffix}", f"tenant-b-{suffix}"
        return StoreScopes(
            tenant=Scope(a),
            alice=Scope(a, "alice"),
            bob=Scope(a, "bob"),
            other_tenant=Scope(b),
            other_alice=Scope(b, "alice"),
        )
