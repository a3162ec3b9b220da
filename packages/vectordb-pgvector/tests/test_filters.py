"""The filter compiler puts no field name or value into the SQL text: all are bound parameters."""

from __future__ import annotations

import json
import math

from covey.spec.vectors import And, Eq, In, Not, Or, Range
from covey.vectordb.pgvector.filters import compile_filter

EVIL = "x'); DROP TABLE t; --"


def test_values_and_fields_are_bound_never_pasted() -> None:
    flt = And(
        Eq("evil_field", EVIL),
        In("tag", [EVIL, 7, True]),
        Or(Range("date", gte=EVIL, lt=EVIL + "z"), Not(Range("n", gt=-1.5, lte=10**30))),
    )
    compiled = compile_filter(flt)
    for fragment in (EVIL, "evil_field", "DROP", "1.5", str(10**30), "tag", "date"):
        assert fragment not in compiled.sql, fragment
    bound = json.dumps(compiled.params)
    assert "evil_field" in bound
    assert "DROP TABLE" in bound
    assert str(10**30) in bound
    assert set(compiled.params) == {f"f{i}" for i in range(len(compiled.params))}


def test_prefix_keeps_parameter_names_apart() -> None:
    compiled = compile_filter(Eq("a", 1), prefix="g")
    assert list(compiled.params) == ["g0"]
    assert ":g0" in compiled.sql


def test_no_filter_and_impossible_filters_compile_to_constants() -> None:
    assert compile_filter(None).sql == "TRUE"
    assert compile_filter(In("a", [])).sql == "FALSE"
    assert compile_filter(Eq("a", math.nan)).sql == "FALSE"
    assert compile_filter(Range("a", gt=math.inf)).sql == "FALSE"
    assert compile_filter(Range("a", gte=math.nan)).sql == "FALSE"
