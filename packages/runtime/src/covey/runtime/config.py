"""The runtime's settings: `covey.toml` and `COVEY_*` environment variables.

The file is `--config PATH`, else `$COVEY_CONFIG`, else `./covey.toml` when there is one.
Every key of `covey.toml` is also an environment variable: `store` ⇄ `COVEY_STORE`,
`jwt_secret` ⇄ `COVEY_JWT_SECRET`. The environment wins over the file, and values given in code
win over both. List values accept JSON (`'["a", "b"]'`) or a comma-separated string in the
environment.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from covey.spec.errors import ConfigurationError

__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "LOCAL_CONFIG",
    "AuthMode",
    "RuntimeSettings",
    "find_config",
    "load_settings",
]

ENV_PREFIX = "COVEY_"
"""Every setting `key` is also read from the environment variable `COVEY_<KEY>`."""

CONFIG_ENV = "COVEY_CONFIG"
"""The environment variable naming the `covey.toml` to read when none is given."""

LOCAL_CONFIG = "covey.toml"
"""The file read from the working directory when neither `--config` nor `$COVEY_CONFIG` is set."""

AuthMode = Literal["none", "jwt"]

_HMAC = ("HS256", "HS384", "HS512")
_ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
JwtAlgorithm = Literal[
    "HS256",
    "HS384",
    "HS512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
]
_MIN_SECRET_BYTES = 32

_file_values: ContextVar[dict[str, Any] | None] = ContextVar("covey_file_values", default=None)


def _split_list(value: Any) -> Any:
    """Lists from the environment: JSON, or comma-separated words."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class _FileSource(PydanticBaseSettingsSource):
    """The values read from `covey.toml`, checked for unknown keys before they get here."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        values = _file_values.get() or {}
        return values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_values.get() or {})


class RuntimeSettings(BaseSettings):
    """Everything the runtime is configured with. Secrets are `SecretStr`: never shown.

    Build one with `load_settings()` (file + environment), or directly in code and tests:
    `RuntimeSettings(agents="myapp.agents:registry", store="sqlite:///app.db")`.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
        hide_input_in_errors=True,
    )

    # --- what to serve -------------------------------------------------------------------------
    agents: str | None = None
    """Python path of the registry: `"module:attribute"`; the attribute is a `Registry`, a list
    of agents, or a function returning either. `None` serves no agents."""
    python_path: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["."])
    """Folders put on `sys.path` before the registry is imported (relative to the config file;
    without one, to the working directory). The default, `["."]`, is that folder itself, so a
    module beside `covey.toml` is found."""
    store: str = "sqlite:///.covey/covey.db"
    """The store URL, resolved through the `covey.db` plugins (`memory://` for no persistence)."""
    auto_migrate: bool = True
    """Apply the store's schema migrations when the server starts."""

    # --- where to listen -----------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"

    # --- auth ----------------------------------------------------------------------------------
    auth: AuthMode = "none"
    """`none` (loopback only) or `jwt` (bearer tokens)."""
    jwt_secret: SecretStr | None = None
    """Shared secret for HS256/384/512 tokens (at least 32 bytes)."""
    jwt_public_key: str | None = None
    """PEM public key (or a path to one) for RS*/PS*/ES* tokens."""
    jwt_jwks_file: Path | None = None
    """A JWKS file (JSON) holding the public keys; tokens pick one by `kid`."""
    jwt_algorithms: Annotated[list[JwtAlgorithm], NoDecode] = Field(default_factory=list[Any])
    """Accepted algorithms; default HS256 with a secret, RS256 and ES256 with public keys."""
    jwt_audience: str | None = None
    """Required `aud`; `None` accepts tokens without `aud` only."""
    jwt_issuer: str | None = None
    """Required `iss`, when set."""
    jwt_tenant_claim: str = "tenant"
    """The claim holding the caller's tenant."""
    jwt_require_tenant: bool = False
    """Refuse tokens without the tenant claim (otherwise they belong to tenant `default`)."""
    jwt_scope_claim: str = "scope"
    """The claim holding scopes: a space-separated string or a list (`scp` is read too)."""
    jwt_leeway: float = Field(default=0.0, ge=0, le=600)
    """Seconds of clock skew allowed when checking `exp` and `nbf`."""

    # --- HTTP ----------------------------------------------------------------------------------
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["localhost", "127.0.0.0/8", "::1"]
    )
    """Hosts the `Host` header may name, any port: names, `*.domain`, addresses or networks
    (`10.0.0.0/8`), `*` for any. Loopback by default; add the public name behind a proxy."""
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list[str])
    """Origins allowed by CORS (`["*"]` for any); empty disables CORS. Browser pages from these
    origins (and the server's own) may also open WebSockets and send POST/PUT/PATCH/DELETE."""
    max_body_size: int = Field(default=1_048_576, ge=1024, le=1_073_741_824)
    """Largest request body (and WebSocket message) in bytes."""

    console: bool = True
    """Serve the console (the control plane in the browser) at `/console`, and lead `/` there."""

    # --- knowledge -----------------------------------------------------------------------------
    data_dir: Path = Path(".covey")
    """Where the runtime keeps files: uploaded documents wait here until they are ingested, so
    ingestion left unfinished by a restart resumes (relative to the config file's folder)."""
    knowledge_max_upload: int = Field(default=33_554_432, ge=1024, le=1_073_741_824)
    """Largest document, in bytes, `POST /v1/knowledge/{kb}/contents` takes (one file of a
    multipart upload, or the text of a JSON body); a larger one is refused with 413."""
    knowledge_max_files: int = Field(default=20, ge=1, le=1000)
    """Most files one multipart upload may carry."""
    knowledge_sources: dict[str, list[str]] = Field(default_factory=dict[str, list[str]])
    """Files, folders or globs each knowledge base ingests at startup, in the background, shared
    with tenant `default` (relative to the config file's folder), e.g.
    `knowledge_sources = { docs = ["docs"] }`. Unchanged files are not embedded again."""

    # --- runs ----------------------------------------------------------------------------------
    run_timeout: float | None = Field(default=600.0, gt=0)
    """Seconds a run may take before it is cancelled; `None` for no limit."""
    shutdown_grace: float = Field(default=30.0, ge=0)
    """Seconds running runs get to finish on shutdown before they are marked interrupted."""
    learning_grace: float = Field(default=30.0, ge=0)
    """Seconds background learning (`Agent(learning=...)` after a run's answer) gets to finish
    on shutdown, after the runs drained; what is still learning then is cancelled and leaves
    `learning.failed` ("Cancelled") in its run's log."""
    lease_seconds: float = Field(default=15.0, gt=0, le=3600)
    """A run's lease: its worker renews it every third of this; a running run whose lease has
    not been renewed for this long (its worker crashed) is closed as interrupted."""
    stale_after: float | None = Field(default=None, gt=0, le=3600)
    """Deprecated alias of `lease_seconds`, used when `lease_seconds` is not set."""
    max_concurrent_evals: int = Field(default=2, ge=1, le=64)
    """Evals (`POST /v1/evals`) one process runs at once; one more is refused with 429 and
    `Retry-After` (not queued: a queue would hold token spending nobody sees start, and a
    caller that retries knows where it stands)."""
    eval_lease_seconds: float = Field(default=60.0, gt=0, le=3600)
    """A running eval report's lease: its worker renews it as each case finishes and every
    third of this; a report left `running` whose lease lapsed (its worker died) is marked
    `failed` ("interrupted") by any worker that sees it."""
    poll_interval: float = Field(default=0.25, gt=0, le=10)
    """Seconds between store polls when following a run that runs in another process."""
    scheduler: bool = True
    """Fire due schedules (`/v1/schedules`) in this process. Every process of a deployment may:
    each firing is claimed in the store (a compare-and-set), so it happens exactly once."""
    schedule_poll: float = Field(default=1.0, gt=0, le=60)
    """Seconds between the scheduler's looks for due schedules (a firing starts at most this
    late)."""
    schedule_misfire_grace: float = Field(default=60.0, ge=0, le=604_800)
    """A firing found this many seconds late or less (the server was down or busy) still runs;
    older missed firings are skipped and counted in the schedule's `missed`."""
    schedule_tenants: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["default"])
    """Deprecated, no longer needed: every process fires every tenant's due schedules (the store
    lists the tenants with due schedules). Tenants listed here are still looked at on every
    poll, which changes nothing; the setting will be removed in a later release."""

    # --- protocols -----------------------------------------------------------------------------
    mcp_expose: Annotated[list[str], NoDecode] = Field(default_factory=list[str])
    """What the MCP server at `/mcp` (and `covey mcp serve`) offers as MCP tools: `agent:NAME`,
    `team:NAME`, `workflow:NAME` (a tool that runs it), `tool:AGENT.TOOL` (one tool of a served
    agent, called directly). Empty: no `/mcp` endpoint at all (deny by default)."""

    # --- tracing (covey-otel: pip install 'covey-runtime[otel]') -----------------------------
    tracing: bool = False
    """Trace every run (OpenTelemetry spans, GenAI conventions) and keep the spans in the store
    for `/v1/traces`. On by itself when `otlp_endpoint` is set."""
    otlp_endpoint: str | None = None
    """Send spans to this OTLP/HTTP collector (`http://collector:4318`); nothing is sent
    anywhere without it (`OTEL_*` variables are not read)."""
    otlp_headers: dict[str, SecretStr] = Field(default_factory=dict[str, SecretStr])
    """Headers for the collector (its API key); never logged."""
    otlp_timeout: float = Field(default=5.0, gt=0, le=60)
    """Seconds one export to the collector may take, retries included (also what shutdown
    waits at most for an unreachable collector)."""
    tracing_service_name: str = "covey"
    """`service.name` of the exported spans."""
    tracing_capture_content: bool = False
    """Record run input and output, completions, tool arguments and results (redacted)."""
    tracing_redact_keys: Annotated[list[str], NoDecode] = Field(default_factory=list[str])
    """More argument names whose values are never recorded (on top of password, token, ...)."""
    tracing_store_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    """The share of traces kept in the store (by trace id: whole traces, every process alike)."""
    tracing_export_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    """The share of traces sent to the collector."""
    approval_expiry: float | None = Field(default=None, gt=0, le=366 * 86400)
    """Seconds an approval of a paused run stays open (from the pause); after that the next
    read of `/v1/approvals` or decision rejects it with the note `expired` and the run goes on
    with the rejection. `None`: approvals wait as long as the run stays paused."""

    config_file: Path | None = Field(default=None, exclude=True)
    """The `covey.toml` these settings were read from (set by `load_settings`)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Code first, then `COVEY_*` variables, then `covey.toml`."""
        return (init_settings, env_settings, _FileSource(settings_cls))

    @field_validator(
        "python_path",
        "allowed_hosts",
        "cors_origins",
        "jwt_algorithms",
        "mcp_expose",
        "schedule_tenants",
        "tracing_redact_keys",
        mode="before",
    )
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("allowed_hosts")
    @classmethod
    def _some_host(cls, value: list[str]) -> list[str]:
        if not [v for v in value if v.strip()]:
            raise ValueError("no host is allowed, so no request would be served; use '*' for any")
        return value

    @field_validator("agents", "jwt_audience", "jwt_issuer", "jwt_public_key", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("store")
    @classmethod
    def _store_url(cls, value: str) -> str:
        if "://" not in value:
            raise ValueError(
                "expected a store URL such as 'sqlite:///.covey/covey.db', "
                "'postgresql+asyncpg://user@host/db' or 'memory://'"
            )
        return value

    @field_validator("agents")
    @classmethod
    def _agents_path(cls, value: str | None) -> str | None:
        if value is not None:
            module, sep, attribute = value.partition(":")
            if not sep or not module.strip() or not attribute.strip():
                raise ValueError("expected 'module:attribute', e.g. 'myapp.agents:registry'")
        return value

    @model_validator(mode="after")
    def _lease_alias(self) -> RuntimeSettings:
        if self.stale_after is not None and "lease_seconds" not in self.model_fields_set:
            self.lease_seconds = self.stale_after
        return self

    @model_validator(mode="after")
    def _auth_consistent(self) -> RuntimeSettings:
        if self.auth == "none":
            return self
        keys = [
            name
            for name, given in (
                ("jwt_secret", self.jwt_secret is not None),
                ("jwt_public_key", self.jwt_public_key is not None),
                ("jwt_jwks_file", self.jwt_jwks_file is not None),
            )
            if given
        ]
        if len(keys) != 1:
            got = " and ".join(keys) if keys else "none of them"
            raise ValueError(
                "auth = 'jwt' needs exactly one of jwt_secret (HS256), jwt_public_key or "
                f"jwt_jwks_file (RS256/ES256); got {got}"
            )
        if self.jwt_secret is not None:
            if len(self.jwt_secret.get_secret_value().encode()) < _MIN_SECRET_BYTES:
                raise ValueError(
                    f"jwt_secret is shorter than {_MIN_SECRET_BYTES} bytes; use a random secret, "
                    "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                )
            wrong = [a for a in self.jwt_algorithms if a not in _HMAC]
            if wrong:
                raise ValueError(
                    f"jwt_algorithms {wrong} need a public key, but jwt_secret is set; "
                    "use HS256/HS384/HS512 with a secret"
                )
        else:
            wrong = [a for a in self.jwt_algorithms if a in _HMAC]
            if wrong:
                raise ValueError(
                    f"jwt_algorithms {wrong} need jwt_secret; with a public key or JWKS use "
                    "RS256, PS256 or ES256"
                )
        if self.jwt_jwks_file is not None and not self.jwt_jwks_file.is_file():
            raise ValueError(f"jwt_jwks_file {str(self.jwt_jwks_file)!r} is not a file")
        return self

    @property
    def algorithms(self) -> list[str]:
        """The JWT algorithms accepted, defaults filled in."""
        if self.jwt_algorithms:
            return list(self.jwt_algorithms)
        return ["HS256"] if self.jwt_secret is not None else ["RS256", "ES256"]

    @property
    def base_dir(self) -> Path:
        """Where relative paths point: the config file's folder, else the working directory."""
        if self.config_file is not None:
            return self.config_file.parent
        return Path.cwd()

    @property
    def data_path(self) -> Path:
        """`data_dir` resolved against `base_dir`."""
        return self.base_dir / self.data_dir

    @property
    def import_paths(self) -> list[Path]:
        """`python_path`, each folder resolved against `base_dir`."""
        return [self.base_dir / folder for folder in self.python_path]


_FIELD_NAMES = frozenset(RuntimeSettings.model_fields) - {"config_file"}


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"Config file {str(path)!r} does not exist; pass --config PATH or set {CONFIG_ENV} "
            "to an existing covey.toml"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"Config file {str(path)!r} is not valid TOML: {exc}") from None
    # A `[covey]` table is accepted too, so the keys can live in a shared TOML file.
    table = data.get("covey", data)
    if not isinstance(table, dict):
        raise ConfigurationError(f"Config file {str(path)!r}: [covey] must be a table")
    values: dict[str, Any] = dict(table)  # pyright: ignore[reportUnknownArgumentType]
    unknown = sorted(k for k in values if k not in _FIELD_NAMES)
    if unknown:
        known = ", ".join(sorted(_FIELD_NAMES))
        raise ConfigurationError(
            f"Config file {str(path)!r}: unknown key(s) {', '.join(unknown)}. "
            f"Known keys: {known}. Remove or rename them."
        )
    if "jwt_secret" in values:
        raise ConfigurationError(
            f"Config file {str(path)!r}: jwt_secret must not be written in a file; set the "
            f"{ENV_PREFIX}JWT_SECRET environment variable instead"
        )
    return values


def _explain(exc: ValidationError, file_values: Mapping[str, Any], path: Path | None) -> str:
    lines: list[str] = []
    for error in exc.errors(include_input=False):
        loc = [str(part) for part in error["loc"]]
        if not loc:  # a check across several keys (auth): its message names them
            lines.append(f"  - {str(error['msg']).removeprefix('Value error, ')}")
            continue
        key = loc[0]
        env = f"{ENV_PREFIX}{key.upper()}"
        if key in file_values and path is not None and env not in os.environ:
            where = f"key '{key}' in {path}"
        else:
            where = f"setting '{key}' (covey.toml key '{key}' or environment variable {env})"
        message = str(error["msg"]).removeprefix("Value error, ")
        if len(loc) > 1:
            message = f"item {'.'.join(loc[1:])}: {message}"
        lines.append(f"  - {where}: {message}")
    return "Invalid configuration:\n" + "\n".join(lines)


def find_config(config: str | Path | None = None) -> Path | None:
    """The config file to read: `config`, else `$COVEY_CONFIG`, else `./covey.toml` if it exists.

    Returns:
        Its absolute path, or `None` when there is none to read.
    """
    if config is None:
        config = os.environ.get(CONFIG_ENV) or None
    if config is None:
        local = Path(LOCAL_CONFIG)
        config = local if local.is_file() else None
    return Path(config).resolve() if config is not None else None


def load_settings(
    config: str | Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
) -> RuntimeSettings:
    """Read the settings from the config file (`find_config`), the environment and `overrides`.

    Args:
        config: Path of a `covey.toml`; `None` reads `$COVEY_CONFIG` when set, else
            `./covey.toml` when it exists, else only the environment.
        overrides: Values that win over the file and the environment (command-line flags).

    Raises:
        ConfigurationError: the file is missing or malformed, or a value is invalid; the message
            names the key, where it came from, and what is expected.
    """
    path = find_config(config)
    file_values = _read_file(path) if path is not None else {}
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(k for k in given if k not in _FIELD_NAMES)
    if unknown:
        raise ConfigurationError(f"Unknown setting(s) {', '.join(unknown)}")
    token = _file_values.set(file_values)
    try:
        settings = RuntimeSettings(**given)
    except ValidationError as exc:
        raise ConfigurationError(_explain(exc, file_values, path)) from None
    finally:
        _file_values.reset(token)
    settings.config_file = path
    return settings
