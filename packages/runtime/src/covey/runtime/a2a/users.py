"""The A2A SDK's view of a Covey caller: a `User`, and the owner its tasks are kept under."""

from __future__ import annotations

from a2a.auth.user import User
from a2a.server.context import ServerCallContext

from covey.runtime.auth import Principal

__all__ = ["CallerUser", "owner_of", "owner_of_principal"]


class CallerUser(User):
    """A caller authenticated by the runtime (with auth off: the anonymous principal)."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        """Always: the runtime refused anyone else before the request got here."""
        return True

    @property
    def user_name(self) -> str:
        """`tenant/user`, the owner of the caller's tasks."""
        return owner_of_principal(self.principal)


def owner_of_principal(principal: Principal) -> str:
    """One owner per tenant and user: no caller lists, reads or cancels another's tasks."""
    return f"{principal.tenant_id}\x1f{principal.user_id or ''}"


def owner_of(context: ServerCallContext) -> str:
    """The task store's owner resolver."""
    user = context.user
    if isinstance(user, CallerUser):
        return owner_of_principal(user.principal)
    return "\x1fanonymous-refused"
