"""The parts `covey.conformance.StoreSuite` is assembled from: one mixin of tests per domain.

Each mixin holds the tests of one part of the `Store` interface; `StoreSuite` inherits them all
and adds the two fixtures, so a store's test class still subclasses `StoreSuite` alone. The
mixins are not suites of their own: `covey.conformance.rules` counts their tests as the suite's.
"""
