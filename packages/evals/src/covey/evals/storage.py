"""Eval reports kept in any Covey store, as `Learning` rows of the reserved namespace
`covey.evals` (kind `eval_report`).

The store has no eval table. A learning row is the record that fits without a schema change:
it is scoped by tenant (and optionally user) like everything else, paged newest first by
namespace and kind in every store, and covered by the conformance suite. `content` is the
one-line summary, `metadata["report"]` the whole report as JSON. The namespace is reserved:
nothing else files learnings under `covey.evals`.

A report that runs in the background is stored at once as `running` and replaced as cases
finish (`replace_report`). A `Store` has no update for learnings, so a replace is a delete and
an add of the same id (and `created_at`, so the report keeps its place in the list): a reader in
another process may, for the instant between the two, not find the report.
"""

from __future__ import annotations

from contextlib import suppress

from covey.evals.report import EvalReport
from covey.spec.errors import ConflictError, NotFoundError
from covey.spec.store import Learning, Page, Scope, Store

__all__ = [
    "EVALS_NAMESPACE",
    "MAX_STORED_OUTPUT",
    "REPORT_KIND",
    "get_report",
    "list_reports",
    "replace_report",
    "save_report",
]

EVALS_NAMESPACE = "covey.evals"
REPORT_KIND = "eval_report"
MAX_STORED_OUTPUT = 4000
"""A case's output is cut to this many characters in the stored report (the whole output is
in the case's run, `run_id`): a large suite of long answers stays far below a store's record
limit (16 MiB in covey-db-sql)."""
CUT_MARK = " …[cut: the whole output is in the case's run]"
_REPLACE_ATTEMPTS = 3


def _for_storage(report: EvalReport) -> EvalReport:
    cases = [
        case.model_copy(update={"output": case.output[:MAX_STORED_OUTPUT] + CUT_MARK})
        if case.output is not None and len(case.output) > MAX_STORED_OUTPUT
        else case
        for case in report.cases
    ]
    return report.model_copy(update={"cases": cases})


def _summary(report: EvalReport) -> str:
    if report.status != "completed":
        done = len(report.cases)
        total = report.progress.total if report.progress is not None else done
        return f"{report.suite}: {report.status}, {done}/{total} cases done"
    verdict = "passed" if report.passed else "failed"
    passed = sum(1 for case in report.cases if case.passed)
    return f"{report.suite}: {verdict}, {passed}/{len(report.cases)} cases passed"


async def save_report(store: Store, scope: Scope, report: EvalReport) -> EvalReport:
    """Store `report` under `scope` (a user scope keeps it that user's; a tenant-wide scope
    shares it in the tenant). Its id is the learning's id. Outputs longer than
    `MAX_STORED_OUTPUT` characters are cut in the stored copy; `report` is returned as given."""
    await store.add_learning(scope, _learning(report, scope.user_id))
    return report


def _learning(report: EvalReport, user_id: str | None) -> Learning:
    stored = _for_storage(report)
    return Learning(
        id=report.id,
        namespace=EVALS_NAMESPACE,
        kind=REPORT_KIND,
        content=_summary(report),
        metadata={"report": stored.model_dump(mode="json"), "suite": report.suite},
        user_id=user_id,
        created_at=report.started_at,
    )


async def replace_report(store: Store, scope: Scope, report: EvalReport) -> EvalReport:
    """Store `report` in place of the stored report with its id (or as a new one), keeping its
    owner. `scope` must be able to read it (the owner's scope, or the tenant's).

    When another process replaces the same report at the same moment, the last write wins
    (each write is tried again, a few times, when the other's delete or add came in between).

    Raises:
        ValueError: the id is a learning of another namespace.
    """
    for attempt in range(_REPLACE_ATTEMPTS):
        current = await store.get_learning(scope, report.id)
        owner = scope.user_id
        if current is not None:
            if current.namespace != EVALS_NAMESPACE or current.kind != REPORT_KIND:
                raise ValueError(f"{report.id!r} is not an eval report")
            owner = current.user_id
        owned = Scope(scope.tenant_id, owner)
        try:
            if current is not None:
                with suppress(NotFoundError):  # another writer deleted it first
                    await store.delete_learning(owned, report.id)
            await store.add_learning(owned, _learning(report, owner))
        except ConflictError:  # another writer added it between our delete and our add
            if attempt == _REPLACE_ATTEMPTS - 1:
                raise
            continue
        break
    return report


def _report(learning: Learning) -> EvalReport | None:
    if learning.namespace != EVALS_NAMESPACE or learning.kind != REPORT_KIND:
        return None
    return EvalReport.model_validate(learning.metadata.get("report"))


async def get_report(store: Store, scope: Scope, report_id: str) -> EvalReport | None:
    """The report, or `None` (also for a learning of another namespace with that id)."""
    learning = await store.get_learning(scope, report_id)
    return None if learning is None else _report(learning)


async def list_reports(
    store: Store, scope: Scope, *, limit: int = 50, cursor: str | None = None
) -> Page[EvalReport]:
    """Reports newest first, a page at a time (`next_cursor` for the next)."""
    page = await store.list_learnings(
        scope, EVALS_NAMESPACE, kind=REPORT_KIND, limit=limit, cursor=cursor
    )
    reports = [report for item in page.items if (report := _report(item)) is not None]
    return Page[EvalReport](items=reports, next_cursor=page.next_cursor)
