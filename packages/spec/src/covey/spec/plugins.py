"""Find, list and load Covey plugins through entry points.

A plugin is entry point `<name>` in group `covey.<kind>`, normally shipped by distribution
`covey-<kind>-<name>` (embedders ship in `covey-models-<name>`). The installed entry points are scanned once per process and cached
(`refresh` rescans). Listing reads distribution metadata only and never imports plugin code;
`load` imports a plugin the first time it is asked for and keeps what it loaded.

Model strings (`"openai:gpt-4.1"`), embedder strings and store URLs (`"sqlite:///covey.db"`)
resolve through this registry.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from covey.spec.errors import ConfigurationError, DuplicatePluginError, PluginNotFoundError

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from covey.spec.embeddings import Embedder
    from covey.spec.models import ChatModel
    from covey.spec.store import Store
    from covey.spec.tools import Toolset
    from covey.spec.vectors import VectorStore

__all__ = [
    "KINDS",
    "KNOWN_PROVIDERS",
    "PluginInfo",
    "available",
    "describe",
    "load",
    "refresh",
    "resolve_embedder",
    "resolve_model",
    "resolve_store",
    "resolve_toolset",
    "resolve_vector_store",
]

# Plugin kind (group `covey.<kind>`) -> the kind part of the distribution that ships it, used for
# the `pip install covey-<package kind>-<name>` hint. Embedders ship inside their provider's
# model distribution (`covey-models-openai` registers `openai` in both groups).
_PACKAGE_KIND: dict[str, str] = {
    "models": "models",
    "embedders": "models",
    "tools": "tools",
    "vectordb": "vectordb",
    "db": "db",
    "runtime": "runtime",
}

_OPENAI_COMPATIBLE = (
    "openai-responses",
    "ollama",
    "vllm",
    "llamacpp",
    "lmstudio",
    "groq",
    "deepseek",
    "together",
    "openrouter",
    "mistral",
    "xai",
    "azure",
    "azure-responses",
)
KNOWN_PROVIDERS: dict[tuple[str, str], str] = {
    **{("models", name): "covey-models-openai" for name in _OPENAI_COMPATIBLE},
    ("models", "gemini"): "covey-models-google",
    ("models", "vertex"): "covey-models-google",
    ("embedders", "vertex"): "covey-models-google",
    ("models", "test"): "covey-core",
    ("embedders", "ollama"): "covey-models-openai",
    ("embedders", "azure"): "covey-models-openai",
    ("db", "sqlite"): "covey-db-sql",
    ("db", "postgresql"): "covey-db-sql",
    ("db", "postgres"): "covey-db-sql",
    ("vectordb", "postgresql"): "covey-vectordb-pgvector",
    ("vectordb", "qdrants"): "covey-vectordb-qdrant",
}
"""Plugin names first-party distributions register besides their own name, for the install hint
of a missing plugin. Data only: loading always goes through entry points."""

KINDS: tuple[str, ...] = tuple(_PACKAGE_KIND)
"""Every plugin kind; kind `k` is the entry-point group `covey.k`."""

# `scheme://...` or `scheme+driver://...`, as in RFC 3986 and SQLAlchemy URLs.
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9.-]*)(?:\+([A-Za-z0-9_.-]+))?://")


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """One installed plugin, as its distribution's metadata declares it; nothing is imported.

    Attributes:
        kind: The plugin kind, e.g. `"models"` (entry-point group `covey.models`).
        name: The entry-point name, e.g. `"openai"`.
        value: The entry point's target, `"module:attr"`.
        distribution: The distribution that registers it, e.g. `"covey-models-openai"`.
        version: That distribution's version.
    """

    kind: str
    name: str
    value: str
    distribution: str
    version: str

    @property
    def group(self) -> str:
        """The entry-point group, e.g. `"covey.models"`."""
        return f"covey.{self.kind}"


@dataclass(slots=True)
class _Entry:
    info: PluginInfo
    entry_point: EntryPoint


@dataclass(slots=True)
class _Scan:
    entries: dict[str, dict[str, _Entry]] = field(default_factory=dict[str, dict[str, _Entry]])
    """kind -> name -> the first registration seen."""
    duplicates: dict[str, dict[str, tuple[str, str]]] = field(
        default_factory=dict[str, dict[str, tuple[str, str]]]
    )
    """kind -> name -> the two distinct distributions that both register it."""
    registered: dict[str, list[PluginInfo]] = field(default_factory=dict[str, list[PluginInfo]])
    """kind -> every registration, duplicates included, sorted by name then distribution."""


_lock = threading.Lock()
_scan: _Scan | None = None
_loaded: dict[tuple[str, str], Any] = {}


def _normalize(distribution: str) -> str:
    # PEP 503: `Covey_Models.OpenAI` and `covey-models-openai` are one distribution.
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _scan_entry_points() -> _Scan:
    from importlib.metadata import entry_points

    scan = _Scan(
        entries={kind: {} for kind in KINDS},
        duplicates={kind: {} for kind in KINDS},
        registered={kind: [] for kind in KINDS},
    )
    dist_names: dict[int, tuple[str, str]] = {}
    # One scan of every distribution; `select` then filters in memory. (Python 3.11 returns a
    # dict-like `SelectableGroups` from `entry_points()`, 3.12 an `EntryPoints`: both `select`.)
    everything = entry_points()
    found = [(kind, ep) for kind in KINDS for ep in everything.select(group=f"covey.{kind}")]
    for kind, ep in found:
        dist = ep.dist
        if dist is None:
            distribution, version = "<unknown distribution>", "unknown"
        else:
            if id(dist) not in dist_names:
                dist_names[id(dist)] = (dist.name, dist.version)
            distribution, version = dist_names[id(dist)]
        info = PluginInfo(kind, ep.name, ep.value, distribution, version)
        first = scan.entries[kind].get(ep.name)
        if first is None:
            scan.entries[kind][ep.name] = _Entry(info, ep)
            scan.registered[kind].append(info)
        elif _normalize(first.info.distribution) != _normalize(distribution):
            scan.registered[kind].append(info)
            a, b = sorted((first.info.distribution, distribution), key=_normalize)
            scan.duplicates[kind].setdefault(ep.name, (a, b))
        # else: one distribution seen twice (an editable install plus stale metadata): not a clash.
    for infos in scan.registered.values():
        infos.sort(key=lambda i: (i.name, _normalize(i.distribution)))
    return scan


def _registry() -> _Scan:
    global _scan
    with _lock:
        if _scan is None:
            _scan = _scan_entry_points()
        return _scan


def _check_kind(kind: str) -> None:
    if kind not in _PACKAGE_KIND:
        valid = ", ".join(KINDS)
        raise ConfigurationError(
            f"Unknown plugin kind {kind!r}; expected one of: {valid} "
            f"(kind 'models' is entry-point group 'covey.models')."
        )


def _duplicate(kind: str, name: str, pair: tuple[str, str]) -> DuplicatePluginError:
    return DuplicatePluginError(f"covey.{kind}", name, *pair)


def refresh() -> None:
    """Forget the cached scan and every loaded plugin; the next call scans entry points again.

    Call it after installing or removing a distribution in a running process.
    """
    global _scan
    with _lock:
        _scan = None
        _loaded.clear()


def available(kind: str) -> list[PluginInfo]:
    """The installed plugins of `kind`, sorted by name. Imports no plugin code.

    Args:
        kind: A plugin kind from `KINDS`, e.g. `"models"`.

    Raises:
        ConfigurationError: `kind` is not a plugin kind.
        DuplicatePluginError: two distributions register the same name in this group.
    """
    _check_kind(kind)
    scan = _registry()
    duplicates = scan.duplicates[kind]
    if duplicates:
        name = min(duplicates)
        raise _duplicate(kind, name, duplicates[name])
    return sorted((entry.info for entry in scan.entries[kind].values()), key=lambda i: i.name)


def describe() -> dict[str, list[PluginInfo]]:
    """Every registered plugin, by kind (every kind present, maybe empty). Imports no plugin code.

    Meant for diagnostics (`covey plugins`): it does not raise on duplicate names but lists each
    registration, so a name registered by two distributions appears twice, once per distribution.
    """
    scan = _registry()
    return {kind: list(scan.registered[kind]) for kind in KINDS}


def _entry(kind: str, name: str) -> _Entry:
    _check_kind(kind)
    scan = _registry()
    pair = scan.duplicates[kind].get(name)
    if pair is not None:
        raise _duplicate(kind, name, pair)
    entry = scan.entries[kind].get(name)
    if entry is None:
        raise PluginNotFoundError(
            kind,
            name,
            sorted(scan.entries[kind]),
            distribution=KNOWN_PROVIDERS.get((kind, name)) or f"covey-{_PACKAGE_KIND[kind]}-{name}",
        )
    return entry


def load(kind: str, name: str) -> Any:
    """The object plugin `name` of `kind` registers, imported on first use and cached.

    Args:
        kind: A plugin kind from `KINDS`, e.g. `"models"`.
        name: The entry-point name, e.g. `"openai"`.

    Raises:
        ConfigurationError: `kind` is unknown, or the plugin failed to import (the original
            exception is chained).
        PluginNotFoundError: nothing installed registers `name`; the message has the install line.
        DuplicatePluginError: two distributions register `name` in this group.
    """
    key = (kind, name)
    with _lock:
        if key in _loaded:
            return _loaded[key]
    entry = _entry(kind, name)
    info = entry.info
    # Imported outside the lock: the import system already serialises imports of one module,
    # and a plugin that loads another plugin while importing must not deadlock.
    try:
        obj = entry.entry_point.load()
    except Exception as exc:
        raise ConfigurationError(
            f"Plugin {name!r} (group {info.group!r}, {info.value}) from distribution "
            f"{info.distribution} {info.version} failed to import: {type(exc).__name__}: {exc}. "
            f"Reinstall it (pip install --force-reinstall {info.distribution}) or uninstall it."
        ) from exc
    with _lock:
        return _loaded.setdefault(key, obj)


def _split(spec: str, what: str, example: str) -> tuple[str, str]:
    provider, sep, model_name = spec.strip().partition(":")
    if not sep or not provider or not model_name:
        raise ConfigurationError(
            f"Invalid {what} string {spec!r}: expected '<provider>:<model name>', e.g. {example!r}."
        )
    return provider, model_name


def _build(kind: str, name: str, argument: str) -> Any:
    factory = load(kind, name)
    if not callable(factory):
        info = _entry(kind, name).info
        raise ConfigurationError(
            f"Plugin {name!r} (group {info.group!r}) from {info.distribution} {info.version} "
            f"registers {info.value}, which is not callable; a {kind} plugin must register a "
            f"factory that takes one string."
        )
    return factory(argument)


def _not_a(expected: str, kind: str, name: str, result: object) -> ConfigurationError:
    info = _entry(kind, name).info
    return ConfigurationError(
        f"Plugin {name!r} (group {info.group!r}) from {info.distribution} {info.version} "
        f"returned {type(result).__name__}, not {expected}. The plugin is broken; upgrade it."
    )


def resolve_model(model: str | ChatModel) -> ChatModel:
    """A `ChatModel` from a `"provider:model-name"` string; a `ChatModel` is returned as is.

    `"openai:gpt-4.1"` loads plugin `openai` from `covey.models` and calls it with `"gpt-4.1"`.
    Only the first `:` splits, so `"ollama:llama3.2:3b"` asks `ollama` for `llama3.2:3b`.

    Raises:
        ConfigurationError: the string is malformed, the plugin failed to import, or it did not
            return a `ChatModel`.
        PluginNotFoundError: no installed plugin provides the provider.

    Errors the factory itself raises (a missing API key, say) propagate unchanged.
    """
    from covey.spec.models import ChatModel

    if isinstance(model, ChatModel):
        return model
    if not isinstance(model, str):  # pyright: ignore[reportUnnecessaryIsInstance] - untyped callers
        raise ConfigurationError(
            f"Expected a model string like 'openai:gpt-4.1' or a ChatModel, "
            f"got {type(model).__name__}."
        )
    provider, model_name = _split(model, "model", "openai:gpt-4.1")
    result = _build("models", provider, model_name)
    if not isinstance(result, ChatModel):
        raise _not_a("a ChatModel", "models", provider, result)
    return result


def resolve_embedder(embedder: str) -> Embedder:
    """An `Embedder` from a `"provider:model-name"` string, e.g. `"openai:text-embedding-3-small"`.

    Loads plugin `provider` from `covey.embedders` and calls it with the model name. Errors the
    factory raises propagate unchanged.

    Raises:
        ConfigurationError: the string is malformed, the plugin failed to import, or it did not
            return an `Embedder`.
        PluginNotFoundError: no installed plugin provides the provider.
    """
    from covey.spec.embeddings import Embedder

    provider, model_name = _split(embedder, "embedder", "openai:text-embedding-3-small")
    result = _build("embedders", provider, model_name)
    if not isinstance(result, Embedder):
        raise _not_a("an Embedder", "embedders", provider, result)
    return result


def resolve_toolset(reference: str) -> Toolset:
    """A `Toolset` from a reference: `"files"`, `"mcp:everything"`, `"sql:sqlite:///app.db"`.

    The part before the first `:` names plugin in `covey.tools`; it registers a factory
    `from_reference(argument: str | None) -> Toolset`, called with the rest (or `None` when
    there is no `:`). What the argument means is the plugin's: a root folder, a server name, a
    database URL. Factories return their safe defaults (read-only, deny-by-default). Errors the
    factory raises propagate unchanged.

    Raises:
        ConfigurationError: the reference is empty, the plugin failed to import, or it did not
            return a `Toolset`.
        PluginNotFoundError: no installed plugin has that name (the message has the install
            line, e.g. `pip install covey-tools-files`).
    """
    from covey.spec.tools import Toolset

    name, sep, argument = reference.strip().partition(":")
    if not name:
        raise ConfigurationError(
            f"Invalid tool reference {reference!r}: expected '<plugin>' or '<plugin>:<argument>', "
            "e.g. 'files' or 'mcp:everything'."
        )
    factory = load("tools", name)
    if not callable(factory):
        info = _entry("tools", name).info
        raise ConfigurationError(
            f"Plugin {name!r} (group {info.group!r}) from {info.distribution} {info.version} "
            f"registers {info.value}, which is not callable; a tools plugin must register a "
            "factory `from_reference(argument: str | None) -> Toolset`."
        )
    result = factory(argument if sep else None)
    if not isinstance(result, Toolset):
        raise _not_a("a Toolset", "tools", name, result)
    return result


_CREDENTIALS = re.compile(r"(?<=:)[^:@/]*(?=@)")


def _masked(url: str) -> str:
    """`url` with any `user:password@` password replaced by `***`, for error messages."""
    return _CREDENTIALS.sub("***", url)


def resolve_store(url: str) -> Store:
    """A `Store` from a database URL: its scheme names the plugin in `covey.db`.

    `"sqlite:///covey.db"` loads plugin `sqlite`; `"postgresql+asyncpg://..."` loads `postgresql`.
    The plugin is called with the whole URL, driver suffix included. Errors it raises propagate
    unchanged.

    Raises:
        ConfigurationError: the URL has no `scheme://`, the plugin failed to import, or it did
            not return a `Store`.
        PluginNotFoundError: no installed plugin handles the scheme.
    """
    from covey.spec.store import Store

    match = _URL_SCHEME.match(url)
    if match is None:
        raise ConfigurationError(
            f"Invalid store URL {_masked(url)!r}: expected '<scheme>://...', "
            f"e.g. 'sqlite:///covey.db' or 'postgresql://user@host/db'."
        )
    scheme = match.group(1).lower()
    result = _build("db", scheme, url)
    if not isinstance(result, Store):
        raise _not_a("a Store", "db", scheme, result)
    return result


def resolve_vector_store(url: str) -> VectorStore:
    """A `VectorStore` from a URL: its scheme names the plugin in `covey.vectordb`.

    `"lancedb:///path"` loads plugin `lancedb`, `"qdrant://host:6333"` loads `qdrant`. A
    `scheme+driver://` URL names the plugin by its driver when one of that name is installed
    (`"postgresql+pgvector://..."` loads `pgvector`), else by its scheme. The plugin is called
    with the whole URL. Errors it raises propagate unchanged.

    Raises:
        ConfigurationError: the URL has no `scheme://`, the plugin failed to import, or it did
            not return a `VectorStore`.
        PluginNotFoundError: no installed plugin handles the scheme.
    """
    from covey.spec.vectors import VectorStore

    match = _URL_SCHEME.match(url)
    if match is None:
        raise ConfigurationError(
            f"Invalid vector store URL {_masked(url)!r}: expected '<scheme>://...', "
            f"e.g. 'lancedb:///.covey/lancedb' or 'qdrant://localhost:6333'."
        )
    scheme = match.group(1).lower()
    driver = (match.group(2) or "").lower()
    name = scheme
    if driver and driver in _registry().entries["vectordb"]:
        name = driver
    result = _build("vectordb", name, url)
    if not isinstance(result, VectorStore):
        raise _not_a("a VectorStore", "vectordb", name, result)
    return result
