"""`Store`'s abstract methods on memories, user profiles, learnings and knowledge contents.

`covey.spec.store.Store` inherits them; the scope rules and error conventions in the
documentation of `covey.spec.store` hold for each.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from covey.spec.store_rows import (
    KnowledgeContent,
    KnowledgeStatus,
    Learning,
    LearningNamespace,
    Memory,
    MemoryUser,
    Page,
    Scope,
    UserProfile,
)

__all__ = ["MemoryMethods"]


class MemoryMethods(ABC):
    """What agents remember and know: memories, user profiles, learnings, knowledge contents."""

    # --- memories --------------------------------------------------------------------------------

    @abstractmethod
    async def add_memory(self, scope: Scope, memory: Memory) -> Memory:
        """Store a new memory.

        Returns:
            The stored memory (`updated_at` set to now).

        Raises:
            ConflictError: a memory with that id exists in the tenant.
            InvalidInputError: an id is malformed, or `memory.user_id` is another user's.
        """

    @abstractmethod
    async def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        """The memory, or `None` when there is none in the scope."""

    @abstractmethod
    async def list_memories(
        self,
        scope: Scope,
        *,
        topic: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Memory]:
        """Memories in the scope, most recently updated first (ties: id descending).

        Args:
            scope: Whose memories; a user scope lists that user's.
            topic: Only memories with this topic.
            limit: Page size, 1 to `MAX_PAGE_SIZE`.
            cursor: `next_cursor` of the previous page.
        """

    @abstractmethod
    async def update_memory(self, scope: Scope, memory: Memory) -> Memory:
        """Replace an existing memory (matched by id); `created_at` is kept.

        Raises:
            NotFoundError: no such memory in the scope.
            InvalidInputError: `memory.user_id` is not the stored memory's user.
        """

    @abstractmethod
    async def delete_memory(self, scope: Scope, memory_id: str) -> None:
        """Delete a memory.

        Raises:
            NotFoundError: no such memory in the scope.
        """

    @abstractmethod
    async def list_memory_users(
        self, scope: Scope, *, limit: int = 50, cursor: str | None = None
    ) -> Page[MemoryUser]:
        """The users with memories, a profile or learnings of their own, in the scope.

        Learnings of namespaces starting with `RESERVED_NAMESPACE_PREFIX` (`covey.`: Covey's
        own bookkeeping, such as eval reports and A2A task snapshots) do not count: a user whose
        only rows are those is not listed.

        A tenant-wide scope lists every such user of its tenant; a user scope lists at most
        itself (when it has any of them). Shared learnings (`user_id=None`) belong to no user
        and list nobody. Each row counts the user's memories and gives the time of the latest
        change (see `MemoryUser`); deleting rows lowers the count, and a user left with nothing
        is no longer listed.

        Ordered by `updated_at` descending (ties: user id descending), so the users whose
        memories changed last come first.

        Args:
            scope: The caller's scope.
            limit: Page size, 1 to `MAX_PAGE_SIZE`.
            cursor: `next_cursor` of the previous page.
        """

    # --- user profiles ---------------------------------------------------------------------------

    @abstractmethod
    async def get_user_profile(self, scope: Scope, user_id: str) -> UserProfile | None:
        """The user's profile, or `None` when there is none in the scope."""

    @abstractmethod
    async def save_user_profile(self, scope: Scope, profile: UserProfile) -> UserProfile:
        """Create or replace the profile of `profile.user_id`.

        Raises:
            InvalidInputError: the user id is malformed or outside the scope.
        """

    @abstractmethod
    async def delete_user_profile(self, scope: Scope, user_id: str) -> None:
        """Delete a user's profile.

        Raises:
            NotFoundError: no such profile in the scope.
        """

    # --- learnings -------------------------------------------------------------------------------

    @abstractmethod
    async def add_learning(self, scope: Scope, learning: Learning) -> Learning:
        """Store a new learning. Under a user scope it belongs to that user.

        Only a tenant-wide scope can add a shared learning (`user_id=None`).

        Raises:
            ConflictError: a learning with that id exists in the tenant.
            InvalidInputError: an id or the namespace is malformed, or `learning.user_id` is
                another user's.
        """

    @abstractmethod
    async def get_learning(self, scope: Scope, learning_id: str) -> Learning | None:
        """The learning (the scope's own or a shared one), or `None`."""

    @abstractmethod
    async def list_learnings(
        self,
        scope: Scope,
        namespace: str,
        *,
        kind: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Learning]:
        """Learnings of a namespace, newest first (ties: id descending).

        A user scope gets that user's learnings and the shared ones.

        Args:
            scope: The caller's scope.
            namespace: Where the learnings are filed.
            kind: Only learnings of this kind.
            limit: Page size, 1 to `MAX_PAGE_SIZE`.
            cursor: `next_cursor` of the previous page.
        """

    @abstractmethod
    async def list_learning_namespaces(
        self, scope: Scope, *, limit: int = 50, cursor: str | None = None
    ) -> Page[LearningNamespace]:
        """The namespaces with learnings visible to the scope, by name (ascending).

        Visibility is `list_learnings`': a user scope counts its own learnings and the shared
        ones, a tenant-wide scope every learning of its tenant. Every namespace is listed,
        whatever its name: hiding names some caller reserves for itself (the runtime hides
        `covey.`) is that caller's business.

        Args:
            scope: The caller's scope.
            limit: Page size, 1 to `MAX_PAGE_SIZE`.
            cursor: `next_cursor` of the previous page.
        """

    @abstractmethod
    async def delete_learning(self, scope: Scope, learning_id: str) -> None:
        """Delete a learning the scope owns (shared ones: tenant-wide scopes only).

        Raises:
            NotFoundError: no such learning that this scope may delete.
        """

    # --- knowledge contents ----------------------------------------------------------------------

    @abstractmethod
    async def save_knowledge_content(
        self, scope: Scope, content: KnowledgeContent
    ) -> KnowledgeContent:
        """Create or replace a knowledge content; `created_at` is kept from the first save.

        Only a tenant-wide scope can write a shared content (`user_id=None`).

        Raises:
            ConflictError: the id is taken by a content this scope may not write.
            InvalidInputError: an id is malformed, or `content.user_id` is another user's.
        """

    @abstractmethod
    async def get_knowledge_content(self, scope: Scope, content_id: str) -> KnowledgeContent | None:
        """The content (the scope's own or a shared one), or `None`."""

    @abstractmethod
    async def list_knowledge_contents(
        self,
        scope: Scope,
        *,
        knowledge: str | None = None,
        status: KnowledgeStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[KnowledgeContent]:
        """Contents visible to the scope, most recently updated first (ties: id descending).

        Args:
            scope: The caller's scope; a user scope also sees shared contents.
            knowledge: Only contents of the knowledge base of this name.
            status: Only contents with this status.
            limit: Page size, 1 to `MAX_PAGE_SIZE`.
            cursor: `next_cursor` of the previous page.
        """

    @abstractmethod
    async def delete_knowledge_content(self, scope: Scope, content_id: str) -> None:
        """Delete a content the scope owns (shared ones: tenant-wide scopes only).

        Raises:
            NotFoundError: no such content that this scope may delete.
        """
