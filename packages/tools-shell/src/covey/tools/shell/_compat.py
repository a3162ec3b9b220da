"""TEMPORARY until covey-spec has ApprovalRequired and RunContext.tool_call_approved (issue 13)."""

from __future__ import annotations

from typing import Any

from covey.spec import errors
from covey.spec.context import RunContext

if hasattr(errors, "ApprovalRequired"):
    ApprovalRequired = errors.ApprovalRequired  # type: ignore[attr-defined]
else:

    class ApprovalRequired(errors.CoveyError):  # type: ignore[no-redef]
        def __init__(self, reason: str) -> None:
            self.reason = reason
            super().__init__(reason)


def approved(ctx: RunContext[Any]) -> bool:
    return bool(getattr(ctx, "tool_call_approved", False))
