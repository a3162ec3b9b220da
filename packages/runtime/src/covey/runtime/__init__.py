"""covey-runtime: serve Covey agents over HTTP, SSE and WebSocket, and the `covey` CLI.

Names are imported on first use (PEP 562), so `import covey.runtime` loads neither Litestar nor
any model provider; `from covey.runtime import create_app` loads the web stack.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from covey.runtime.app import create_app, open_store
    from covey.runtime.auth import SCOPES, Principal
    from covey.runtime.config import RuntimeSettings, load_settings
    from covey.runtime.registry import Registry, load_registry
    from covey.runtime.server import serve

__all__ = [
    "SCOPES",
    "Principal",
    "Registry",
    "RuntimeSettings",
    "create_app",
    "load_registry",
    "load_settings",
    "open_store",
    "serve",
]

_WHERE = {
    "create_app": "covey.runtime.app",
    "open_store": "covey.runtime.app",
    "SCOPES": "covey.runtime.auth",
    "Principal": "covey.runtime.auth",
    "RuntimeSettings": "covey.runtime.config",
    "load_settings": "covey.runtime.config",
    "Registry": "covey.runtime.registry",
    "load_registry": "covey.runtime.registry",
    "serve": "covey.runtime.server",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'covey.runtime' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
