"""Read a function's docstring: its description and one line of help per parameter.

Understands Google (`Args:`), NumPy (`Parameters` over a dashed line) and Sphinx (`:param x:`)
styles and detects which one a docstring uses. Anything it does not understand stays in the
description rather than being lost.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["DocstringStyle", "ParsedDocstring", "parse_docstring"]

DocstringStyle = Literal["google", "numpy", "sphinx", "plain"]

# Google section titles (followed by a colon); parameters are read from the first group only.
_GOOGLE_PARAM_SECTIONS = frozenset(
    {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments", "kwargs"}
)
_GOOGLE_OTHER_SECTIONS = frozenset(
    {
        "attributes",
        "example",
        "examples",
        "note",
        "notes",
        "raises",
        "references",
        "return",
        "returns",
        "see also",
        "todo",
        "warning",
        "warnings",
        "warns",
        "yield",
        "yields",
    }
)
_NUMPY_PARAM_SECTIONS = frozenset(
    {"parameters", "params", "arguments", "args", "other parameters", "keyword arguments"}
)
_NUMPY_SECTIONS = _NUMPY_PARAM_SECTIONS | frozenset(
    {
        "attributes",
        "examples",
        "methods",
        "notes",
        "raises",
        "receives",
        "references",
        "returns",
        "see also",
        "warnings",
        "warns",
        "yields",
    }
)

_GOOGLE_HEADER = re.compile(r"^(?P<title>[A-Za-z][A-Za-z ]*?)\s*:\s*$")
# `name (type, optional): text` or `name: text`; the type may hold brackets and commas.
_GOOGLE_ITEM = re.compile(r"^\*{0,2}(?P<name>\w+)\s*(?:\((?P<type>.*?)\))?\s*:\s*(?P<text>.*)$")
_NUMPY_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
# `name : type`, `name`, or `a, b : type`.
_NUMPY_ITEM = re.compile(r"^(?P<names>\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::\s*(?P<type>.*))?$")
_SPHINX_FIELD = re.compile(r"^:(?P<kind>\w+)(?P<rest>[^:]*):(?:\s+(?P<text>.*))?$")
_SPHINX_PARAM_KINDS = frozenset({"param", "parameter", "arg", "argument", "key", "keyword"})
_SPHINX_KINDS = _SPHINX_PARAM_KINDS | frozenset(
    {"type", "return", "returns", "rtype", "raise", "raises", "except", "exception", "yield"}
    | {"yields", "ytype", "var", "ivar", "cvar", "vartype", "meta"}
)


@dataclass(frozen=True, slots=True)
class ParsedDocstring:
    """What a docstring says about a function.

    Attributes:
        description: The summary and any text before the first section, whitespace-trimmed.
        params: Parameter name to its description, in docstring order.
        style: The style the docstring was read as; `plain` when it has no parameter section.
    """

    description: str = ""
    params: dict[str, str] = field(default_factory=dict[str, str])
    style: DocstringStyle = "plain"


def parse_docstring(
    docstring: str | None, *, style: DocstringStyle | None = None
) -> ParsedDocstring:
    """Split a docstring into its description and per-parameter descriptions.

    Args:
        docstring: The raw docstring (as in `fn.__doc__`); indentation is cleaned here.
        style: Read the docstring in this style instead of detecting it.

    Returns:
        The description and parameter descriptions. An empty or missing docstring gives an empty
        result; a docstring without a parameter section is all description.
    """
    if not docstring or not docstring.strip():
        return ParsedDocstring()
    lines = inspect.cleandoc(docstring).splitlines()
    detected = style or _detect_style(lines)
    if detected == "numpy":
        description, params = _parse_numpy(lines)
    elif detected == "sphinx":
        description, params = _parse_sphinx(lines)
    elif detected == "google":
        description, params = _parse_google(lines)
    else:
        description, params = "\n".join(lines).strip(), {}
    return ParsedDocstring(description=description, params=params, style=detected)


def _detect_style(lines: list[str]) -> DocstringStyle:
    for i in range(len(lines)):
        if _is_numpy_header(lines, i) and _section_title(lines[i]) in _NUMPY_SECTIONS:
            return "numpy"
    for line in lines:
        match = _SPHINX_FIELD.match(line.strip())
        if match and match["kind"] in _SPHINX_KINDS:
            return "sphinx"
    for line in lines:
        match = _GOOGLE_HEADER.match(line)
        if match and _google_title(match) in _GOOGLE_PARAM_SECTIONS | _GOOGLE_OTHER_SECTIONS:
            return "google"
    return "plain"


def _google_title(match: re.Match[str]) -> str:
    return _section_title(match["title"])


def _section_title(text: str) -> str:
    return " ".join(text.lower().split())


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _join(parts: list[str]) -> str:
    """Join wrapped lines with spaces; blank lines become paragraph breaks."""
    paragraphs: list[list[str]] = [[]]
    for part in parts:
        if part.strip():
            paragraphs[-1].append(part.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join(" ".join(p) for p in paragraphs if p)


def _parse_google(lines: list[str]) -> tuple[str, dict[str, str]]:
    description: list[str] = []
    params: dict[str, str] = {}
    i = 0
    in_description = True
    while i < len(lines):
        line = lines[i]
        header = _GOOGLE_HEADER.match(line)
        title = _google_title(header) if header else ""
        if title not in _GOOGLE_PARAM_SECTIONS | _GOOGLE_OTHER_SECTIONS:
            if in_description:
                description.append(line)
            i += 1
            continue
        in_description = False
        base = _indent(line)
        i += 1
        # The section runs while lines are blank or indented deeper than its title.
        body: list[str] = []
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
            body.append(lines[i])
            i += 1
        if title in _GOOGLE_PARAM_SECTIONS:
            params.update(_google_items(body))
    return "\n".join(description).strip(), params


def _google_items(body: list[str]) -> dict[str, str]:
    items: dict[str, str] = {}
    item_indent = min((_indent(line) for line in body if line.strip()), default=0)
    name: str | None = None
    parts: list[str] = []
    for line in body:
        match = _GOOGLE_ITEM.match(line.strip()) if _indent(line) == item_indent else None
        if match and line.strip():
            if name is not None:
                items[name] = _join(parts)
            name, parts = match["name"], [match["text"] or ""]
        elif name is not None:
            parts.append(line)
    if name is not None:
        items[name] = _join(parts)
    return items


def _is_numpy_header(lines: list[str], i: int) -> bool:
    title = lines[i].strip()
    return (
        bool(title)
        and i + 1 < len(lines)
        and _NUMPY_UNDERLINE.match(lines[i + 1]) is not None
        and _indent(lines[i + 1]) == _indent(lines[i])
    )


def _parse_numpy(lines: list[str]) -> tuple[str, dict[str, str]]:
    description: list[str] = []
    params: dict[str, str] = {}
    i = 0
    while i < len(lines) and not _is_numpy_header(lines, i):
        description.append(lines[i])
        i += 1
    while i < len(lines):
        title = _section_title(lines[i])
        base = _indent(lines[i])
        i += 2  # the title and its underline
        body: list[str] = []
        while i < len(lines) and not _is_numpy_header(lines, i):
            body.append(lines[i])
            i += 1
        if title in _NUMPY_PARAM_SECTIONS:
            params.update(_numpy_items(body, base))
    return "\n".join(description).strip(), params


def _numpy_items(body: list[str], base: int) -> dict[str, str]:
    items: dict[str, str] = {}
    names: list[str] = []
    parts: list[str] = []

    def flush() -> None:
        for n in names:
            items[n] = _join(parts)

    for line in body:
        match = _NUMPY_ITEM.match(line.strip()) if line.strip() else None
        if match and _indent(line) <= base:
            flush()
            names = [n.strip().lstrip("*") for n in match["names"].split(",")]
            parts = []
        elif names:
            parts.append(line)
    flush()
    return items


def _parse_sphinx(lines: list[str]) -> tuple[str, dict[str, str]]:
    description: list[str] = []
    params: dict[str, str] = {}
    name: str | None = None
    parts: list[str] = []
    in_fields = False
    for line in lines:
        match = _SPHINX_FIELD.match(line.strip())
        if match:
            in_fields = True
            if name is not None:
                params[name] = _join(parts)
            name, parts = None, []
            rest = match["rest"].split()
            if match["kind"] in _SPHINX_PARAM_KINDS and rest:
                # `:param name:` or `:param type name:`; the name is the last word.
                name, parts = rest[-1].lstrip("*"), [match["text"] or ""]
        elif not in_fields:
            description.append(line)
        elif name is not None and (not line.strip() or _indent(line) > 0):
            parts.append(line)
        else:
            # Unindented text after the fields ends the current field.
            if name is not None:
                params[name] = _join(parts)
            name, parts = None, []
    if name is not None:
        params[name] = _join(parts)
    return "\n".join(description).strip(), params
