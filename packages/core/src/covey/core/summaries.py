"""Session summaries and tool-result compression: how a long session stays within its history
budget without silently forgetting what fell out of it.

Two mechanisms, both about the history a run sends to its model (never about what is stored):

- **Tool-result compression** (`Agent(tool_result_chars=2000)`, on by default, no model call):
  an earlier run's tool result longer than the limit is cut to it, with a marker saying how much
  was cut and which stored run holds the full result. The budget counts the cut size, so more
  turns fit. The current run's own messages and the stored runs are never changed.
- **Rolling session summary** (`Agent(session_summary=SessionSummary(...))`): the session's
  `summary` column holds a model-written summary of its runs up to the run recorded in
  `Session.metadata["covey.summary"]`. A run sends the summary (a labelled section appended to
  the system prompt) and only the runs after it, trimmed to `history_tokens`. `SummaryLearner`
  (a `covey.spec.learning.Learner` named `summary`) extends the summary after a completed run
  when `every_runs` runs are not covered yet, or when the uncovered runs no longer fit in the
  budget, so nothing leaves the context before it is summarised.

What each run was given is recorded in its stored metadata under `"history"` (`HISTORY_KEY`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio

from covey.core.history import estimate_tokens, repair_history
from covey.spec import (
    ModelRequest,
    ModelResponse,
    ModelSettings,
    SystemPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
)
from covey.spec.errors import ConfigurationError, ConflictError
from covey.spec.learning import LearningChange, LearnReport
from covey.spec.usage import Usage

if TYPE_CHECKING:
    from covey.spec import ChatModel, RunResult, Toolset
    from covey.spec.learning import Learner, LearningRun
    from covey.spec.store import Run, Scope, Session, Store

__all__ = [
    "DEFAULT_SUMMARY_INSTRUCTIONS",
    "HISTORY_KEY",
    "SUMMARY_HEADING",
    "SUMMARY_KEY",
    "Coverage",
    "HistoryInfo",
    "SessionSummary",
    "SummaryLearner",
    "compress_tool_results",
    "summary_section",
    "transcript_of",
]

logger = logging.getLogger("covey.summaries")

Message = ModelRequest | ModelResponse

SUMMARY_KEY = "covey.summary"
"""`Session.metadata` key of the summary's coverage: `{"run_id", "created_at", "runs"}`."""
HISTORY_KEY = "history"
"""`Run.metadata` key of what the run's model was given as history (see `HistoryInfo`)."""
SUMMARY_HEADING = "## Summary of the earlier conversation"
"""The heading of the summary's section in the system prompt."""
_PAGE = 20
_TRANSCRIPT_TOOL_CHARS = 2000
"""Tool results in the summary model's transcript are cut to this even with compression off."""
_MAX_TRANSCRIPT_CHARS = 60_000
"""One update reads at most this much of the uncovered runs (the oldest first, at least one);
the rest is covered by the next updates, so adding a summary to a long session costs bounded
calls."""

DEFAULT_SUMMARY_INSTRUCTIONS = (
    "You maintain the running summary of a conversation between a user and an AI assistant. "
    "You are given the summary so far (it may be empty) and the conversation that followed it. "
    "Write the updated summary: keep what still matters from the previous summary and add what "
    "the new conversation established — the user's goals and preferences, facts and decisions, "
    "results of tool calls worth remembering, and questions still open. Be concise and concrete; "
    "do not repeat secrets such as passwords or API keys. Answer with the summary text only."
)
"""What the summary model is told when `SessionSummary(instructions=None)`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionSummary:
    """A rolling summary of a session, kept in the session and sent instead of old turns.

    Example:
        ```python
        agent = Agent(model=model, store=store, session_summary=SessionSummary(every_runs=5))
        ```
    """

    model: ChatModel | str | None = None
    """The summary model (a small one is enough); `None`: the agent's model."""
    every_runs: int = 5
    """Update the summary once this many finished runs are not covered by it."""
    max_tokens: int = 512
    """The summary model's `max_tokens` (the summary's size limit)."""
    background: bool = True
    """Update after the run's answer (`True`) or before its final event (`False`)."""
    instructions: str | None = None
    """The summary model's instructions; `None`: `DEFAULT_SUMMARY_INSTRUCTIONS`."""
    timeout: float = 60.0
    """Seconds one summary model call may take."""

    def __post_init__(self) -> None:
        if self.every_runs < 1:
            raise ConfigurationError(
                f"SessionSummary(every_runs=...) must be 1 or more, got {self.every_runs}"
            )
        if self.max_tokens < 16:
            raise ConfigurationError(
                f"SessionSummary(max_tokens=...) must be 16 or more, got {self.max_tokens}"
            )
        if self.timeout <= 0:
            raise ConfigurationError(
                f"SessionSummary(timeout=...) must be positive, got {self.timeout}"
            )


def summary_learners(
    learners: tuple[Learner, ...],
    config: SessionSummary | None,
    default_model: Callable[[], ChatModel],
    *,
    history_tokens: int | None,
    tool_result_chars: int | None,
) -> tuple[Learner, ...]:
    """`learners` with the summary's updater added when `config` is set (its model: the
    configured one, else `default_model()`, the definition's)."""
    if config is None:
        return learners
    if not isinstance(config, SessionSummary):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ConfigurationError(
            f"session_summary= takes covey.core.SessionSummary(...), got {type(config).__name__}"
        )
    if any(x.name == SummaryLearner.name for x in learners):
        raise ConfigurationError(
            "A learner is named 'summary', the name of the session summary's updater: rename it"
        )
    if config.model is None:
        model = default_model()
    elif isinstance(config.model, str):
        from covey.spec.plugins import resolve_model

        model = resolve_model(config.model)
    else:
        model = config.model
    updater = SummaryLearner(
        config, model, history_tokens=history_tokens, tool_result_chars=tool_result_chars
    )
    return (*learners, updater)


def check_tool_result_chars(value: int | None, owner: str) -> None:
    """Refuse a `tool_result_chars` below 1 (use `None` to turn compression off)."""
    if value is not None and value < 1:
        raise ConfigurationError(
            f"{owner}(tool_result_chars=...) must be 1 or more, or None to keep tool results "
            f"whole, got {value}"
        )


# --- coverage ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Coverage:
    """Which of the session's runs the summary covers: every top-level run up to `run_id`."""

    run_id: str
    created_at: datetime
    runs: int

    @classmethod
    def of(cls, session: Session | None) -> Coverage | None:
        """The coverage recorded in `session`, or `None` (no summary, or unreadable)."""
        if session is None or not session.summary:
            return None
        raw = session.metadata.get(SUMMARY_KEY)
        if not isinstance(raw, dict):
            return None
        try:
            data: dict[str, Any] = dict(raw)  # pyright: ignore[reportUnknownArgumentType]
            return cls(
                run_id=str(data["run_id"]),
                created_at=datetime.fromisoformat(str(data["created_at"])),
                runs=int(data.get("runs", 0)),
            )
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def key(self) -> tuple[datetime, str]:
        """The position of the last covered run in the store's run order."""
        return (self.created_at, self.run_id)

    def to_json(self) -> dict[str, Any]:
        """What `Session.metadata["covey.summary"]` holds."""
        return {"run_id": self.run_id, "created_at": self.created_at.isoformat(), "runs": self.runs}


def summary_section(summary: str) -> str:
    """The summary as the labelled section appended to the system prompt."""
    return (
        f"{SUMMARY_HEADING}\n"
        "A summary of this session's earlier runs (the runs after it follow as messages):\n\n"
        f"{summary.strip()}"
    )


# --- compression -------------------------------------------------------------------------------


def _cut(part: ToolReturnPart, limit: int, run_id: str) -> ToolReturnPart | None:
    """`part` cut to `limit` characters with a marker, or `None` when it stays whole."""
    content = part.content
    if not isinstance(content, str):
        if part.content_parts() is not None:
            return None  # media stays as it is: the provider gets the media, not text
        content = part.content_as_text()
    if len(content) <= limit:
        return None
    rest = len(content) - limit
    marker = f"\n[… {rest:,} more characters cut; the full result is in run {run_id}]"
    return part.model_copy(update={"content": content[:limit] + marker})


def compress_tool_results(
    messages: Sequence[Message], limit: int | None, run_id: str
) -> tuple[list[Message], list[str]]:
    """`messages` (of the stored run `run_id`) with every tool result longer than `limit`
    characters cut to it, and the `tool_call_id`s of the cut results.

    The messages given are never changed (cut ones are copies); media results stay whole.
    """
    if limit is None:
        return list(messages), []
    out: list[Message] = []
    cut_ids: list[str] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            parts: list[Any] = []
            changed = False
            for part in message.parts:
                if isinstance(part, ToolReturnPart):
                    short = _cut(part, limit, run_id)
                    if short is not None:
                        parts.append(short)
                        cut_ids.append(part.tool_call_id)
                        changed = True
                        continue
                parts.append(part)
            if changed:
                message = message.model_copy(update={"parts": parts})
        out.append(message)
    return out, cut_ids


# --- history as loaded -------------------------------------------------------------------------


@dataclass(slots=True)
class HistoryInfo:
    """What a run's model was given as history; stored as `Run.metadata["history"]`."""

    runs: list[str] = field(default_factory=list[str])
    """The ids of the earlier runs sent (oldest first)."""
    dropped: int = 0
    """Earlier runs (after the summary's coverage) left out for the budget. With `more`, at
    least this many: older runs were not read."""
    more: bool = False
    """Older runs may exist that were not even read: the budget was full before the summary's
    coverage (or the session's first run) was reached."""
    compressed: list[str] = field(default_factory=list[str])
    """The `tool_call_id`s whose results were sent cut (`tool_result_chars`)."""
    summary: Coverage | None = None
    """The summary sent, by its coverage; `None` for none."""
    tokens: int = 0
    """The estimated tokens of the history messages sent (`estimate_tokens`)."""

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "summary": None
            if self.summary is None
            else {"run_id": self.summary.run_id, "runs": self.summary.runs},
            "runs": list(self.runs),
            "dropped": self.dropped,
            "more": self.more,
            "compressed": list(self.compressed),
            "tokens": self.tokens,
        }


def prepared_messages(run: Run, limit: int | None) -> tuple[list[Message], list[str]]:
    """A stored run's messages as history: repaired, tagged with its id, tool results cut."""
    messages = repair_history(run.messages)
    messages = [
        m if m.run_id == run.id else m.model_copy(update={"run_id": run.id}) for m in messages
    ]
    return compress_tool_results(messages, limit, run.id)


# --- the summary learner -----------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    """An uncovered run, its messages as the history would send them."""

    run_id: str
    created_at: datetime
    messages: list[Message]

    def transcript(self) -> str:
        # Cut again for the summary model even when the history keeps results longer.
        messages, _ = compress_tool_results(self.messages, _TRANSCRIPT_TOOL_CHARS, self.run_id)
        return f"--- run {self.run_id} ---\n{transcript_of(messages)}"


def _fitting(pending: list[_Pending]) -> list[_Pending]:
    """The oldest pending runs whose transcripts fit in one update (at least one)."""
    size = 0
    for index, item in enumerate(pending):
        size += len(item.transcript())
        if size > _MAX_TRANSCRIPT_CHARS and index > 0:
            return pending[:index]
    return pending


class SummaryLearner:
    """Keeps the session's rolling summary: a `Learner` named `summary` that the agent adds to
    its plan when `session_summary` is set (so it runs after the answer, in the background by
    default, and never fails the run).

    After a completed top-level run with a session, it reads the runs the summary does not cover
    yet; when there are `every_runs` of them, or they no longer fit in `history_tokens`, one
    summary-model call turns the previous summary and those runs into the new summary, saved
    with the session's optimistic version (on a conflict it reloads and retries once).
    """

    __slots__ = ("_config", "_history_tokens", "_model", "_tool_result_chars")

    name = "summary"

    def __init__(
        self,
        config: SessionSummary,
        model: ChatModel,
        *,
        history_tokens: int | None,
        tool_result_chars: int | None,
    ) -> None:
        self._config = config
        self._model = model
        self._history_tokens = history_tokens
        self._tool_result_chars = tool_result_chars

    @property
    def background(self) -> bool:
        """Whether the update runs after the run's final event."""
        return self._config.background

    @property
    def config(self) -> SessionSummary:
        """The summary's settings."""
        return self._config

    def toolsets(self) -> Sequence[Toolset]:
        """None: the summary is kept by the learner, not by the model."""
        return ()

    async def context(self, run: LearningRun, query: str) -> str:
        """Nothing: the run engine puts the summary into the system prompt with the history
        it belongs to (new runs and resumed ones alike)."""
        return ""

    async def learn(self, run: LearningRun, result: RunResult[Any]) -> LearnReport:
        """Extend the session's summary when it is due (see the class)."""
        store = run.store
        if store is None or run.session_id is None or run.parent_run_id is not None:
            return LearnReport()
        usage = Usage()
        # What the first attempt wrote: (coverage, previous summary, runs, new text).
        written: tuple[Coverage | None, str | None, list[_Pending], str] | None = None
        for attempt in range(2):
            session = await store.get_session(run.scope, run.session_id)
            if session is None:
                return LearnReport(usage=usage)
            coverage = Coverage.of(session)
            previous = session.summary if coverage is not None else None
            if written is not None and written[0] == coverage and written[1] == previous:
                # Only the session's state changed meanwhile: the same summary still holds.
                pending, text = written[2], written[3]
            else:
                pending = await self._pending(store, run, result, coverage)
                if not self._due(pending):
                    return LearnReport(usage=usage)
                pending = _fitting(pending)
                try:
                    text = await self._summarise(previous, pending, usage)
                except Exception as exc:
                    logger.warning(
                        "session summary failed",
                        extra={"run_id": run.run_id, "error": type(exc).__name__},
                    )
                    return LearnReport(
                        usage=usage, error=f"the summary model failed ({type(exc).__name__})"
                    )
                written = (coverage, previous, pending, text)
            last = pending[-1]
            covered = Coverage(
                run_id=last.run_id,
                created_at=last.created_at,
                runs=(coverage.runs if coverage is not None else 0) + len(pending),
            )
            metadata = {**session.metadata, SUMMARY_KEY: covered.to_json()}
            try:
                await store.save_session(
                    run.scope,
                    session.model_copy(update={"summary": text, "metadata": metadata}),
                    expected_version=session.version,
                )
            except ConflictError:
                if attempt == 0:
                    continue
                return LearnReport(
                    usage=usage,
                    error="the session kept changing while its summary was saved; not saved",
                )
            change = LearningChange(
                kind="summary",
                action="created" if previous is None else "updated",
                id=run.session_id,
                content=text,
                user_id=run.scope.user_id,
            )
            return LearnReport(changes=[change], usage=usage)
        return LearnReport(usage=usage)  # pragma: no cover - the loop always returns

    def _due(self, pending: Sequence[_Pending]) -> bool:
        if not pending:
            return False
        if len(pending) >= self._config.every_runs:
            return True
        budget = self._history_tokens
        if budget is None:
            return False
        tokens = sum(estimate_tokens(m) for p in pending for m in p.messages)
        return tokens > budget

    async def _pending(
        self, store: Store, run: LearningRun, result: RunResult[Any], coverage: Coverage | None
    ) -> list[_Pending]:
        """The finished top-level runs after `coverage` (this one included), oldest first,
        stopping before the oldest one still running (it is covered by a later update)."""
        found: list[_Pending] = []
        blocked: tuple[datetime, str] | None = None
        cursor: str | None = None
        scope: Scope = run.scope
        assert run.session_id is not None
        done = False
        while not done:
            page = await store.list_runs(
                scope, session_id=run.session_id, cursor=cursor, limit=_PAGE, order="desc"
            )
            for stored in page.items:
                key = (stored.created_at, stored.id)
                if coverage is not None and key <= coverage.key:
                    done = True
                    break
                if stored.parent_run_id is not None:
                    continue
                if stored.id == run.run_id:
                    messages = repair_history(result.messages)
                    messages, _ = compress_tool_results(
                        messages, self._tool_result_chars, stored.id
                    )
                    found.append(_Pending(stored.id, stored.created_at, messages))
                elif stored.status.value == "running":
                    blocked = key if blocked is None or key < blocked else blocked
                elif stored.status.value in ("completed", "failed", "cancelled"):
                    messages, _ = prepared_messages(stored, self._tool_result_chars)
                    found.append(_Pending(stored.id, stored.created_at, messages))
            cursor = page.next_cursor
            if cursor is None:
                break
        found.reverse()
        if blocked is not None:
            found = [p for p in found if (p.created_at, p.run_id) < blocked]
        return [p for p in found if p.messages]

    async def _summarise(
        self, previous: str | None, pending: Sequence[_Pending], usage: Usage
    ) -> str:
        transcript = "\n\n".join(p.transcript() for p in pending)
        body = (
            f"<previous_summary>\n{previous or ''}\n</previous_summary>\n\n"
            f"<conversation>\n{transcript}\n</conversation>"
        )
        request = ModelRequest(
            parts=[
                SystemPart(content=self._config.instructions or DEFAULT_SUMMARY_INSTRUCTIONS),
                UserPart(content=body),
            ]
        )
        from covey.spec import ModelRequestParams

        settings = ModelSettings(max_tokens=self._config.max_tokens, timeout=self._config.timeout)
        with anyio.fail_after(self._config.timeout):
            response = await self._model.request([request], settings, ModelRequestParams())
        usage.incr(response.usage)
        if response.usage.requests == 0:
            usage.requests += 1
        text = response.text().strip()
        if not text:
            raise ValueError("the summary model answered with no text")
        return text


def transcript_of(messages: Sequence[Message]) -> str:
    """Messages as a plain transcript for the summary model."""
    lines: list[str] = []
    for message in messages:
        for part in message.parts:
            if isinstance(part, UserPart):
                lines.append(f"user: {part.text()}")
            elif isinstance(part, TextPart):
                lines.append(f"assistant: {part.content}")
            elif isinstance(part, ToolCallPart):
                lines.append(f"assistant called {part.tool_name}({part.args_as_json()})")
            elif isinstance(part, ToolReturnPart):
                lines.append(f"{part.tool_name} returned: {part.content_as_placeholder_text()}")
    return "\n".join(lines)
