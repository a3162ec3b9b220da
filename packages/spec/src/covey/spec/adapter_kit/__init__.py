"""The adapter kit: what every provider adapter needs and nothing provider-specific.

- `Credentials`: the API key, passed or read from the environment, kept as a `SecretStr`.
- `LazyClient`: the SDK client, built on first use, one per event loop.
- `ProviderErrors` and `ContextOverflow`: one HTTP status → `covey.spec.errors` mapping, with
  the provider's wording given as data.
- `redact`, `redact_value`, `redact_exception`: no API key or bearer token in a message, an
  error body or a traceback.

An adapter keeps only what is provider-specific: translating messages, reading its SDK's
exceptions into (status, message, code, body, headers), and its data. See `docs/models.md`
("Writing an adapter").
"""

from covey.spec.adapter_kit.clients import LazyClient
from covey.spec.adapter_kit.credentials import Credentials, require_model_name
from covey.spec.adapter_kit.http_errors import ContextOverflow, ProviderErrors
from covey.spec.adapter_kit.redaction import REDACTED, redact, redact_exception, redact_value

__all__ = [
    "REDACTED",
    "ContextOverflow",
    "Credentials",
    "LazyClient",
    "ProviderErrors",
    "redact",
    "redact_exception",
    "redact_value",
    "require_model_name",
]
