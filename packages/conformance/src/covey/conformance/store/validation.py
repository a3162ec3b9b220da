"""The validation and lifecycle tests of `StoreSuite`.

Bad ids are refused, the longest id works, close is idempotent.
"""

from __future__ import annotations

import pytest

from covey.conformance.store.common import BAD_IDS, ID_TAKERS, StoreScopes
from covey.spec.errors import InvalidInputError
from covey.spec.store import MAX_ID_LENGTH, Session, Store


class ValidationTests:
    """A part of `StoreSuite`: its tests run through `StoreSuite`, in every store's tests."""

    # --- validation and lifecycle ----------------------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.parametrize("operation", sorted(ID_TAKERS))
    async def test_invalid_ids_are_refused(
        self, store: Store, conformance_scopes: StoreScopes, operation: str
    ) -> None:
        """Empty, over-long, or control-character ids raise `InvalidInputError`.

        If this fails: call `covey.spec.store.check_id` on every id a method receives, before
        touching the database.
        """
        call = ID_TAKERS[operation]
        for bad in BAD_IDS:
            with pytest.raises(InvalidInputError):
                await call(store, conformance_scopes.tenant, bad)

    @pytest.mark.asyncio
    async def test_longest_valid_id_is_accepted(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """An id of exactly `MAX_ID_LENGTH` characters, with non-ASCII letters, works.

        If this fails: size id columns for 255 characters (not bytes) of Unicode.
        """
        scope = conformance_scopes.alice
        long_id = "é" * MAX_ID_LENGTH
        await store.save_session(scope, Session(id=long_id), expected_version=0)
        got = await store.get_session(scope, long_id)
        assert got is not None
        assert got.id == long_id

    @pytest.mark.asyncio
    async def test_close_is_idempotent_and_context_manager_works(self, store: Store) -> None:
        """`async with store` returns the store; `close` may be called twice.

        If this fails: return `self` from `__aenter__` and make `close` a no-op once closed.
        """
        async with store as entered:
            assert entered is store
        await store.close()
