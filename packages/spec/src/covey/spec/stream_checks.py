"""`StreamCheck`: what the run loop needs to check a streamed answer before it is sent.

An output guardrail (a post-run hook) reads the finished output. When the run streams, its text
deltas would reach the client before that; a post-run hook that also satisfies `StreamCheck`
(covey-guardrails' `Guardrail` does) tells the run loop how to check the answer as it grows, so
the loop can hold the text back and release only what the check returned. The run loop knows
this protocol, never the guardrail classes behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from covey.spec.context import RunContext

__all__ = ["StreamCheck", "StreamCheckPolicy"]


@dataclass(frozen=True, slots=True)
class StreamCheckPolicy:
    """How a guardrail checks a streamed answer.

    Attributes:
        window: Characters held back at the end of the text checked so far: they may still
            change when more text arrives (half an e-mail, an IBAN cut between its groups). It
            must cover the longest value the check masks or trips on; invisible (format)
            characters do not count, and the cut never falls inside a word.
        every: New characters between two checks (a newline also starts one). Larger is
            cheaper and adds latency: the first text is released after about
            `window + every` characters.
        local: Whether the check of a text is the checks of its pieces put together, when the
            text is cut between words (a regex: yes; a model's judgement of the whole: no). A
            local check reads only the text not yet released; a non-local one reads the whole
            answer at each checkpoint, so give it a coarse `every`.
    """

    window: int = 0
    every: int = 256
    local: bool = False

    def __post_init__(self) -> None:
        if self.window < 0 or self.every < 1:
            raise ValueError("StreamCheckPolicy needs window >= 0 and every >= 1")


@runtime_checkable
class StreamCheck(Protocol):
    """An output check that can read a streamed answer as it grows."""

    @property
    def name(self) -> str:
        """Its name in `guardrail.tripped` events and errors."""
        ...

    @property
    def stream_policy(self) -> StreamCheckPolicy | None:
        """How it checks streams; `None`: only the finished output."""
        ...

    async def check_text(self, ctx: RunContext[Any], text: str) -> str:
        """`text` checked: returned (masked, or as it is), or `GuardrailTripped` raised."""
        ...
