"""What the `StoreSuite` mixins share: the scopes of a test, sample rows, and id checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from covey.spec.events import BaseEvent, TextDelta
from covey.spec.messages import (
    ImageContent,
    ModelRequest,
    ModelResponse,
    SystemPart,
    TextContent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
)
from covey.spec.runs import ErrorInfo, Requirement, RunStatus, ToolCallRecord
from covey.spec.store import (
    MAX_ID_LENGTH,
    Approval,
    KnowledgeContent,
    Learning,
    Memory,
    Page,
    Run,
    Schedule,
    Scope,
    Session,
    Store,
    TraceSpan,
    UserProfile,
    utc_now,
)
from covey.spec.usage import Usage

T0 = utc_now().replace(microsecond=0) - timedelta(days=1)
"""A fixed past instant; rows given explicit times are spaced from it."""


@dataclass(frozen=True, slots=True)
class StoreScopes:
    """The scopes a `StoreSuite` test uses: two users of one tenant, and a second tenant."""

    tenant: Scope
    """Tenant A, tenant-wide."""
    alice: Scope
    """Tenant A, user `alice`."""
    bob: Scope
    """Tenant A, user `bob`."""
    other_tenant: Scope
    """Tenant B, tenant-wide."""
    other_alice: Scope
    """Tenant B, a user also called `alice`."""


INTRUDERS = ["bob", "other_tenant", "other_alice"]


def intruder_scope(scopes: StoreScopes, name: str) -> Scope:
    scope: Scope = getattr(scopes, name)
    return scope


def same_tenant(scopes: StoreScopes, intruder: Scope) -> bool:
    return intruder.tenant_id == scopes.tenant.tenant_id


def ids_of(page: Page[Any] | list[Any], attr: str = "id") -> list[str]:
    items = page.items if isinstance(page, Page) else page
    return [getattr(item, attr) for item in items]


async def all_pages(
    fetch: Callable[[str | None], Awaitable[Page[Any]]], attr: str = "id"
) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        pages.append(ids_of(page, attr))
        if page.next_cursor is None:
            return pages
        assert len(pages) < 100, "pagination never ends: next_cursor keeps coming back"
        cursor = page.next_cursor


def rich_messages(run_id: str) -> list[ModelRequest | ModelResponse]:
    return [
        ModelRequest(
            parts=[
                SystemPart(content="Be brief."),
                UserPart(
                    content=[
                        TextContent(text="What is in this picture?"),
                        ImageContent(data=b"\x89PNG\r\n\x1a\n\x00\xff", media_type="image/png"),
                        ImageContent(url="https://example.com/cat.png", detail="low"),
                    ]
                ),
            ],
            run_id=run_id,
        ),
        ModelResponse(
            parts=[
                ThinkingPart(content="Look closely.", signature="sig-123"),
                ToolCallPart(
                    tool_name="zoom", args={"factor": 2, "area": [0, 0]}, tool_call_id="c1"
                ),
            ],
            usage=Usage(input_tokens=120, output_tokens=30, cache_read_tokens=100, requests=1),
            model_name="model-x",
            provider_name="provider-y",
            finish_reason="tool_calls",
            run_id=run_id,
        ),
        ModelRequest(
            parts=[ToolReturnPart(tool_name="zoom", content={"ok": True}, tool_call_id="c1")],
            run_id=run_id,
        ),
        ModelResponse(
            parts=[TextPart(content="A cat. 🐈", provider_details={"item_id": "msg_1"})],
            usage=Usage(input_tokens=160, output_tokens=5, requests=1),
            run_id=run_id,
        ),
    ]


def rich_run(run_id: str, **changes: Any) -> Run:
    fields: dict[str, Any] = {
        "id": run_id,
        "session_id": "sess-1",
        "agent_id": "agent-1",
        "status": RunStatus.COMPLETED,
        "input": {"prompt": "What is in this picture?", "n": 1},
        "output": {"answer": "A cat", "confidence": 0.75, "tags": ["cat", None]},
        "usage": Usage(input_tokens=280, output_tokens=35, requests=2, tool_calls=1),
        "messages": rich_messages(run_id),
        "tool_calls": [
            ToolCallRecord(
                tool_call_id="c1", tool_name="zoom", args={"factor": 2}, result={"ok": True}
            )
        ],
        "requirements": [
            Requirement(tool_call_id="c2", tool_name="pay", kind="approval", args={"eur": 5})
        ],
        "error": ErrorInfo(type="ModelRetry", message="try again", details={"retry": 1}),
        "started_at": T0,
        "finished_at": T0 + timedelta(seconds=3),
        "created_at": T0,
        "metadata": {"trace_id": "t-1", "nested": {"a": [1, 2.5, "x"]}},
    }
    fields.update(changes)
    return Run(**fields)


def text_deltas(run_id: str, seqs: list[int]) -> list[BaseEvent]:
    return [TextDelta(run_id=run_id, seq=s, delta=f"chunk {s} ") for s in seqs]


BAD_IDS = ["", "x" * (MAX_ID_LENGTH + 1), "nul\x00byte", "line\nbreak", "tab\there", "del\x7f"]

IdTaker = Callable[[Store, Scope, str], Awaitable[object]]

ID_TAKERS: dict[str, IdTaker] = {
    "get_session": lambda st, sc, bad: st.get_session(sc, bad),
    "save_session.id": lambda st, sc, bad: st.save_session(
        sc, Session(id=bad), expected_version=None
    ),
    "save_session.agent_id": lambda st, sc, bad: st.save_session(
        sc, Session(id="ok", agent_id=bad), expected_version=None
    ),
    "list_sessions.agent_id": lambda st, sc, bad: st.list_sessions(sc, agent_id=bad),
    "delete_session": lambda st, sc, bad: st.delete_session(sc, bad),
    "save_run.id": lambda st, sc, bad: st.save_run(sc, Run(id=bad)),
    "save_run.session_id": lambda st, sc, bad: st.save_run(sc, Run(id="ok", session_id=bad)),
    "get_run": lambda st, sc, bad: st.get_run(sc, bad),
    "list_runs.session_id": lambda st, sc, bad: st.list_runs(sc, session_id=bad),
    "list_runs.parent_run_id": lambda st, sc, bad: st.list_runs(sc, parent_run_id=bad),
    "list_runs.agent_id": lambda st, sc, bad: st.list_runs(sc, agent_id=bad),
    "request_cancel": lambda st, sc, bad: st.request_cancel(sc, bad),
    "heartbeat": lambda st, sc, bad: st.heartbeat(sc, bad),
    "append_events": lambda st, sc, bad: st.append_events(sc, bad, text_deltas("r", [1])),
    "list_events": lambda st, sc, bad: st.list_events(sc, bad),
    "add_memory.id": lambda st, sc, bad: st.add_memory(sc, Memory(id=bad, user_id="u", memory="m")),
    "add_memory.user_id": lambda st, sc, bad: st.add_memory(sc, Memory(user_id=bad, memory="m")),
    "get_memory": lambda st, sc, bad: st.get_memory(sc, bad),
    "update_memory": lambda st, sc, bad: st.update_memory(
        sc, Memory(id=bad, user_id="u", memory="m")
    ),
    "delete_memory": lambda st, sc, bad: st.delete_memory(sc, bad),
    "get_user_profile": lambda st, sc, bad: st.get_user_profile(sc, bad),
    "save_user_profile": lambda st, sc, bad: st.save_user_profile(sc, UserProfile(user_id=bad)),
    "delete_user_profile": lambda st, sc, bad: st.delete_user_profile(sc, bad),
    "add_learning.id": lambda st, sc, bad: st.add_learning(
        sc, Learning(id=bad, namespace="ns", content="c")
    ),
    "add_learning.namespace": lambda st, sc, bad: st.add_learning(
        sc, Learning(namespace=bad, content="c")
    ),
    "get_learning": lambda st, sc, bad: st.get_learning(sc, bad),
    "list_learnings": lambda st, sc, bad: st.list_learnings(sc, bad),
    "delete_learning": lambda st, sc, bad: st.delete_learning(sc, bad),
    "save_knowledge_content": lambda st, sc, bad: st.save_knowledge_content(
        sc, KnowledgeContent(id=bad, name="n")
    ),
    "get_knowledge_content": lambda st, sc, bad: st.get_knowledge_content(sc, bad),
    "delete_knowledge_content": lambda st, sc, bad: st.delete_knowledge_content(sc, bad),
    "save_approval.id": lambda st, sc, bad: st.save_approval(
        sc, Approval(id=bad, run_id="r", tool_call_id="c", tool_name="t")
    ),
    "save_approval.run_id": lambda st, sc, bad: st.save_approval(
        sc, Approval(run_id=bad, tool_call_id="c", tool_name="t")
    ),
    "get_approval": lambda st, sc, bad: st.get_approval(sc, bad),
    "list_approvals.run_id": lambda st, sc, bad: st.list_approvals(sc, run_id=bad),
    "resolve_approval": lambda st, sc, bad: st.resolve_approval(sc, bad, status="approved"),
    "save_schedule": lambda st, sc, bad: st.save_schedule(
        sc, Schedule(id=bad, name="n", target_id="a", trigger="interval", spec="60")
    ),
    "get_schedule": lambda st, sc, bad: st.get_schedule(sc, bad),
    "delete_schedule": lambda st, sc, bad: st.delete_schedule(sc, bad),
    "add_spans.trace_id": lambda st, sc, bad: st.add_spans(
        sc, [TraceSpan(trace_id=bad, span_id="s", name="n", start=T0)]
    ),
    "add_spans.span_id": lambda st, sc, bad: st.add_spans(
        sc, [TraceSpan(trace_id="t", span_id=bad, name="n", start=T0)]
    ),
    "list_spans": lambda st, sc, bad: st.list_spans(sc, bad),
}
