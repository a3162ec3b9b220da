"""Suite files: strict validation, YAML and JSON, and what an attacker's file cannot do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from covey.evals import SuiteError, load_suite, parse_suite
from covey.evals.cases import MAX_SUITE_BYTES

CASE = {"id": "a", "input": "q"}


def test_json_and_yaml_files_give_the_same_suite(tmp_path: Path) -> None:
    data = {
        "name": "s",
        "thresholds": {"accuracy": 7},
        "performance": {"runs": 3},
        "cases": [{**CASE, "tool_calls": [{"name": "t", "args": {"x": 1}}]}],
    }
    (tmp_path / "s.json").write_text(json.dumps(data))
    yaml_text = (
        "name: s\nthresholds: {accuracy: 7}\nperformance: {runs: 3}\n"
        "cases:\n  - id: a\n    input: q\n    tool_calls: [{name: t, args: {x: 1}}]\n"
    )
    (tmp_path / "s.yml").write_text(yaml_text)
    assert load_suite(tmp_path / "s.json") == load_suite(tmp_path / "s.yml")


def test_a_typo_in_a_key_is_an_error_not_a_silently_skipped_check() -> None:
    with pytest.raises(SuiteError, match=r"cases\.0\.tool_call: Extra inputs"):
        parse_suite({"name": "s", "cases": [{**CASE, "tool_call": []}]})
    with pytest.raises(SuiteError, match=r"thresholds\.acuracy"):
        parse_suite({"name": "s", "thresholds": {"acuracy": 7}, "cases": [CASE]})


def test_bad_suites_name_the_problem() -> None:
    with pytest.raises(SuiteError, match="appears twice"):
        parse_suite({"name": "s", "cases": [CASE, CASE]})
    with pytest.raises(SuiteError, match="cases"):
        parse_suite({"name": "s", "cases": []})
    with pytest.raises(SuiteError, match=r"thresholds\.accuracy"):
        parse_suite({"name": "s", "thresholds": {"accuracy": 11}, "cases": [CASE]})
    with pytest.raises(SuiteError, match="suite"):
        parse_suite(["not", "a", "mapping"])


def test_yaml_tags_cannot_build_python_objects(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(
        f"name: !!python/object/apply:os.system ['touch {marker}']\ncases: [{{id: a, input: q}}]\n"
    )
    with pytest.raises(SuiteError, match="not valid YAML"):
        load_suite(path)
    assert not marker.exists()


def test_files_that_cannot_be_suites_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="cannot read"):
        load_suite(tmp_path / "missing.yaml")
    (tmp_path / "s.toml").write_text("x")
    with pytest.raises(SuiteError, match=r"\.yaml, \.yml or \.json"):
        load_suite(tmp_path / "s.toml")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SuiteError, match="not valid JSON"):
        load_suite(tmp_path / "bad.json")
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_SUITE_BYTES + 1))
    with pytest.raises(SuiteError, match="the limit is"):
        load_suite(big)
    (tmp_path / "latin1.yaml").write_bytes(b"name: caf\xe9\n")
    with pytest.raises(SuiteError, match="not UTF-8"):
        load_suite(tmp_path / "latin1.yaml")


def test_the_suite_file_shown_in_the_docs_is_valid(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[3] / "docs" / "evals.md"
    if not docs.exists():  # an installed package's tests, away from the repository
        pytest.skip("docs/evals.md is not beside this package")
    block = docs.read_text().split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "weather.yaml").write_text(block)
    suite = load_suite(tmp_path / "weather.yaml")
    assert suite.name == "weather-bot" and [c.id for c in suite.cases] == ["paris", "small-talk"]
    assert suite.thresholds.latency_p95 == 5.0 and suite.performance.runs == 5
