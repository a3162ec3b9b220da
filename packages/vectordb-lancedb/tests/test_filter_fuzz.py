"""Random filters over random metadata: LanceDB selects exactly what `matches` selects.

The suite's FILTER_CASES pin each rule once; this crosses them (nesting, mixed types in one
field, `In` with mixed values, ranges on mixed fields, hostile strings) with a fixed seed, so a
failure reproduces.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from covey.spec.vectors import And, Eq, Filter, In, Not, Or, Range, Record, Scalar, matches
from covey.vectordb.lancedb import LanceDBVectorStore

FIELDS = ["a", "b", "_tenant"]
VALUES: list[Any] = [
    0,
    1,
    1.0,
    -2.5,
    2**40,
    True,
    False,
    "",
    "1",
    "true",
    "x",
    "X",
    "it's",
    'q"uote',
    "back\\slash",
    "é",
    "2024-03-01",
    None,
    ["x"],
    {"x": 1},
]
SCALARS: list[Scalar] = [v for v in VALUES if isinstance(v, bool | int | float | str)]


def _metadata(rng: random.Random) -> dict[str, Any]:
    return {f: rng.choice(VALUES) for f in FIELDS if rng.random() < 0.75}


def _bounds(rng: random.Random) -> dict[str, int | float | str]:
    pool: list[int | float | str] = (
        [-3, 0, 1, 1.0, 2**40] if rng.random() < 0.5 else ["", "1", "x", "é", "2024"]
    )
    ops = rng.sample(["gt", "gte", "lt", "lte"], rng.randint(1, 2))
    return {op: rng.choice(pool) for op in ops}


def _filter(rng: random.Random, depth: int = 0) -> Filter:
    kind = rng.choice(["eq", "in", "range"] + (["and", "or", "not"] if depth < 3 else []))
    field = rng.choice([*FIELDS, "missing"])
    if kind == "eq":
        return Eq(field, rng.choice(SCALARS))
    if kind == "in":
        return In(field, rng.sample(SCALARS, rng.randint(0, 3)))
    if kind == "range":
        return Range(field, **_bounds(rng))
    if kind == "not":
        return Not(_filter(rng, depth + 1))
    children = [_filter(rng, depth + 1) for _ in range(rng.randint(1, 3))]
    return And(*children) if kind == "and" else Or(*children)


async def test_random_filters_agree_with_matches(tmp_path: Path) -> None:
    rng = random.Random(20261204)
    records = [
        Record(id=f"r{i}", vector=[1.0, i / 50, 0.5], text="row", metadata=_metadata(rng))
        for i in range(60)
    ]
    async with LanceDBVectorStore(tmp_path / "db") as store:
        await store.ensure_collection("fuzz", embedder_name="test:fixed", dimensions=3)
        await store.upsert("fuzz", records)
        for _ in range(150):
            flt = _filter(rng)
            expected = sum(1 for r in records if matches(flt, r.metadata))
            assert await store.count("fuzz", flt) == expected, flt
