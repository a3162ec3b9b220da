"""`SQLToolset`: three tools over one database — list tables, describe one, run a query."""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

import anyio
from sqlalchemy.engine.reflection import Inspector

from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.spec.function_toolset import FunctionToolset, Tool
from covey.spec.tools import ToolDefinition, ToolResult, Toolset
from covey.tools.sql._backend import QueryFailed, QueryRefused, QueryTimedOut
from covey.tools.sql._urls import open_target
from covey.tools.sql._values import json_safe

__all__ = ["SQLToolset"]

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class SQLToolset(Toolset):
    """Tools to explore and query one SQLite or PostgreSQL database, read-only by default.

    The tools: `list_tables()`, `describe_table(table)` (columns, types, primary and foreign
    keys, indexes, through SQLAlchemy's inspector) and `run_query(sql, params)` (one statement;
    `:name` placeholders filled from `params`; at most `max_rows` rows, with `truncated` set when
    there were more).

    Read-only is enforced by the database, not by reading the SQL: SQLite opens the file with
    `mode=ro`, sets `PRAGMA query_only` and installs an authorizer that allows only reads;
    PostgreSQL runs every call in a `READ ONLY` transaction that is rolled back, and refuses
    superuser roles (they can run programs on the server from a read-only transaction). With
    `read_only=False`, `run_query` may also write: each statement is committed on its own.

    Args:
        url_or_engine: `sqlite:///path/app.db`, `sqlite://` (in memory), `postgresql://...`
            (asyncpg is used), a `sqlalchemy.URL`, a synchronous SQLite `Engine` or an
            `AsyncEngine` on asyncpg. The password is never shown.
        read_only: Refuse every write (the default). `False` lets `run_query` write.
        max_rows: Rows returned by a query at most.
        timeout: Seconds a call may take; the database stops the statement after that.
        schemas: Schemas the tools see (default: the default schema only, `public`/`main`).
        tables: An allow-list of table names (`"orders"` or `"sales.orders"`). Listing and
            describing show only these. On SQLite, `run_query` may read or write no other table
            (the authorizer refuses it); on PostgreSQL grant the toolset's role access to just
            these tables to hold queries to them.
        id: The toolset's id (the tool-name prefix when names clash).
        max_value_chars: Text and bytes values longer than this are cut in results.
        allow_superuser: PostgreSQL: allow a read-only toolset to connect as a superuser.

    Raises:
        ConfigurationError: an unsupported URL or engine, or an option out of range.
    """

    def __init__(
        self,
        url_or_engine: Any,
        *,
        read_only: bool = True,
        max_rows: int = 100,
        timeout: float = 10.0,
        schemas: Sequence[str] | None = None,
        tables: Sequence[str] | None = None,
        id: str = "sql",
        max_value_chars: int = 2000,
        allow_superuser: bool = False,
    ) -> None:
        if isinstance(max_rows, bool) or not 1 <= max_rows <= 100_000:
            raise ConfigurationError(f"max_rows must be an int from 1 to 100000, got {max_rows!r}")
        if not 0 < timeout <= 3600:
            raise ConfigurationError(f"timeout must be seconds in (0, 3600], got {timeout!r}")
        if max_value_chars < 16:
            raise ConfigurationError(f"max_value_chars must be >= 16, got {max_value_chars!r}")
        if not _ID.fullmatch(id):
            raise ConfigurationError(
                f"id {id!r} is not a valid tool-name prefix: 1-64 letters, digits, '_' or '-'."
            )
        for name, value in (("schemas", schemas), ("tables", tables)):
            if isinstance(value, str):
                raise ConfigurationError(
                    f"{name} must be a list of names, got the string {value!r}"
                )
        self.id = id
        self.read_only = read_only
        self.max_rows = max_rows
        self.timeout = float(timeout)
        self.max_value_chars = max_value_chars
        self._tables = None if tables is None else frozenset(tables)
        self._schemas = None if schemas is None else tuple(schemas)
        target = open_target(
            url_or_engine,
            read_only=read_only,
            allow_superuser=allow_superuser,
            tables=self._allowed if self._tables is not None else None,
        )
        self._backend = target.backend
        self._masked = target.masked
        self._password = target.password
        self._entered = 0
        self._enter_lock = anyio.Lock()
        self._tools = self._build_tools()

    def __repr__(self) -> str:
        return f"SQLToolset({self._masked!r}, read_only={self.read_only}, id={self.id!r})"

    # --- lifetime ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        async with self._enter_lock:
            if self._entered == 0:
                await self._backend.open()
            self._entered += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        async with self._enter_lock:
            self._entered -= 1
            if self._entered == 0:
                await self._backend.close()

    # --- Toolset ----------------------------------------------------------------------------

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        return await self._tools.list_tools(ctx)

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        return await self._tools.call_tool(name, args, ctx)

    # --- names ------------------------------------------------------------------------------

    def _schema_key(self, schema: str | None) -> str | None:
        return None if schema in (None, "", self._backend.default_schema) else schema

    def _fold(self, name: str) -> str:
        # SQLite identifiers are case-insensitive; PostgreSQL's are as stored.
        return name.casefold() if self._backend.dialect == "sqlite" else name

    def _allowed(self, schema: str | None, name: str) -> bool:
        default = self._backend.default_schema
        visible = {self._schema_key(s) or default for s in self._schemas or (default,)}
        key = self._schema_key(schema)
        if (key or default) not in visible:
            return False
        if self._tables is None:
            return True
        qualified = name if key is None else f"{key}.{name}"
        return self._fold(qualified) in {self._fold(t) for t in self._tables}

    def _visible_schemas(self) -> list[str | None]:
        if self._schemas is None:
            return [None]
        return [self._schema_key(s) for s in self._schemas]

    def _split(self, table: str) -> tuple[str | None, str]:
        """`schema.table` → (schema, table); a dot in a table's own name stays in the name."""
        text = table.strip()
        schema, dot, name = text.rpartition(".")
        if dot and self._schema_key(schema) in self._visible_schemas():
            return self._schema_key(schema), name
        return None, text

    # --- tools ------------------------------------------------------------------------------

    def _error(self, error: QueryFailed) -> ToolResult:
        message = str(error)
        if self._password:
            message = message.replace(self._password, "***")
        if isinstance(error, QueryTimedOut):
            text = f"Stopped: {message}. Make the query cheaper (a LIMIT, a narrower WHERE)."
        elif isinstance(error, QueryRefused) and self.read_only:
            text = (
                "Refused: this SQL toolset is read-only, and the database refused the statement "
                f"({message}). Only queries that read are allowed."
            )
        elif isinstance(error, QueryRefused):
            text = f"Refused by the database: {message}"
        else:
            text = f"The database returned an error: {message}"
        return ToolResult(content=text, is_error=True)

    def _build_tools(self) -> FunctionToolset:
        dialect = "SQLite" if self._backend.dialect == "sqlite" else "PostgreSQL"
        mode = "read-only" if self.read_only else "read-write"

        async def list_tables() -> ToolResult:
            """List the tables and views that can be queried."""

            def work(inspector: Inspector) -> list[dict[str, str]]:
                found: list[dict[str, str]] = []
                for schema in self._visible_schemas():
                    for kind, names in (
                        ("table", inspector.get_table_names(schema)),
                        ("view", inspector.get_view_names(schema)),
                    ):
                        for name in sorted(names):
                            if self._allowed(schema, name):
                                shown = name if schema is None else f"{schema}.{name}"
                                found.append({"name": shown, "kind": kind})
                return found

            try:
                found = await self._backend.inspect(work, limit=self.timeout)
            except QueryFailed as e:
                return self._error(e)
            return ToolResult(
                content={
                    "dialect": self._backend.dialect,
                    "read_only": self.read_only,
                    "tables": found,
                }
            )

        async def describe_table(table: str) -> ToolResult:
            """Describe a table: its columns and their types, primary key, foreign keys, indexes.

            Args:
                table: The table's name as `list_tables` shows it (`orders` or `sales.orders`).
            """
            schema, name = self._split(table)
            if not name or not self._allowed(schema, name):
                return ToolResult(
                    content=f"No table {table!r} is available. Call list_tables to see the "
                    "tables you can use.",
                    is_error=True,
                )

            def work(inspector: Inspector) -> dict[str, Any] | None:
                names = [*inspector.get_table_names(schema), *inspector.get_view_names(schema)]
                found = name if name in names else None
                if found is None:  # SQLite: `Orders` names `orders`
                    folded = [n for n in names if self._fold(n) == self._fold(name)]
                    found = folded[0] if len(folded) == 1 else None
                if found is None or not self._allowed(schema, found):
                    return None
                return _describe(inspector, schema, found, self.max_value_chars)

            try:
                description = await self._backend.inspect(work, limit=self.timeout)
            except QueryFailed as e:
                return self._error(e)
            if description is None:
                return ToolResult(
                    content=f"No table {table!r} exists. Call list_tables to see the tables.",
                    is_error=True,
                )
            return ToolResult(content=description)

        async def run_query(sql: str, params: dict[str, Any] | None = None) -> ToolResult:
            """Run one SQL statement and return its columns and rows.

            Args:
                sql: One statement. Write `:name` where a value from `params` goes.
                params: Values for the `:name` placeholders, by name.
            """
            if not sql.strip():
                return ToolResult(content="The SQL statement is empty.", is_error=True)
            try:
                outcome = await self._backend.query(
                    sql, params, max_rows=self.max_rows, limit=self.timeout
                )
            except QueryFailed as e:
                return self._error(e)
            truncated = len(outcome.rows) > self.max_rows
            rows = [
                [json_safe(v, self.max_value_chars) for v in row]
                for row in outcome.rows[: self.max_rows]
            ]
            content: dict[str, Any] = {
                "columns": outcome.columns,
                "rows": rows,
                "row_count": len(rows),
                "truncated": truncated,
            }
            if truncated:
                content["note"] = (
                    f"Only the first {self.max_rows} rows are shown. Add a LIMIT, aggregate, or "
                    "narrow the WHERE clause."
                )
            if outcome.rowcount is not None and not self.read_only and not outcome.columns:
                content["rows_affected"] = outcome.rowcount
            return ToolResult(content=content)

        query_text = (
            f"Run one {dialect} SQL statement on the database and return its columns and rows "
            f"(at most {self.max_rows} rows; `truncated` says when there were more). The "
            f"connection is {mode}"
            + (": statements that write are refused." if self.read_only else ".")
            + f" Statements are stopped after {self.timeout:g} s."
        )
        return FunctionToolset(
            [
                Tool(
                    list_tables,
                    description=f"List the tables and views of the {dialect} "
                    "database that can be queried.",
                ),
                Tool(describe_table),
                Tool(run_query, description=query_text),
            ],
            id=self.id,
        )


def _type_name(column_type: Any) -> str:
    try:
        return str(column_type)
    except Exception:  # some reflected types cannot compile without a dialect
        return type(column_type).__name__


def _describe(
    inspector: Inspector, schema: str | None, name: str, max_chars: int
) -> dict[str, Any]:
    pk = inspector.get_pk_constraint(name, schema)
    pk_columns: list[str] = list(pk.get("constrained_columns") or [])
    columns = [
        {
            "name": c["name"],
            "type": _type_name(c["type"]),
            "nullable": bool(c.get("nullable", True)),
            "default": json_safe(c.get("default"), max_chars),
            "primary_key": c["name"] in pk_columns,
            **({"comment": c.get("comment")} if c.get("comment") else {}),
        }
        for c in inspector.get_columns(name, schema)
    ]
    foreign_keys = [
        {
            "columns": fk["constrained_columns"],
            "references": (
                f"{fk['referred_schema']}.{fk['referred_table']}"
                if fk.get("referred_schema")
                else fk["referred_table"]
            ),
            "referred_columns": fk["referred_columns"],
        }
        for fk in inspector.get_foreign_keys(name, schema)
    ]
    indexes = [
        {"name": ix["name"], "columns": list(ix["column_names"]), "unique": bool(ix["unique"])}
        for ix in inspector.get_indexes(name, schema)
    ]
    shown = name if schema is None else f"{schema}.{name}"
    return {
        "table": shown,
        "columns": columns,
        "primary_key": pk_columns,
        "foreign_keys": foreign_keys,
        "indexes": indexes,
    }
