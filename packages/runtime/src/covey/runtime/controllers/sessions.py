"""`/v1/sessions`: conversations and their runs."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from covey.runtime.auth import Principal
from covey.runtime.dto import RunOut, RunPage, SessionOut, SessionPage
from covey.runtime.guards import require_scope
from covey.runtime.problems import ApiError, problem_responses
from covey.runtime.state import RuntimeState
from covey.spec.store import MAX_PAGE_SIZE

__all__ = ["SessionController"]

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, QueryParameter(max_length=4096)]


class SessionController(Controller):
    """List, read and delete sessions."""

    path = "/v1/sessions"
    tags = ["sessions"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012

    @get(
        "/",
        opt={"scope": "sessions:read"},
        summary="List sessions",
        responses=problem_responses(400, 401, 403),
    )
    async def list_sessions(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        agent_id: Annotated[str | None, QueryParameter(max_length=255)] = None,
        q: Annotated[str | None, QueryParameter(max_length=200)] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> SessionPage:
        """The caller's sessions, most recently updated first; page with `cursor`.

        `q` keeps the sessions whose id, agent or summary contain the text (any case, leading
        and trailing blanks ignored, `%` and `_` literal); the store filters, so every page but
        the last is full.
        """
        page = await runtime.store.list_sessions(
            principal.read_scope,
            agent_id=agent_id,
            search=q.strip() if q is not None else None,
            limit=limit,
            cursor=cursor,
        )
        return SessionPage(
            items=[SessionOut.from_session(s) for s in page.items], next_cursor=page.next_cursor
        )

    @get(
        "/{session_id:str}",
        opt={"scope": "sessions:read"},
        summary="Get a session",
        responses=problem_responses(401, 403, 404),
    )
    async def get_session(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        session_id: FromPath[str],
    ) -> SessionOut:
        """A session's state and metadata."""
        session = await runtime.store.get_session(principal.read_scope, session_id)
        if session is None:
            raise ApiError(404, "not-found", f"No session {session_id!r}")
        return SessionOut.from_session(session)

    @get(
        "/{session_id:str}/runs",
        opt={"scope": "sessions:read"},
        summary="List a session's runs",
        responses=problem_responses(401, 403, 404),
    )
    async def list_session_runs(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        session_id: FromPath[str],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> RunPage:
        """The session's runs, oldest first; page with `cursor`."""
        scope = principal.read_scope
        if await runtime.store.get_session(scope, session_id) is None:
            raise ApiError(404, "not-found", f"No session {session_id!r}")
        page = await runtime.store.list_runs(
            scope, session_id=session_id, limit=limit, cursor=cursor
        )
        return RunPage(items=[RunOut.from_run(r) for r in page.items], next_cursor=page.next_cursor)

    @delete(
        "/{session_id:str}",
        opt={"scope": "sessions:write"},
        summary="Delete a session",
        responses=problem_responses(401, 403),
    )
    async def delete_session(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        session_id: FromPath[str],
    ) -> None:
        """Delete a session with its runs and their events."""
        await runtime.store.delete_session(principal.read_scope, session_id)
