"""Run observers: every event of every run in this process, as it is emitted.

Tracing (OpenTelemetry spans) and metrics (Prometheus) are built on this one hook, so the run
loop knows neither. An observer is a plain callable `observer(event, scope)`, called
synchronously in the run's task for each event (text deltas included) with the run's tenant and
user; it must be cheap (record, never await or do I/O inline) and must not raise: an exception
is logged once per observer and otherwise ignored, never failing the run.

With no observer registered the cost is one truth test per event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from covey.spec import events as ev
    from covey.spec.store import Scope

__all__ = ["Observer", "add_observer", "notify", "observers", "remove_observer"]

logger = logging.getLogger("covey.observe")

Observer = Callable[["ev.BaseEvent", "Scope"], None]

_OBSERVERS: list[Observer] = []
_FAILED: set[int] = set()


def add_observer(observer: Observer) -> None:
    """Call `observer(event, scope)` for every event of every run from now on (once, even if
    added twice)."""
    if observer not in _OBSERVERS:
        _OBSERVERS.append(observer)


def remove_observer(observer: Observer) -> None:
    """Stop calling `observer` (nothing happens if it was not added)."""
    if observer in _OBSERVERS:
        _OBSERVERS.remove(observer)
    _FAILED.discard(id(observer))


def observers() -> tuple[Observer, ...]:
    """The observers registered now, in the order they are called."""
    return tuple(_OBSERVERS)


def notify(event: ev.BaseEvent, scope: Scope) -> None:
    """Give `event` to every observer; one failing observer affects no other and no run."""
    for observer in tuple(_OBSERVERS):
        try:
            observer(event, scope)
        except Exception as exc:
            if id(observer) not in _FAILED:
                _FAILED.add(id(observer))
                logger.warning(
                    "run observer failed (logged once per observer)",
                    extra={"observer": repr(observer)[:200], "error": type(exc).__name__},
                )
