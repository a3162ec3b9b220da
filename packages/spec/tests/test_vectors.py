"""The filter language, its reference semantics, queries and rank fusion."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from covey.spec.errors import (
    EmbedderMismatchError,
    InvalidInputError,
    NotFoundError,
    VectorStoreError,
)
from covey.spec.vectors import (
    And,
    CollectionInfo,
    CollectionNotFoundError,
    Eq,
    Filter,
    In,
    Not,
    Or,
    Range,
    Record,
    VectorQuery,
    check_collection_name,
    check_embedder,
    check_records,
    load_filter,
    matches,
    reciprocal_rank_fusion,
)

# --- building filters ----------------------------------------------------------------------------


def test_positional_and_keyword_constructors_agree() -> None:
    assert Eq("lang", "en") == Eq(field="lang", value="en")
    assert In("lang", ["en", "fr"]) == In(field="lang", values=("en", "fr"))
    assert Range("year", gte=2020) == Range(field="year", gte=2020)
    assert And(Eq("a", 1), Eq("b", 2)) == And(filters=[Eq("a", 1), Eq("b", 2)])
    assert Or(Eq("a", 1)) == Or(filters=[Eq("a", 1)])
    assert Not(Eq("a", 1)) == Not(filter=Eq("a", 1))


def test_operators_build_trees() -> None:
    a, b, c = Eq("a", 1), Eq("b", 2), Eq("c", 3)
    assert (a & b) == And(a, b)
    assert (a | b) == Or(a, b)
    assert ~a == Not(a)
    assert (a & b | ~c) == Or(And(a, b), Not(c))


def test_filters_round_trip_through_json() -> None:
    tree = And(
        Eq("lang", "en"),
        Or(In("year", [2020, "2021", 2.5, True]), Not(Range("date", gte="2024", lt="2025"))),
    )
    data = tree.model_dump_json()
    loaded = load_filter(data)
    assert loaded == tree
    assert load_filter(tree.model_dump()) == tree
    eq = load_filter('{"op": "eq", "field": "flag", "value": true}')
    assert isinstance(eq, Eq)
    assert eq.value is True


def test_scalar_types_are_kept() -> None:
    assert type(Eq("a", True).value) is bool
    assert type(Eq("a", 1).value) is int
    assert type(Eq("a", 1.0).value) is float
    assert type(Eq("a", "1").value) is str


def test_filters_are_frozen_and_hashable() -> None:
    flt = And(Eq("a", 1), In("b", ["x"]))
    assert hash(flt) == hash(And(Eq("a", 1), In("b", ["x"])))
    with pytest.raises(ValidationError):
        flt.filters = ()  # pyright: ignore[reportAttributeAccessIssue]


@pytest.mark.parametrize(
    "build",
    [
        lambda: Eq("1starts_with_digit", 1),
        lambda: Eq("has space", 1),
        lambda: Eq("semi;colon", 1),
        lambda: Eq("x" * 65, 1),
        lambda: Eq("", 1),
        lambda: Eq("a", [1, 2]),
        lambda: Range("a"),
        lambda: Range("a", gt=1, lt="z"),
        lambda: Range("a", gte=True),
        lambda: And(),
        lambda: Or(),
        lambda: load_filter({"op": "eq", "field": "a", "value": 1, "typo": 2}),
        lambda: load_filter({"op": "like", "field": "a", "value": "x"}),
        lambda: load_filter({"op": "eq", "value": 1}),
    ],
)
def test_invalid_filters_are_refused(build: Any) -> None:
    with pytest.raises(ValidationError):
        build()


# --- reference semantics -------------------------------------------------------------------------

METADATA: dict[str, Any] = {
    "lang": "en",
    "year": 2021,
    "score": 2.0,
    "draft": False,
    "count": 0,
    "date": "2024-03-01",
    "tags": ["a", "b"],
    "nested": {"k": "v"},
    "nothing": None,
}


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (Eq("lang", "en"), True),
        (Eq("lang", "EN"), False),
        (Eq("year", 2021), True),
        (Eq("year", 2021.0), True),
        (Eq("score", 2), True),
        (Eq("year", "2021"), False),
        (Eq("draft", False), True),
        (Eq("draft", 0), False),
        (Eq("count", False), False),
        (Eq("count", 0), True),
        (Eq("missing", "x"), False),
        (Eq("tags", "a"), False),
        (Eq("nested", "v"), False),
        (Eq("nothing", "x"), False),
        (In("lang", ["fr", "en"]), True),
        (In("lang", []), False),
        (In("draft", [0, 1]), False),
        (In("missing", ["x"]), False),
        (In("tags", ["a"]), False),
        (Range("year", gte=2021), True),
        (Range("year", gt=2021), False),
        (Range("year", gt=2020, lt=2022), True),
        (Range("year", lte=2020), False),
        (Range("score", gte=1.5, lte=2.0), True),
        (Range("date", gte="2024-01-01", lt="2025"), True),
        (Range("date", lt="2024-03-01"), False),
        (Range("year", gte="2000"), False),
        (Range("lang", gte=1), False),
        (Range("draft", gte=0), False),
        (Range("missing", gte=0), False),
        (Range("tags", gte="a"), False),
        (Not(Eq("missing", "x")), True),
        (Not(Range("missing", gte=0)), True),
        (Not(In("missing", ["x"])), True),
        (Not(Eq("lang", "en")), False),
        (And(Eq("lang", "en"), Eq("year", 2021)), True),
        (And(Eq("lang", "en"), Eq("year", 2020)), False),
        (Or(Eq("lang", "fr"), Eq("year", 2021)), True),
        (Or(Eq("lang", "fr"), Eq("missing", 1)), False),
        (Not(Not(Eq("lang", "en"))), True),
        (And(Not(Eq("missing", 1)), Or(Eq("draft", True), Range("score", gt=1))), True),
    ],
    ids=repr,
)
def test_matches_reference_semantics(flt: Filter, expected: bool) -> None:
    assert matches(flt, METADATA) is expected


def test_matches_on_empty_metadata() -> None:
    assert matches(Eq("a", 1), {}) is False
    assert matches(Not(Eq("a", 1)), {}) is True
    assert matches(Or(Eq("a", 1), Not(In("b", [2]))), {}) is True


# --- queries ------------------------------------------------------------------------------------


def test_query_mode_is_inferred() -> None:
    assert VectorQuery(vector=[1.0]).mode == "vector"
    assert VectorQuery(text="solar").mode == "text"
    assert VectorQuery(vector=[1.0], text="solar").mode == "hybrid"
    assert VectorQuery(vector=[1.0], text="solar", mode="vector").mode == "vector"
    assert VectorQuery(vector=[1.0], text="solar", mode="text").mode == "text"
    loaded = VectorQuery.model_validate_json('{"vector": [1.0], "text": "x", "k": 3}')
    assert (loaded.mode, loaded.k) == ("hybrid", 3)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"text": "   "},
        {"vector": [1.0], "k": 0},
        {"vector": [1.0], "k": 1001},
        {"text": "x", "mode": "vector"},
        {"vector": [1.0], "mode": "text"},
        {"vector": [1.0], "mode": "hybrid"},
        {"vector": [1.0], "filter": {"op": "eq", "field": "a"}},
        {"vector": [1.0], "typo": 1},
    ],
)
def test_invalid_queries_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        VectorQuery.model_validate(fields)


def test_query_filter_is_parsed_from_json() -> None:
    query = VectorQuery.model_validate(
        {"text": "x", "filter": {"op": "not", "filter": {"op": "eq", "field": "a", "value": 1}}}
    )
    assert query.filter == Not(Eq("a", 1))


# --- reciprocal rank fusion ----------------------------------------------------------------------


def test_rrf_scores() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "a", "d"]], k=60)
    scores = dict(fused)
    assert math.isclose(scores["a"], 1 / 61 + 1 / 62)
    assert math.isclose(scores["b"], 1 / 62 + 1 / 61)
    assert math.isclose(scores["c"], 1 / 63)
    assert math.isclose(scores["d"], 1 / 63)
    # Equal scores keep first-seen order.
    assert [i for i, _ in fused] == ["a", "b", "c", "d"]


def test_rrf_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([["x", "both", "y"], ["z", "both", "w"]])
    assert fused[0][0] == "both"


def test_rrf_counts_a_repeated_id_once_at_its_best_rank() -> None:
    fused = dict(reciprocal_rank_fusion([["a", "b", "a"]], k=0))
    assert fused == {"a": 1.0, "b": 0.5}


def test_rrf_edge_cases() -> None:
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []
    assert [i for i, _ in reciprocal_rank_fusion([["a", "b"]])] == ["a", "b"]
    with pytest.raises(ValueError, match="k must not be negative"):
        reciprocal_rank_fusion([["a"]], k=-1)


# --- helpers for implementations -----------------------------------------------------------------


def test_collection_names() -> None:
    for good in ("docs", "Docs_2", "a", "my-collection", "0start", "x" * 63):
        assert check_collection_name(good) == good
    for bad in ("", "-x", "_x", "has space", "a/b", "a.b", "x" * 64, "naïve", 5):
        with pytest.raises(InvalidInputError):
            check_collection_name(bad)


def test_check_embedder_names_both_sides() -> None:
    info = CollectionInfo(name="docs", embedder_name="openai:small", dimensions=1536)
    check_embedder(info, "openai:small", 1536)
    with pytest.raises(EmbedderMismatchError) as caught:
        check_embedder(info, "local:minilm", 384)
    message = str(caught.value)
    for part in ("docs", "openai:small", "1536", "local:minilm", "384"):
        assert part in message


def test_check_records() -> None:
    info = CollectionInfo(name="docs", embedder_name="e", dimensions=2)
    check_records([Record(id="a", vector=[1, 0]), Record(id="b", vector=[0, 1])], info)
    with pytest.raises(EmbedderMismatchError, match="3-dimensional"):
        check_records([Record(id="a", vector=[1, 0, 0])], info)
    with pytest.raises(InvalidInputError, match="no vector"):
        check_records([Record(id="a", text="x")], info)
    with pytest.raises(InvalidInputError, match="twice"):
        check_records([Record(id="a", vector=[1, 0]), Record(id="a", vector=[0, 1])], info)
    with pytest.raises(InvalidInputError):
        check_records([Record(id="", vector=[1, 0])], info)
    with pytest.raises(InvalidInputError, match="NaN"):
        check_records([Record(id="a", vector=[math.inf, 0])], info)


def test_collection_not_found_is_both_kinds_of_error() -> None:
    error = CollectionNotFoundError("docs")
    assert isinstance(error, NotFoundError)
    assert isinstance(error, VectorStoreError)
    assert error.name == "docs"
    assert "ensure_collection" in str(error)
