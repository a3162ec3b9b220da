"""`StreamGate`: a streamed answer held back until the output guardrails have checked it.

A post-run hook reads the finished output, but a streamed run sends its text deltas long before
that. When a run streams and one of its post-run hooks is a `StreamCheck` with a policy (a
masking PII guardrail), the gate stands between the model's stream and the run's events: it
keeps the raw text of each text part, checks it at checkpoints (every `every` new characters,
a newline, the end of the part, the end of the stream) and releases, as `text.delta` events,
only the checked (masked) text, except a tail of `window` characters that more text could
still change. A trip raises `GuardrailTripped` (stage `output`) before the text is released.
Raw text is never in an event: partial structured output is not streamed while the gate
holds, and `model_request.completed` and the final event's result carry the released text in
place of the model's (and no arguments for the output tool); the run's messages keep its words.

A local check (a regex) reads only the text not yet released: the cut between released and
held text falls between words, and a cut is taken only when the held text checked as a whole
equals its two sides checked apart (no value straddles it); otherwise everything stays held
until a later cut is clean. Checking costs O(window + every) per checkpoint, linear over the
answer. A non-local check reads the whole answer at each checkpoint; if it would change text
already released, the run trips rather than re-send it or let raw text go.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from covey.spec import (
    ModelResponse,
    ModelStreamEvent,
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    RunContext,
    RunResult,
    TextPart,
    TextPartDelta,
    ToolCallPart,
    ToolCallPartDelta,
)
from covey.spec import events as ev
from covey.spec.errors import GuardrailTripped
from covey.spec.stream_checks import StreamCheck, StreamCheckPolicy

if TYPE_CHECKING:
    from covey.core.run.engine import RunEngine

__all__ = ["StreamGate", "cut_point"]


def cut_point(text: str, window: int) -> int:
    """Where held text begins: `window` visible characters before the end of `text`, moved back
    to just after a whitespace (a value without spaces, an e-mail, is never cut), or 0."""
    end = len(text)
    if end <= window:
        return 0
    tail_start = end - window
    if not text[tail_start:].isascii():
        # Invisible characters (zero-width spaces a model was told to put between digits) do
        # not count: the window holds `window` characters a reader sees.
        need = window
        at = end
        while at > 0 and need > 0:
            at -= 1
            if unicodedata.category(text[at]) != "Cf":
                need -= 1
        if need > 0:
            return 0
        tail_start = at
    at = tail_start
    while at > 0 and not text[at - 1].isspace():
        at -= 1
    return at


class _Part:
    """One text part of the response: raw text not yet checked-and-released, and what was."""

    __slots__ = ("chunks", "held", "released", "since")

    def __init__(self) -> None:
        self.chunks: list[str] = []
        """Raw text held (local checks) or the whole raw text (non-local checks)."""
        self.released: list[str] = []
        self.since = 0
        self.held = 0
        """Characters still held after the last check that released nothing (else 0)."""


class StreamGate:
    """Holds a streamed answer's text until the stream checks have read it (see the module)."""

    __slots__ = ("_checks", "_open", "_output_parts", "_released", "_shown", "failed", "policy")

    def __init__(self, checks: Sequence[StreamCheck], policy: StreamCheckPolicy) -> None:
        self._checks = tuple(checks)
        self.policy = policy
        self._open: dict[int, _Part] = {}
        self._released: dict[int, str] = {}
        self._output_parts: set[int] = set()
        self.failed = False
        """A check tripped or failed: the request must not be retried or sent elsewhere."""
        self._shown: dict[int, tuple[ModelResponse, ModelResponse]] = {}
        """id of a response of the run -> (it, as shown); it is kept so the id stays its own."""

    @classmethod
    def of(cls, hooks: Sequence[object]) -> StreamGate | None:
        """The gate for these post-run hooks, or `None` when none of them checks streams."""
        checks: list[StreamCheck] = []
        policies: list[StreamCheckPolicy] = []
        for hook in hooks:
            if isinstance(hook, StreamCheck):
                policy = hook.stream_policy
                if policy is not None:
                    checks.append(hook)
                    policies.append(policy)
        if not checks:
            return None
        merged = StreamCheckPolicy(
            window=max(p.window for p in policies),
            every=max(p.every for p in policies),
            local=all(p.local for p in policies),
        )
        return cls(checks, merged)

    def reset(self) -> None:
        """Forget a response (a new attempt: what was held was never sent)."""
        self.failed = False
        self._open.clear()
        self._released.clear()
        self._output_parts.clear()

    async def events(self, e: RunEngine, item: ModelStreamEvent) -> list[ev.BaseEvent]:
        """The run events for one model stream event, text held back."""
        if isinstance(item, PartStartEvent):
            out = await self._close(e, keep=item.index)
            part = item.part
            if isinstance(part, TextPart):
                self._open[item.index] = _Part()
                if part.content:
                    out.extend(await self._feed(e, item.index, part.content))
                return out
            if isinstance(part, ToolCallPart) and part.tool_name in e.output_tool_names:
                # The output tool's arguments are the answer: not streamed unchecked.
                self._output_parts.add(item.index)
                return out
            out.extend(self._plain(e, item))
            return out
        if isinstance(item, PartEndEvent) and item.index in self._open:
            # The end of a text part is its last checkpoint.
            part = self._open.pop(item.index)
            out = self._emit(e, item.index, await self._checkpoint(e.ctx, part, final=True))
            self._released[item.index] = "".join(part.released)
            return out
        if isinstance(item, PartDeltaEvent):
            delta = item.delta
            if isinstance(delta, TextPartDelta):
                return await self._feed(e, item.index, delta.content)
            if isinstance(delta, ToolCallPartDelta) and (
                item.index in self._output_parts or delta.tool_name in e.output_tool_names
            ):
                self._output_parts.add(item.index)
                return []
        return self._plain(e, item)

    async def finish(self, e: RunEngine) -> list[ev.BaseEvent]:
        """At the end of the stream: check and release what every open text part holds."""
        return await self._close(e, keep=None)

    def show(self, response: ModelResponse) -> ModelResponse:
        """`response` as events may show it: each text part the text released for it (kept, so
        the final event's result shows the same)."""
        parts: list[Any] = list(response.parts)
        changed = False
        for index, part in enumerate(parts):
            if isinstance(part, TextPart):
                parts[index] = part.model_copy(update={"content": self._released.get(index, "")})
                changed = True
            elif isinstance(part, ToolCallPart) and index in self._output_parts:
                # The output tool's arguments are the unchecked answer: events leave them out
                # (the result's output is the checked one).
                parts[index] = part.model_copy(update={"args": {}})
                changed = True
        if not changed:
            return response
        shown = response.model_copy(update={"parts": parts})
        self._shown[id(response)] = (response, shown)
        return shown

    def shown_result(self, result: RunResult[Any]) -> RunResult[Any]:
        """`result` as the final event shows it: its messages' answers as they were released."""
        if not self._shown:
            return result
        messages: list[Any] = []
        for message in result.messages:
            kept = self._shown.get(id(message))
            messages.append(kept[1] if kept is not None and kept[0] is message else message)
        return result.model_copy(update={"messages": messages})

    # --- internals -------------------------------------------------------------------------------

    @staticmethod
    def _plain(e: RunEngine, item: ModelStreamEvent) -> list[ev.BaseEvent]:
        # Thinking and tool calls as usual; partial structured output is not streamed while the
        # gate holds the text it would be read from.
        return [x for x in e.stream.events(e, item) if not isinstance(x, ev.OutputDelta)]

    async def _feed(self, e: RunEngine, index: int, fragment: str) -> list[ev.BaseEvent]:
        part = self._open.get(index)
        if part is None:
            part = self._open[index] = _Part()
        part.chunks.append(fragment)
        part.since += len(fragment)
        # While the held text cannot be cut (one long word: no whitespace to cut at), the next
        # check waits for it to grow by half, so re-reading it stays linear overall.
        every = max(self.policy.every, part.held // 2)
        if part.since < every and "\n" not in fragment:
            return []
        part.since = 0
        return self._emit(e, index, await self._checkpoint(e.ctx, part, final=False))

    async def _close(self, e: RunEngine, keep: int | None) -> list[ev.BaseEvent]:
        out: list[ev.BaseEvent] = []
        for index in [i for i in self._open if i != keep]:
            part = self._open.pop(index)
            out.extend(self._emit(e, index, await self._checkpoint(e.ctx, part, final=True)))
            self._released[index] = "".join(part.released)
        return out

    def _emit(self, e: RunEngine, index: int, text: str) -> list[ev.BaseEvent]:
        if not text:
            return []
        return [e.emit(ev.TextDelta, delta=text, part_index=index)]

    async def _check(self, ctx: RunContext[Any], text: str) -> str:
        for check in self._checks:
            try:
                text = await check.check_text(ctx, text)
            except GuardrailTripped as exc:
                self.failed = True
                if exc.guardrail is None:
                    exc.guardrail = check.name
                if exc.stage is None:
                    exc.stage = "output"
                raise
            except Exception as exc:
                self.failed = True
                # A check that fails cannot vouch for the text: fail closed, typed, and not
                # retried on another model. Only the error's type is named (its message may
                # quote the text).
                raise GuardrailTripped(
                    f"the stream check failed ({type(exc).__name__})",
                    guardrail=check.name,
                    stage="output",
                ) from exc
        return text

    async def _checkpoint(self, ctx: RunContext[Any], part: _Part, *, final: bool) -> str:
        """Check what `part` holds; record and return the text to release now."""
        raw = "".join(part.chunks)
        if self.policy.local:
            checked = await self._check(ctx, raw)
            if final:
                part.chunks = []
                part.released.append(checked)
                return checked
            cut = cut_point(raw, self.policy.window)
            if cut == 0:
                part.chunks = [raw]
                part.held = len(raw)
                return ""
            part.held = 0
            head_checked = await self._check(ctx, raw[:cut])
            # The cut is clean when the two sides checked apart read as the whole checked: a
            # value straddling it ("+44 20 7946 | 0958": the head alone masks as a shorter
            # phone number, and the tail's digits would go out) makes them differ.
            if not checked.startswith(head_checked) or (
                head_checked + await self._check(ctx, raw[cut:]) != checked
            ):
                part.chunks = [raw]
                part.held = len(raw)
                return ""
            part.chunks = [raw[cut:]]
            part.released.append(head_checked)
            return head_checked
        part.chunks = [raw]
        checked = await self._check(ctx, raw)
        sent = "".join(part.released)
        if not checked.startswith(sent):
            self.failed = True
            raise GuardrailTripped(
                "the checked answer changed text already streamed (raise the window)",
                guardrail=self._checks[0].name,
                stage="output",
            )
        end = len(checked) if final else max(cut_point(checked, self.policy.window), len(sent))
        new = checked[len(sent) : end]
        if new:
            part.released.append(new)
        return new
