"""`/v1/memories`, `/v1/users/{id}/profile`, `/v1/learnings`: what is known about a user.

A user lists, corrects and deletes their own memories, profile and learnings; an admin reaches
the whole tenant's. Nothing here ever reaches another tenant: every store call carries the
caller's tenant. Another user's memory or learning is answered 404 exactly like a missing one,
so ids say nothing about what other users have.

With auth off (loopback, no token) the caller is the anonymous admin of tenant `default`: it
sees every user's rows and must name the user a new memory belongs to (`user_id`).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from covey.runtime.auth import Principal
from covey.runtime.dto import Id
from covey.runtime.guards import require_scope
from covey.runtime.memory_dto import (
    LearningNamespaceOut,
    LearningNamespacePage,
    LearningOut,
    LearningPage,
    MemoryIn,
    MemoryOut,
    MemoryPage,
    MemoryPatch,
    MemoryUserOut,
    MemoryUserPage,
    ProfileIn,
    ProfileOut,
    ProfilePatch,
)
from covey.runtime.problems import ApiError, problem_responses
from covey.runtime.state import RuntimeState
from covey.spec.store import (
    MAX_PAGE_SIZE,
    RESERVED_NAMESPACE_PREFIX,
    LearningNamespace,
    Memory,
    Scope,
    Store,
    UserProfile,
)

__all__ = ["LearningController", "MemoryController", "ProfileController"]

Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE)]
Cursor = Annotated[str | None, QueryParameter(max_length=4096)]
UserFilter = Annotated[
    str | None,
    QueryParameter(
        min_length=1,
        max_length=255,
        description="Only this user's rows (admins; other callers may name only themselves).",
    ),
]


_RESERVED = RESERVED_NAMESPACE_PREFIX
"""Learning namespaces Covey keeps for itself (covey-learn's per-user call counter lives in
`covey.learn.calls`): never listed, read or deleted through the API."""


async def _served_namespaces(
    store: Store, scope: Scope, limit: int, cursor: str | None
) -> tuple[list[LearningNamespace], str | None]:
    """A page of the namespaces the API serves: the store's, without the reserved ones.

    The store lists every namespace (it knows nothing of Covey's reservations); dropping the
    reserved ones from a page would leave it short, so this reads on, asking each time for just
    the rows still missing, until the page is full or the listing ends. Each store page ends
    exactly where its cursor resumes, so nothing is skipped or repeated. The reserved names
    share one prefix, hence sit together in name order: a few reads more at most, and never
    more than `_MAX_READS` (a page may then come back short, with a cursor to go on).
    """
    items: list[LearningNamespace] = []
    for _ in range(_MAX_READS):
        page = await store.list_learning_namespaces(scope, limit=limit - len(items), cursor=cursor)
        items.extend(n for n in page.items if not n.namespace.startswith(_RESERVED))
        cursor = page.next_cursor
        if cursor is None or len(items) >= limit:
            break
    return items, cursor


_MAX_READS = 16
"""The most store reads one page of namespaces takes (see `_served_namespaces`)."""


def _narrowed(principal: Principal, user_id: str | None) -> Scope:
    """The read scope, narrowed to `user_id` when the caller asks for one user's rows."""
    scope = principal.read_scope
    if user_id is None or user_id == principal.user_id:
        return scope if user_id is None else scope.for_user(user_id)
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "Only an admin may read another user's rows")
    return scope.for_user(user_id)


def _owner_of_new(principal: Principal, user_id: str | None) -> str:
    """The user a memory created by `principal` belongs to."""
    if user_id is None or user_id == principal.user_id:
        if principal.user_id is None:
            raise ApiError(
                400,
                "validation-error",
                "Invalid value for user_id: memories belong to a user; with auth off name "
                "the user in `user_id`",
                errors=[{"field": "user_id", "message": "required when auth is off"}],
            )
        return principal.user_id
    if not principal.is_admin:
        raise ApiError(403, "forbidden", "Only an admin may write another user's memories")
    return user_id


def _profile_scope(principal: Principal, user_id: str) -> Scope:
    """The scope a profile request runs under: the caller's own profile, or an admin's tenant."""
    if principal.is_admin:
        return principal.read_scope
    if user_id != principal.user_id:
        raise ApiError(403, "forbidden", "A user may only reach their own profile")
    return principal.write_scope


class MemoryController(Controller):
    """List, add, correct and delete memories about users."""

    path = "/v1/memories"
    tags = ["memories"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012

    @get(
        "/",
        opt={"scope": "memories:read"},
        summary="List memories",
        responses=problem_responses(401, 403),
    )
    async def list_memories(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        topic: Annotated[str | None, QueryParameter(min_length=1, max_length=100)] = None,
        user_id: UserFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> MemoryPage:
        """The caller's memories (an admin's: the tenant's), most recently updated first."""
        page = await runtime.store.list_memories(
            _narrowed(principal, user_id), topic=topic, limit=limit, cursor=cursor
        )
        return MemoryPage(
            items=[MemoryOut.from_memory(m) for m in page.items], next_cursor=page.next_cursor
        )

    @get(
        "/users",
        opt={"scope": "memories:read"},
        summary="List the users with memories",
        responses=problem_responses(401, 403),
    )
    async def list_memory_users(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> MemoryUserPage:
        """The users with memories, a profile or learnings of their own, the most recently
        changed first: an admin gets the tenant's, anyone else at most themselves."""
        page = await runtime.store.list_memory_users(
            principal.read_scope, limit=limit, cursor=cursor
        )
        return MemoryUserPage(
            items=[MemoryUserOut.from_user(u) for u in page.items], next_cursor=page.next_cursor
        )

    @post(
        "/",
        opt={"scope": "memories:write"},
        summary="Add a memory",
        responses=problem_responses(401, 403, 409, 413, 415),
    )
    async def add_memory(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        data: JSONBody[MemoryIn],
    ) -> MemoryOut:
        """Remember something about the caller (an admin may name another user)."""
        owner = _owner_of_new(principal, data.user_id)
        memory = Memory(
            user_id=owner, memory=data.memory, topics=data.topics, metadata=data.metadata
        )
        stored = await runtime.store.add_memory(principal.read_scope, memory)
        return MemoryOut.from_memory(stored)

    @get(
        "/{memory_id:str}",
        opt={"scope": "memories:read"},
        summary="Get a memory",
        responses=problem_responses(401, 403, 404),
    )
    async def get_memory(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        memory_id: FromPath[str],
    ) -> MemoryOut:
        """One of the caller's memories."""
        memory = await runtime.store.get_memory(principal.read_scope, memory_id)
        if memory is None:
            raise ApiError(404, "not-found", f"No memory {memory_id!r}")
        return MemoryOut.from_memory(memory)

    @patch(
        "/{memory_id:str}",
        opt={"scope": "memories:write"},
        summary="Correct a memory",
        responses=problem_responses(401, 403, 404, 413, 415),
    )
    async def update_memory(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        memory_id: FromPath[str],
        data: JSONBody[MemoryPatch],
    ) -> MemoryOut:
        """Replace the fields given (`memory`, `topics`, `metadata`) of one of the caller's
        memories."""
        scope = principal.read_scope
        memory = await runtime.store.get_memory(scope, memory_id)
        if memory is None:
            raise ApiError(404, "not-found", f"No memory {memory_id!r}")
        changes: dict[str, Any] = data.model_dump(exclude_none=True)
        stored = await runtime.store.update_memory(scope, memory.model_copy(update=changes))
        return MemoryOut.from_memory(stored)

    @delete(
        "/{memory_id:str}",
        opt={"scope": "memories:write"},
        summary="Delete a memory",
        responses=problem_responses(401, 403, 404),
    )
    async def delete_memory(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        memory_id: FromPath[str],
    ) -> None:
        """Forget one of the caller's memories (404 when there is none of theirs)."""
        scope = principal.read_scope
        if await runtime.store.get_memory(scope, memory_id) is None:
            raise ApiError(404, "not-found", f"No memory {memory_id!r}")
        await runtime.store.delete_memory(scope, memory_id)


class ProfileController(Controller):
    """Read, correct and delete a user's profile."""

    path = "/v1/users/{user_id:str}/profile"
    tags = ["memories"]  # noqa: RUF012
    guards = [require_scope]  # noqa: RUF012

    @get(
        "/",
        opt={"scope": "memories:read"},
        summary="Get a user's profile",
        responses=problem_responses(401, 403, 404),
    )
    async def get_profile(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        user_id: FromPath[str],
    ) -> ProfileOut:
        """The caller's own profile (an admin: any user's of the tenant); 404 when none."""
        profile = await runtime.store.get_user_profile(_profile_scope(principal, user_id), user_id)
        if profile is None:
            raise ApiError(404, "not-found", f"No profile for user {user_id!r}")
        return ProfileOut.from_profile(profile)

    @put(
        "/",
        opt={"scope": "memories:write"},
        summary="Replace a user's profile",
        responses=problem_responses(401, 403, 413, 415),
    )
    async def put_profile(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        user_id: FromPath[str],
        data: JSONBody[ProfileIn],
    ) -> ProfileOut:
        """Create or replace the profile with `data`."""
        scope = _profile_scope(principal, user_id)
        stored = await runtime.store.save_user_profile(
            scope, UserProfile(user_id=user_id, data=data.data)
        )
        return ProfileOut.from_profile(stored)

    @patch(
        "/",
        opt={"scope": "memories:write"},
        summary="Correct a user's profile",
        responses=problem_responses(401, 403, 404, 413, 415),
    )
    async def patch_profile(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        user_id: FromPath[str],
        data: JSONBody[ProfilePatch],
    ) -> ProfileOut:
        """Set the fields given; a field given as `null` is removed."""
        scope = _profile_scope(principal, user_id)
        profile = await runtime.store.get_user_profile(scope, user_id)
        if profile is None:
            raise ApiError(404, "not-found", f"No profile for user {user_id!r}")
        merged = dict(profile.data)
        for key, value in data.data.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        stored = await runtime.store.save_user_profile(
            scope, UserProfile(user_id=user_id, data=merged)
        )
        return ProfileOut.from_profile(stored)

    @delete(
        "/",
        opt={"scope": "memories:write"},
        summary="Delete a user's profile",
        responses=problem_responses(401, 403, 404),
    )
    async def delete_profile(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        user_id: FromPath[str],
    ) -> None:
        """Forget what is known about the user as structured data (404 when nothing is)."""
        await runtime.store.delete_user_profile(_profile_scope(principal, user_id), user_id)


class LearningController(Controller):
    """List and delete what agents learned."""

    path = "/v1/learnings"
    tags = ["memories"]  # noqa: RUF012
    guards = [require_scope]  # noqa: RUF012

    @get(
        "/",
        opt={"scope": "memories:read"},
        summary="List learnings",
        responses=problem_responses(401, 403),
    )
    async def list_learnings(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        namespace: Annotated[
            Id, QueryParameter(description="Where the learnings are filed (required).")
        ],
        kind: Annotated[str | None, QueryParameter(min_length=1, max_length=255)] = None,
        user_id: UserFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> LearningPage:
        """The caller's learnings of `namespace` and the tenant's shared ones, newest first
        (an admin: every user's)."""
        if namespace.startswith(_RESERVED):
            raise ApiError(
                400,
                "invalid-input",
                f"Namespaces starting with {_RESERVED!r} are Covey's own bookkeeping, not served",
            )
        page = await runtime.store.list_learnings(
            _narrowed(principal, user_id), namespace, kind=kind, limit=limit, cursor=cursor
        )
        return LearningPage(
            items=[LearningOut.from_learning(x) for x in page.items], next_cursor=page.next_cursor
        )

    @get(
        "/namespaces",
        opt={"scope": "memories:read"},
        summary="List learning namespaces",
        responses=problem_responses(401, 403),
    )
    async def list_learning_namespaces(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        user_id: UserFilter = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> LearningNamespacePage:
        """The namespaces the caller has learnings in (their own or shared; an admin: the
        tenant's, or as `user_id` sees them), by name, each with its count and kinds. Covey's
        own (`covey.`) are never listed."""
        items, next_cursor = await _served_namespaces(
            runtime.store, _narrowed(principal, user_id), limit, cursor
        )
        return LearningNamespacePage(
            items=[LearningNamespaceOut.from_namespace(n) for n in items],
            next_cursor=next_cursor,
        )

    @get(
        "/{learning_id:str}",
        opt={"scope": "memories:read"},
        summary="Get a learning",
        responses=problem_responses(401, 403, 404),
    )
    async def get_learning(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        learning_id: FromPath[str],
    ) -> LearningOut:
        """One of the caller's learnings, or a shared one."""
        learning = await runtime.store.get_learning(principal.read_scope, learning_id)
        if learning is None or learning.namespace.startswith(_RESERVED):
            raise ApiError(404, "not-found", f"No learning {learning_id!r}")
        return LearningOut.from_learning(learning)

    @delete(
        "/{learning_id:str}",
        opt={"scope": "memories:write"},
        summary="Delete a learning",
        responses=problem_responses(401, 403, 404),
    )
    async def delete_learning(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        learning_id: FromPath[str],
    ) -> None:
        """Delete one of the caller's learnings; a shared one only an admin may delete."""
        scope = principal.read_scope
        learning = await runtime.store.get_learning(scope, learning_id)
        if learning is None or learning.namespace.startswith(_RESERVED):
            raise ApiError(404, "not-found", f"No learning {learning_id!r}")
        if learning.user_id is None and not principal.is_admin:
            raise ApiError(
                403, "forbidden", "Only an admin may delete a learning shared by the tenant"
            )
        await runtime.store.delete_learning(scope, learning_id)
