"""Docstring parsing: Google, NumPy and Sphinx styles, detected automatically.

A failure here means tool descriptions or parameter help shown to models are wrong: fix
`covey/spec/docstrings.py`.
"""

from __future__ import annotations

import pytest

from covey.spec.docstrings import ParsedDocstring, parse_docstring


def google_style(city: str, days: int = 1, *args: str, **kwargs: str) -> None:
    """Get the weather forecast.

    Uses the configured weather service; results are cached
    for ten minutes.

    Args:
        city: The city name,
            e.g. "Paris".
        days (int, optional): How many days ahead.

            Between 1 and 7.
        *args: Ignored extras.
        **kwargs (dict[str, tuple(int)]): Ignored options.

    Returns:
        The forecast as text.

    Raises:
        ValueError: The city is unknown.
    """


def numpy_style(city: str, low: float, high: float) -> None:
    """Get the weather forecast.

    Results are cached.

    Parameters
    ----------
    city : str
        The city name,
        e.g. "Paris".
    low, high : float
        Temperature bounds.

    Returns
    -------
    str
        The forecast.
    """


def sphinx_style(city: str, days: int) -> None:
    """Get the weather forecast.

    Results are cached.

    :param city: The city name,
        e.g. "Paris".
    :type city: str
    :param int days: How many days ahead.
    :param dict(str, int) mapping: Typed with a space in the type.
    :returns: The forecast.
    :rtype: str
    """


def test_google_description_and_params() -> None:
    parsed = parse_docstring(google_style.__doc__)
    assert parsed.style == "google"
    assert parsed.description == (
        "Get the weather forecast.\n\n"
        "Uses the configured weather service; results are cached\nfor ten minutes."
    )
    assert parsed.params == {
        "city": 'The city name, e.g. "Paris".',
        "days": "How many days ahead.\n\nBetween 1 and 7.",
        "args": "Ignored extras.",
        "kwargs": "Ignored options.",
    }


def test_numpy_description_and_params() -> None:
    parsed = parse_docstring(numpy_style.__doc__)
    assert parsed.style == "numpy"
    assert parsed.description == "Get the weather forecast.\n\nResults are cached."
    assert parsed.params == {
        "city": 'The city name, e.g. "Paris".',
        "low": "Temperature bounds.",
        "high": "Temperature bounds.",
    }


def test_sphinx_description_and_params() -> None:
    parsed = parse_docstring(sphinx_style.__doc__)
    assert parsed.style == "sphinx"
    assert parsed.description == "Get the weather forecast.\n\nResults are cached."
    assert parsed.params == {
        "city": 'The city name, e.g. "Paris".',
        "days": "How many days ahead.",
        "mapping": "Typed with a space in the type.",
    }


def test_plain_docstring_is_all_description() -> None:
    parsed = parse_docstring("Do a thing.\n\n    It does the following:\n    - one\n    - two\n")
    assert parsed == ParsedDocstring(
        description="Do a thing.\n\nIt does the following:\n- one\n- two", params={}, style="plain"
    )


@pytest.mark.parametrize("doc", [None, "", "   \n  "])
def test_missing_docstring_gives_empty_result(doc: str | None) -> None:
    assert parse_docstring(doc) == ParsedDocstring(description="", params={}, style="plain")


def test_google_text_ending_with_colon_is_not_a_section() -> None:
    doc = """Search the index.

    Matching works as follows:
    words are stemmed first.

    Args:
        query: What to look for.
    """
    parsed = parse_docstring(doc)
    assert parsed.description == (
        "Search the index.\n\nMatching works as follows:\nwords are stemmed first."
    )
    assert parsed.params == {"query": "What to look for."}


def test_google_other_sections_only_still_google() -> None:
    parsed = parse_docstring("Ping.\n\nReturns:\n    pong\n")
    assert parsed.style == "google"
    assert parsed.description == "Ping."
    assert parsed.params == {}


def test_google_keyword_args_section_is_read() -> None:
    doc = "Summary.\n\nArgs:\n    a: First.\n\nKeyword Args:\n    b: Second.\n"
    assert parse_docstring(doc).params == {"a": "First.", "b": "Second."}


def test_dashed_line_inside_google_docstring_does_not_switch_to_numpy() -> None:
    doc = """Render a table.

    Example:
        name
        ----
        row

    Args:
        rows: The rows.
    """
    parsed = parse_docstring(doc)
    assert parsed.style == "google"
    assert parsed.params == {"rows": "The rows."}


def test_style_can_be_forced() -> None:
    # Read as plain text, the Google parameter section stays in the description.
    parsed = parse_docstring("Summary.\n\nArgs:\n    a: First.\n", style="plain")
    assert parsed.style == "plain"
    assert parsed.params == {}
    assert "a: First." in parsed.description
