"""The conformance plugin refuses suite subclasses that delete or quietly override tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from covey.conformance import EmbedderSuite, StoreSuite, suite_violations


@pytest.fixture(autouse=True)
def _ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


_HEADER = """
import pytest
from covey.conformance import EmbedderSuite
from covey.testing import HashEmbedder

class Base(EmbedderSuite):
    @pytest.fixture
    def embedder(self):
        return HashEmbedder()
"""


def test_a_complete_subclass_runs_every_suite_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok=_HEADER + "\nclass TestOk(Base):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    suite_tests = [n for n in vars(EmbedderSuite) if n.startswith("test_")]
    result.assert_outcomes(passed=len(suite_tests))


def test_deleting_a_test_fails_collection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_deleted=_HEADER + "\nclass TestDeleted(Base):\n    test_empty_input = None\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        [
            "*covey-conformance: class test_deleted.TestDeleted breaks the conformance rule*",
            "*test_deleted.TestDeleted.test_empty_input deletes EmbedderSuite.test_empty_input*",
        ]
    )
    result.assert_outcomes(errors=1)


def test_overriding_without_xfail_fails_collection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_override=_HEADER
        + """
class TestOverride(Base):
    def test_identity(self, embedder):
        pass

    @pytest.mark.skip(reason="skips do not count")
    def test_unicode_text(self, embedder):
        pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        [
            "*TestOverride.test_identity overrides EmbedderSuite.test_identity without*xfail*",
            "*TestOverride.test_unicode_text overrides EmbedderSuite.test_unicode_text*",
        ]
    )


def test_xfail_without_reason_fails_collection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_noreason=_HEADER
        + """
class TestNoReason(Base):
    @pytest.mark.xfail
    def test_identity(self, embedder):
        pass

    @pytest.mark.xfail(reason="   ")
    def test_empty_input(self, embedder):
        pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*test_identity overrides*", "*test_empty_input overrides*"])


def test_override_through_an_intermediate_class_is_caught(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_middle=_HEADER
        + """
class Middle(Base):
    def test_identity(self, embedder):
        pass

class TestLeaf(Middle):
    pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*test_middle.Middle.test_identity overrides*"])


def test_xfail_with_reason_is_allowed_and_reported(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_xfail=_HEADER
        + """
class TestXfail(Base):
    @pytest.mark.xfail(reason="our provider cannot embed emoji", strict=True)
    @pytest.mark.asyncio
    async def test_unicode_text(self, embedder):
        raise AssertionError("emoji")
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-rx")
    suite_tests = [n for n in vars(EmbedderSuite) if n.startswith("test_")]
    result.assert_outcomes(passed=len(suite_tests) - 1, xfailed=1)
    result.stdout.fnmatch_lines(["*our provider cannot embed emoji*"])


def test_other_classes_are_left_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
class TestPlain:
    test_nothing = None

    def test_something(self):
        pass
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_suite_violations_directly() -> None:
    class Good(StoreSuite):
        pass

    class Bad(StoreSuite):
        test_heartbeat = None

        def test_request_cancel(self) -> None:  # pyright: ignore[reportIncompatibleMethodOverride]
            pass

        @pytest.mark.xfail(reason="documented gap")
        def test_trace_spans(self) -> None:  # pyright: ignore[reportIncompatibleMethodOverride]
            pass

    assert suite_violations(StoreSuite) == []
    assert suite_violations(Good) == []
    problems = suite_violations(Bad)
    assert len(problems) == 2
    assert any("test_heartbeat deletes StoreSuite.test_heartbeat" in p for p in problems)
    assert any(
        "test_request_cancel overrides StoreSuite.test_request_cancel" in p for p in problems
    )


def test_readme_example_runs(pytester: pytest.Pytester) -> None:
    readme = Path(__file__).parent.parent / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S)
    pytester.makepyfile(test_readme=blocks[0])
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == 0
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] > 20
    assert "failed" not in outcomes
