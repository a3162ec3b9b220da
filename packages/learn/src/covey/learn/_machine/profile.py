"""`UserProfile`: structured fields about the user (name, city, language...), one profile each.

Kept in the store's `UserProfile.data` (what `GET /v1/users/{id}/profile` shows and a user
corrects with `PATCH`). Every write merges: fields the model did not mention are kept, whoever
wrote them (the user through the API included). With a `schema` (a pydantic model whose fields
are all optional) the model fills those fields, validated by the schema; without one it keeps
free text fields, capped in number and length.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from covey.learn._machine.base import Applied, LearningStore, Mode, Recorder, StoreContext
from covey.learn._machine.common import (
    NO_USER,
    READ_ONLY,
    SECRET,
    error,
    invalid,
    tool_scope,
    within_chars,
)
from covey.learn._secrets import looks_like_secret
from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.spec.function_toolset import Tool
from covey.spec.learning import LearningChange
from covey.spec.store import Scope, Store
from covey.spec.store import UserProfile as ProfileRow
from covey.spec.tools import ToolResult

__all__ = ["UserProfile"]

FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
Value = str | int | float | bool | list[str] | None
MAX_CURRENT_CHARS = 8000

_INSTRUCTIONS_FREE = (
    "Fields of the user's profile that this conversation states or corrects, as "
    '{"field_name": "value"}: lowercase snake_case names (name, city, occupation, language, '
    "timezone...), short values, lasting facts about the user only. null removes a field that "
    "is now wrong. Leave out fields the conversation does not mention; an empty object or null "
    "for no change."
)
_INSTRUCTIONS_SCHEMA = (
    "The user's profile fields that this conversation states or corrects. Set only those; leave "
    "every other field out (or null): fields left out keep their current value."
)


class UserProfile(LearningStore):
    """The user's profile: structured fields the agent learns.

    Args:
        mode: `always` (extracted after each run), `agentic` (the `update_profile` tool) or
            `propose` (the tool, each call confirmed by a person).
        schema: A pydantic model whose fields are all optional: the fields the profile has.
            Without one, free text fields named by the model.
        max_fields: Without a schema, new fields past this many are refused.
        max_value_chars: Without a schema, the longest value kept.

    Raises:
        ConfigurationError: the schema has a required field or a field name that is not
            lowercase snake_case, or a limit is not positive.
    """

    kind: ClassVar[str] = "profile"

    def __init__(
        self,
        mode: Mode = "always",
        *,
        schema: type[BaseModel] | None = None,
        max_fields: int = 30,
        max_value_chars: int = 200,
    ) -> None:
        super().__init__(mode)
        if max_fields < 1 or max_value_chars < 1:
            raise ConfigurationError("max_fields and max_value_chars must be at least 1")
        if schema is not None:
            if not (isinstance(schema, type) and issubclass(schema, BaseModel)):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ConfigurationError("UserProfile(schema=) takes a pydantic model class")
            for name, info in schema.model_fields.items():
                if info.is_required():
                    raise ConfigurationError(
                        f"UserProfile schema field {name!r} is required: every profile field "
                        "must be optional (the profile is learned a little at a time)"
                    )
                if not FIELD_NAME.match(name):
                    raise ConfigurationError(
                        f"UserProfile schema field {name!r} must be lowercase snake_case"
                    )
        self.schema = schema
        self.max_fields = max_fields
        self.max_value_chars = max_value_chars

    def __repr__(self) -> str:
        schema = self.schema.__name__ if self.schema else None
        return f"UserProfile(mode={self.mode!r}, schema={schema})"

    # --- always mode ---------------------------------------------------------------------------

    def extraction_field(self) -> tuple[Any, str]:
        """The schema's fields, or free `{name: value}` pairs."""
        if self.schema is not None:
            return self.schema, _INSTRUCTIONS_SCHEMA
        return dict[str, str | None], _INSTRUCTIONS_FREE

    async def current(self, ctx: StoreContext) -> str:
        """The profile as JSON."""
        data = await self.data(ctx.store, ctx.scope)
        text = json.dumps(data, ensure_ascii=False, default=str)
        if len(text) > MAX_CURRENT_CHARS:  # a profile PUT through the API may be large
            text = text[:MAX_CURRENT_CHARS] + " [cut]"
        return "Current profile: " + text

    async def apply(self, ctx: StoreContext, value: Any) -> Applied:
        """Merge the fields the model set into the profile."""
        applied = Applied()
        if value is None:
            return applied
        if isinstance(value, BaseModel):
            updates: dict[str, Any] = value.model_dump(
                mode="json", exclude_unset=True, exclude_none=True
            )
        else:
            updates = dict(value)  # pyright: ignore[reportUnknownArgumentType]
        change = await self.merge(ctx.store, ctx.scope, updates, applied.skipped)
        if change is not None:
            applied.changes.append(change)
        return applied

    # --- reading and writing -------------------------------------------------------------------

    async def data(self, store: Store, scope: Scope) -> dict[str, Any]:
        """The user's profile fields ({} when there is no profile)."""
        user_id = _user(scope)
        row = await store.get_user_profile(scope, user_id)
        return dict(row.data) if row is not None else {}

    async def merge(
        self, store: Store, scope: Scope, updates: dict[str, Any], skipped: list[str]
    ) -> LearningChange | None:
        """Set the fields of `updates` (`None` removes one) and keep every other field.

        Fields that are malformed, past the caps or look like credentials go to `skipped`.
        Returns the change, or `None` when nothing changed.
        """
        user_id = _user(scope)
        row = await store.get_user_profile(scope, user_id)
        data: dict[str, Any] = dict(row.data) if row is not None else {}
        shown: list[str] = []
        considered = list(updates.items())
        limit = (len(self.schema.model_fields) if self.schema else self.max_fields) + 10
        if len(considered) > limit:
            skipped.append(f"profile: {len(considered) - limit} fields past {limit} in one answer")
            considered = considered[:limit]
        for name, new in considered:
            reason = self._refused(name, new, data)
            if reason is not None:
                skipped.append(f"profile field {_shown(name)}: {reason}")
                continue
            if new is None:
                if name in data:
                    del data[name]
                    shown.append(f"{name}: (removed)")
                continue
            if data.get(name) == new:
                continue
            data[name] = new
            shown.append(f"{name}: {_text(new)}")
        if not shown:
            return None
        await store.save_user_profile(scope, ProfileRow(user_id=user_id, data=data))
        return LearningChange(
            kind=self.kind,
            action="created" if row is None else "updated",
            id=user_id,
            content="; ".join(shown),
            user_id=user_id,
        )

    def _refused(self, name: str, value: Any, data: dict[str, Any]) -> str | None:
        if not isinstance(name, str) or not FIELD_NAME.match(name):  # pyright: ignore[reportUnnecessaryIsInstance]
            return "the name must be lowercase snake_case, at most 64 characters"
        if self.schema is not None and name not in self.schema.model_fields:
            return "not a field of the profile"
        if value is None:
            return None
        if looks_like_secret(name) or looks_like_secret(_text(value)):
            return "looks like a secret (a key, password or card number)"
        if self.schema is None:
            if not isinstance(value, str):
                return "the value must be text"
            if not value.strip() or len(value) > self.max_value_chars:
                return f"the value must be 1 to {self.max_value_chars} characters"
            if name not in data and len(data) >= self.max_fields:
                return f"the profile already has {self.max_fields} fields (the limit)"
        return None

    # --- every mode ----------------------------------------------------------------------------

    async def context(self, ctx: StoreContext, query: str, budget_tokens: int) -> str:
        """The profile's fields, one a line."""
        data = await self.data(ctx.store, ctx.scope)
        if not data:
            return ""
        lines = [f"- {name}: {_text(value)}" for name, value in sorted(data.items())]
        return within_chars("The user's profile:\n" + "\n".join(lines), budget_tokens)

    # --- agentic and propose modes -------------------------------------------------------------

    def tools(self, store: Store, record: Recorder) -> Sequence[Tool[..., Any]]:
        """`get_profile` and `update_profile`."""

        async def get_profile(ctx: RunContext[Any]) -> ToolResult:
            """The user's profile fields, as known now."""
            scope = tool_scope(ctx)
            if scope is None:
                return error(NO_USER)
            return ToolResult(content={"profile": await self.data(store, scope)})

        async def update_profile(
            ctx: RunContext[Any], field: str, value: Value = None
        ) -> ToolResult:
            """Set one field of the user's profile (a lasting fact such as their name or city).

            Args:
                field: The field's name in lowercase snake_case, e.g. "city".
                value: The field's new value; null removes the field.
            """
            scope = tool_scope(ctx)
            if scope is None:
                return error(NO_USER)
            checked: Any = value
            if self.schema is not None and value is not None:
                if field not in self.schema.model_fields:
                    known = ", ".join(self.schema.model_fields)
                    return error(f"The profile has no field {field[:64]!r}; its fields: {known}.")
                try:
                    model = self.schema.model_validate({field: value})
                except ValidationError as exc:
                    return invalid(exc)
                checked = model.model_dump(mode="json")[field]
            skipped: list[str] = []
            change = await self.merge(store, scope, {field: checked}, skipped)
            if skipped:
                reason = skipped[0]
                return error(SECRET if "secret" in reason else f"Not saved: {reason}.")
            if change is not None:
                record(ctx.run_id, change)
            return ToolResult(content={"profile": await self.data(store, scope)})

        return [Tool(get_profile, metadata=READ_ONLY), Tool(update_profile)]

    def describe_call(self, tool_name: str, args: dict[str, Any]) -> str:
        """`Save to the user's profile: city = 'Lyon'`."""
        field = str(args.get("field", ""))[:64]
        value = args.get("value")
        if value is None:
            return f"Remove from the user's profile: {field}"
        return f"Save to the user's profile: {field} = {_text(value)[:200]!r}"


def _user(scope: Scope) -> str:
    if scope.user_id is None:
        from covey.spec.errors import InvalidInputError

        raise InvalidInputError("a profile belongs to a user: pass a scope with a user_id")
    return scope.user_id


def _shown(name: Any) -> str:
    """A refused field's name for the report, unless the name itself is the problem (a name
    can carry a credential too, and reports end up in the run's events)."""
    if isinstance(name, str) and FIELD_NAME.match(name) and not looks_like_secret(name):
        return repr(name)
    return "(a malformed name)"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
