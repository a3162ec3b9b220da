"""Resolve a judge given on a command line: a model string, or an object in the operator's code.

`covey eval --judge openai:gpt-4.1-mini` names a model through the installed model plugins.
`--judge mypkg.judges:strict` imports `strict` from `mypkg.judges` (a `ChatModel` or a `Judge`),
as `agents = "module:attribute"` in covey.toml does: the operator's own code. The HTTP API never
resolves references this way (a request must not choose what the server imports): it takes
model strings only.
"""

from __future__ import annotations

import importlib
from typing import Any

from covey.evals.cases import SuiteError
from covey.evals.judge import Judge
from covey.spec.models import ChatModel

__all__ = ["is_model_string", "resolve_judge"]


def is_model_string(reference: str) -> bool:
    """Whether `reference` is `provider:model` with `provider` an installed model plugin."""
    from covey.spec.plugins import available

    provider, sep, _ = reference.partition(":")
    return bool(sep) and provider in {info.name for info in available("models")}


def resolve_judge(reference: str) -> Judge:
    """A `Judge` for a model string or a `module:attribute` reference.

    Raises:
        SuiteError: the reference is neither, cannot be imported, or is not a model or judge.
    """
    if is_model_string(reference):
        return Judge(reference)
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise SuiteError(
            f"judge {reference!r}: expected provider:model (an installed model plugin) or "
            "module:attribute"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SuiteError(
            f"judge {reference!r}: {module_name!r} is neither an installed model provider nor "
            f"an importable module ({exc})"
        ) from None
    value: Any = module
    for name in attribute.split("."):
        try:
            value = getattr(value, name)
        except AttributeError:
            raise SuiteError(f"judge {reference!r}: {module_name} has no {attribute}") from None
    if isinstance(value, Judge):
        return value
    if isinstance(value, ChatModel):
        return Judge(value)
    raise SuiteError(f"judge {reference!r} is a {type(value).__name__}, not a ChatModel or Judge")
