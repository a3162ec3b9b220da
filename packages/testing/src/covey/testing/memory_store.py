"""`InMemoryStore`: the conformance suite's reference `Store`, kept in dicts.

A test double, not the production store: `memory://` is covey-db-memory's `MemoryStore`.
"""

from __future__ import annotations

from covey.testing.memory_history import InMemoryHistory
from covey.testing.memory_operations import InMemoryOperations
from covey.testing.memory_records import InMemoryRecords
from covey.testing.memory_tables import M as M  # the type variable this module always had

__all__ = ["InMemoryStore"]


class InMemoryStore(InMemoryHistory, InMemoryRecords, InMemoryOperations):
    """The reference `Store`: every rule of the interface, in process memory, simply.

    `covey-conformance` proves `StoreSuite` against it (and against subclasses with one rule
    broken, to show the suite catches each bug). It is a test double, not what `memory://`
    serves: that is `covey.db.memory.MemoryStore` (covey-db-memory), bounded and without a JSON
    round trip per call. Use this one to check a suite or to fake a store in a plugin's tests.

    Rows go in and out through a JSON round trip, so callers can never change a stored row by
    mutating an object, and anything a database could not store fails here too. One `anyio.Lock`
    serialises every call, so concurrent tasks see each call happen at once.

    Example:
        ```python
        store = InMemoryStore()
        saved = await store.save_session(Scope(), Session(agent_id="a"), expected_version=0)
        ```
    """

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
