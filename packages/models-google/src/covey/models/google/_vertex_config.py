"""Vertex AI: where the project, location and credentials come from, and the SDK client.

Nothing is read before the first request. Then, once per model, in a worker thread (reading a
file or asking the metadata server must not block the event loop): the credentials (those
passed in, else a service-account file, else Application Default Credentials through
`google.auth.default`), the project (argument, `GOOGLE_CLOUD_PROJECT`, or the one the credentials
name) and the location (argument, `GOOGLE_CLOUD_LOCATION`, else `global`, google-genai's own
default). Each event loop then gets its own `genai.Client` with those, via `LazyClient`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import SecretStr

from covey.spec.adapter_kit import redact
from covey.spec.errors import ConfigurationError

if TYPE_CHECKING:
    from google import genai

__all__ = [
    "BASE_URL_ENV_VAR",
    "CLOUD_PLATFORM_SCOPE",
    "CREDENTIALS_ENV_VAR",
    "DEFAULT_LOCATION",
    "LOCATION_ENV_VAR",
    "PROJECT_ENV_VAR",
    "VERTEX_API_VERSION",
    "VertexAuth",
    "VertexTarget",
    "build_vertex_client",
]

PROJECT_ENV_VAR = "GOOGLE_CLOUD_PROJECT"
LOCATION_ENV_VAR = "GOOGLE_CLOUD_LOCATION"
CREDENTIALS_ENV_VAR = "GOOGLE_APPLICATION_CREDENTIALS"
BASE_URL_ENV_VAR = "GOOGLE_VERTEX_BASE_URL"
"""The Vertex AI base URL override google-genai itself honours."""
DEFAULT_LOCATION = "global"
"""google-genai's default when no location is set: the global endpoint
(`aiplatform.googleapis.com`), which serves current Gemini models from any region."""
VERTEX_API_VERSION = "v1beta1"
"""google-genai's default for Vertex AI; it has every feature the Gemini adapter uses."""
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

# Project ids (or numbers) are lower-case letters, digits and hyphens (domain-scoped ones add
# `example.com:`); locations are regions (`us-central1`), multi-regions (`eu`) or `global`. Both
# go into the URL path, so nothing else (a `/`, `?`, `%`, a space) is let through.
_PROJECT = re.compile(r"^(?:[a-z0-9][a-z0-9.-]{0,62}:)?[a-z0-9][a-z0-9-]{0,62}$")
_LOCATION = re.compile(r"^[a-z][a-z0-9-]{1,40}$")

# Fields of a credentials file (service account, gcloud user, ...) that are secret.
_SECRET_FIELDS = ("private_key", "private_key_id", "client_secret", "refresh_token")
_MIN_LINE = 16  # lines of a PEM key shorter than this (the last one) are not worth matching


@dataclass(frozen=True, slots=True)
class VertexTarget:
    """Where and as whom requests go, once resolved.

    Attributes:
        project: The Google Cloud project (`None` in express mode).
        location: The region, or `global` (`None` in express mode).
        credentials: The `google.auth` credentials (`None` in express mode).
        api_key: The express-mode API key, when one is used instead of credentials.
    """

    project: str | None
    location: str | None
    credentials: Any
    api_key: SecretStr | None = None

    def __repr__(self) -> str:
        auth = "api_key=**********" if self.api_key else type(self.credentials).__name__
        return f"VertexTarget(project={self.project!r}, location={self.location!r}, {auth})"


class VertexAuth:
    """The Vertex AI configuration a model was given, resolved on first use.

    Args:
        project: The Google Cloud project; default `GOOGLE_CLOUD_PROJECT`, then the project the
            credentials name (a service-account file's `project_id`, gcloud's project).
        location: The region (`us-central1`, `europe-west4`...) or `global`; default
            `GOOGLE_CLOUD_LOCATION`, then `global`.
        credentials: Ready `google.auth.credentials.Credentials` (any kind: service account,
            impersonated, workload identity...).
        credentials_file: A credentials JSON file, usually a service-account key; loaded with
            `google.auth.load_credentials_from_file`.
        api_key: A Vertex AI express-mode API key, instead of credentials and a project.

    Raises:
        ConfigurationError: `api_key` together with a project, location or credentials, or
            both `credentials` and `credentials_file`.
    """

    __slots__ = ("_api_key", "_credentials", "_file", "_location", "_lock", "_project", "_target")

    def __init__(
        self,
        *,
        project: str | None = None,
        location: str | None = None,
        credentials: Any = None,
        credentials_file: str | os.PathLike[str] | None = None,
        api_key: str | SecretStr | None = None,
    ) -> None:
        key = SecretStr(api_key) if isinstance(api_key, str) else api_key
        self._api_key = key if key is not None and key.get_secret_value().strip() else None
        self._project = (project or "").strip() or None
        self._location = (location or "").strip() or None
        self._credentials = credentials
        self._file = Path(credentials_file) if credentials_file is not None else None
        if credentials is not None and self._file is not None:
            raise ConfigurationError(
                "Pass either credentials=... or credentials_file=... to a Vertex AI model, "
                "not both."
            )
        if self._api_key is not None and (
            self._project or self._location or credentials is not None or self._file
        ):
            raise ConfigurationError(
                "A Vertex AI express-mode api_key replaces the project, location and "
                "credentials: pass either api_key=... or those, not both."
            )
        if self._project is not None:
            _check_project(self._project)
        if self._location is not None:
            _check_location(self._location)
        self._target: VertexTarget | None = None
        self._lock = threading.Lock()

    @property
    def resolved(self) -> VertexTarget | None:
        """The target once `target()` has resolved it; `None` before."""
        return self._target

    @property
    def express(self) -> bool:
        """Whether requests authenticate with an express-mode API key."""
        return self._api_key is not None

    async def target(self) -> VertexTarget:
        """The resolved project, location and credentials (resolved once, off the loop).

        Raises:
            ConfigurationError: No credentials can be found or read, or no project is known.
        """
        if self._target is None:
            resolved = await asyncio.to_thread(self._resolve)
            with self._lock:
                if self._target is None:
                    self._target = resolved
        return self._target

    def _resolve(self) -> VertexTarget:
        if self._api_key is not None:
            return VertexTarget(
                project=None, location=None, credentials=None, api_key=self._api_key
            )
        credentials, found_project = self._load_credentials()
        project = (
            self._project
            or os.environ.get(PROJECT_ENV_VAR, "").strip()
            or found_project
            or getattr(credentials, "project_id", None)
            or getattr(credentials, "quota_project_id", None)
        )
        if not project:
            raise ConfigurationError(
                "No Google Cloud project for Vertex AI: pass project=... to the model, set the "
                f"{PROJECT_ENV_VAR} environment variable, or use credentials that name one (a "
                "service-account file's project_id)."
            )
        location = (
            self._location or os.environ.get(LOCATION_ENV_VAR, "").strip() or DEFAULT_LOCATION
        )
        return VertexTarget(
            project=_check_project(str(project)),
            location=_check_location(location),
            credentials=credentials,
        )

    def _load_credentials(self) -> tuple[Any, str | None]:
        if self._credentials is not None:
            return self._credentials, None
        import google.auth
        from google.auth import exceptions as auth_errors

        loaded: tuple[Any, Any]
        try:
            if self._file is not None:
                loaded = self._load_file(self._file)
            else:
                loaded = cast(
                    tuple[Any, Any],
                    google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE]),  # pyright: ignore[reportUnknownMemberType]
                )
        except (auth_errors.GoogleAuthError, ValueError) as exc:
            # The message may quote the file; the chained error could quote its contents.
            reason = redact(str(exc.args[0] if exc.args else exc), self.file_secrets())
            where = f"from {str(self._file)!r}" if self._file is not None else "(ADC)"
            raise ConfigurationError(
                f"Could not load Google Cloud credentials {where} for Vertex AI: "
                f"{type(exc).__name__}: {reason}. Run `gcloud auth application-default login`, "
                f"set {CREDENTIALS_ENV_VAR} to a service-account file, or pass "
                f"credentials_file=... or credentials=..."
            ) from None
        credentials, project = loaded
        return credentials, (str(project) if project else None)

    @staticmethod
    def _load_file(path: Path) -> tuple[Any, str | None]:
        """A service-account key (or a gcloud user's credentials) from `path`.

        Only those two kinds are read: other credential configurations (external accounts,
        executables, impersonation chains) can make google-auth run commands or fetch URLs named
        in the file, which is why google-auth deprecated loading any kind from a file. Build
        those with google-auth and pass them as `credentials=`.
        """
        if not path.is_file():
            raise ConfigurationError(
                f"The Vertex AI credentials_file {str(path)!r} does not exist."
            )
        try:
            raw: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConfigurationError(
                f"The Vertex AI credentials_file {str(path)!r} is not a JSON credentials file "
                f"({type(exc).__name__})."
            ) from None
        info: dict[str, Any] = cast(dict[str, Any], raw) if isinstance(raw, dict) else {}
        kind = info.get("type")
        if kind == "service_account":
            from google.oauth2 import service_account

            credentials = service_account.Credentials.from_service_account_info(  # pyright: ignore[reportUnknownMemberType]
                info, scopes=[CLOUD_PLATFORM_SCOPE]
            )
            project = info.get("project_id")
            return credentials, str(project) if project else None
        if kind == "authorized_user":
            from google.oauth2 import credentials as user_credentials

            credentials = user_credentials.Credentials.from_authorized_user_info(  # pyright: ignore[reportUnknownMemberType]
                info, scopes=[CLOUD_PLATFORM_SCOPE]
            )
            project = info.get("quota_project_id")
            return credentials, str(project) if project else None
        raise ConfigurationError(
            f"The Vertex AI credentials_file {str(path)!r} holds credentials of type "
            f"{str(kind)[:40]!r}; only 'service_account' and 'authorized_user' files are read. "
            f"Build other credentials with google-auth and pass credentials=..."
        )

    def file_secrets(self) -> list[str]:
        """The secret fields of the credentials file in use (and each line of a PEM key, so a
        fragment is redacted too); reading the file again is cheap and only done for errors."""
        path = self._file
        if path is None and self._credentials is None and not self.express:
            named = os.environ.get(CREDENTIALS_ENV_VAR, "").strip()
            path = Path(named) if named else None
        if path is None:
            return []
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if not isinstance(info, dict):
            return []
        values: list[str] = []
        for name in _SECRET_FIELDS:
            value = cast(dict[str, Any], info).get(name)
            if isinstance(value, str) and value:
                values.append(value)
                values.extend(
                    line.strip()
                    for line in value.splitlines()
                    if len(line.strip()) >= _MIN_LINE and not line.startswith("-----")
                )
        return values

    def secrets(self) -> tuple[str, ...]:
        """Every value that must never be shown: the express key, the current access token,
        and the secrets of the credentials file."""
        values: list[str] = []
        if self._api_key is not None:
            values.append(self._api_key.get_secret_value())
        target = self._target
        credentials = target.credentials if target is not None else self._credentials
        token = getattr(credentials, "token", None)
        if isinstance(token, str) and token:
            values.append(token)
        values.extend(self.file_secrets())
        return tuple(values)

    def __repr__(self) -> str:
        if self._api_key is not None:
            return "VertexAuth(api_key=**********)"
        source = (
            "credentials"
            if self._credentials is not None
            else ("credentials_file" if self._file is not None else "ADC")
        )
        return f"VertexAuth(project={self._project!r}, location={self._location!r}, {source})"


def _check_project(project: str) -> str:
    if not _PROJECT.match(project):
        raise ConfigurationError(
            f"{project[:80]!r} is not a Google Cloud project id (lower-case letters, digits and "
            f"hyphens, e.g. 'my-project-123'): check project=... or {PROJECT_ENV_VAR}."
        )
    return project


def _check_location(location: str) -> str:
    if not _LOCATION.match(location):
        raise ConfigurationError(
            f"{location[:80]!r} is not a Vertex AI location (e.g. 'us-central1', 'europe-west4' "
            f"or 'global'): check location=... or {LOCATION_ENV_VAR}."
        )
    return location


def resolve_base_url(base_url: str | None) -> str | None:
    """The base URL given to the model, else `GOOGLE_VERTEX_BASE_URL`, else the SDK's."""
    if base_url:
        return base_url
    return os.environ.get(BASE_URL_ENV_VAR, "").strip() or None


def build_vertex_client(
    target: VertexTarget, *, base_url: str | None, http_client: object | None
) -> genai.Client:
    """A Vertex AI client with the SDK's own retries off: Covey's run loop owns retries.

    The project and location are always passed explicitly, so the request path keeps its
    `projects/<p>/locations/<l>/publishers/google/models/<m>` shape behind any base URL.
    """
    try:
        from google import genai
        from google.genai import types
    except ImportError as exc:  # pragma: no cover - google-genai is a hard dependency
        raise ConfigurationError(
            "The google-genai SDK is not installed: pip install covey-models-google"
        ) from exc

    options = types.HttpOptions(
        api_version=VERTEX_API_VERSION,
        base_url=resolve_base_url(base_url),
        retry_options=types.HttpRetryOptions(attempts=1),
        httpx_async_client=http_client,  # pyright: ignore[reportArgumentType]
    )
    if target.api_key is not None:
        return genai.Client(
            vertexai=True, api_key=target.api_key.get_secret_value(), http_options=options
        )
    return genai.Client(
        vertexai=True,
        project=target.project,
        location=target.location,
        credentials=target.credentials,
        http_options=options,
    )


def vertex_client_builder(
    auth: VertexAuth, base_url: str | None, http_client: object | None
) -> Callable[[], genai.Client]:
    """What `LazyClient` calls to build a client in each event loop (after `auth.target()`)."""

    def build() -> genai.Client:
        target = auth.resolved
        if target is None:  # pragma: no cover - the model awaits auth.target() first
            raise RuntimeError("VertexAuth.target() must be awaited before building a client")
        return build_vertex_client(target, base_url=base_url, http_client=http_client)

    return build
