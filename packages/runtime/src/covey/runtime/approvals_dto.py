"""Wire types of `/v1/approvals`: a decision request, an approval as the API shows it, a page."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from covey.runtime.dto import Flag
from covey.spec.store import Approval

__all__ = ["ApprovalOut", "ApprovalPage", "DecisionRequest"]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DecisionRequest(_Wire):
    """A person's decision on one approval."""

    approved: Flag
    """`true` approves the tool call, `false` rejects it."""
    note: str | None = Field(default=None, max_length=10_000)
    """Why; kept with the decision (audit) and, for a rejection, told to the model."""


class ApprovalOut(_Wire):
    """A tool call of a paused run waiting for (or given) a person's decision, with its context."""

    approval_id: str
    run_id: str
    """The paused run a decision resumes (a team's or workflow's run for a member's call)."""
    tool_call_id: str
    tool_name: str
    args: dict[str, Any]
    status: Literal["pending", "approved", "rejected"]
    open: bool
    """Whether the run still waits for this decision; `false` once the run went on (decided
    here or resumed through `/v1/runs/{id}/resume`), was cancelled or paused anew."""
    kind: str | None = None
    """What paused: `agent`, `team` or `workflow`."""
    agent_id: str | None = None
    session_id: str | None = None
    member_run_id: str | None = None
    """The team member's or workflow step's run that made the call, when not the run itself."""
    description: str | None = None
    """What the call would do, in words (a learning proposal describes the change)."""
    user_id: str | None = None
    """The user whose run asks."""
    created_at: datetime
    expires_at: datetime | None = None
    """After this the approval is rejected as expired (`approval_expiry`); `null`: never."""
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    """Who decided (the token's `sub`); `null` for an expiry, or when auth is off."""
    note: str | None = None
    run_status: str | None = None
    """In a decision's answer: the run's status after it (`running` once every approval of the
    pause is decided and the run went on, `paused` while others wait)."""
    waiting_for: list[str] = Field(default_factory=list[str])
    """In a decision's answer: the approval ids of the same pause still undecided."""

    @classmethod
    def from_approval(cls, approval: Approval, *, open: bool) -> ApprovalOut:
        meta = approval.metadata
        return cls(
            approval_id=approval.id,
            run_id=approval.run_id,
            tool_call_id=approval.tool_call_id,
            tool_name=approval.tool_name,
            args=approval.args,
            status=approval.status,
            open=open,
            kind=_text(meta.get("kind")),
            agent_id=_text(meta.get("agent_id")),
            session_id=_text(meta.get("session_id")),
            member_run_id=_text(meta.get("member_run_id")),
            description=_text(meta.get("description")),
            user_id=approval.user_id,
            created_at=approval.created_at,
            expires_at=_time(meta.get("expires_at")),
            resolved_at=approval.resolved_at,
            resolved_by=approval.resolved_by,
            note=approval.note,
        )


class ApprovalPage(_Wire):
    """One page of approvals; pass `next_cursor` as `cursor` for the next. A page of pending
    approvals may hold fewer than `limit` items: those whose run went on meanwhile are left out."""

    items: list[ApprovalOut]
    next_cursor: str | None = None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
