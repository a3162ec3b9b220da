"""The trace spans tests of `StoreSuite`.

Added in batches, listed by trace.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from covey.conformance.store.common import T0, StoreScopes, ids_of
from covey.spec.store import Store, TraceSpan


class SpanTests:
    """A part of `StoreSuite`: its tests run through `StoreSuite`, in every store's tests."""

    # --- traces ----------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_trace_spans(self, store: Store, conformance_scopes: StoreScopes) -> None:
        """Spans are stored per trace, listed by start time, and replaced when re-sent.

        If this fails: key spans by `(tenant, trace_id, span_id)`, upsert them, and order a
        trace's spans by `(start, span_id)`.
        """
        scope = conformance_scopes.alice
        spans = [
            TraceSpan(
                trace_id="t1",
                span_id="child",
                parent_span_id="root",
                name="tool zoom",
                start=T0 + timedelta(milliseconds=5),
                end=T0 + timedelta(milliseconds=9),
                attributes={"tool": "zoom", "n": 2},
            ),
            TraceSpan(
                trace_id="t1",
                span_id="root",
                name="run",
                start=T0,
                end=None,
                status="unset",
            ),
            TraceSpan(trace_id="t2", span_id="other", name="run", start=T0),
        ]
        await store.add_spans(scope, spans)
        got = await store.list_spans(scope, "t1")
        assert ids_of(got, "span_id") == ["root", "child"]
        assert got[1].attributes == {"tool": "zoom", "n": 2}
        assert got[1].parent_span_id == "root"
        assert got[0].user_id == "alice"
        await store.add_spans(
            scope,
            [spans[1].model_copy(update={"end": T0 + timedelta(seconds=1), "status": "error"})],
        )
        root = (await store.list_spans(scope, "t1"))[0]
        assert (root.end, root.status) == (T0 + timedelta(seconds=1), "error")
        assert len(await store.list_spans(scope, "t1")) == 2
        assert await store.list_spans(scope, "missing") == []
