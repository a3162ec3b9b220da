"""Test doubles for Covey: run anything Covey defines offline, in a plugin's tests.

`InMemoryStore` and `InMemoryVectorStore` implement every rule of their interfaces simply and
are what `covey-conformance` checks its suites against (production `memory://` is
covey-db-memory's `MemoryStore`, not `InMemoryStore`); `HashEmbedder` and `EchoChatModel` need
no model and no network. `covey.testing.http` is the plumbing of loopback fakes of HTTP APIs
(`LoopbackServer`), standard library only; import it from there. Schema-valid example data
comes from the interface itself: `covey.spec.schema_data`.
"""

from covey.testing.echo_model import EchoChatModel
from covey.testing.hash_embedder import HashEmbedder
from covey.testing.memory_store import InMemoryStore
from covey.testing.memory_vectors import InMemoryVectorStore, tokenize

__all__ = [
    "EchoChatModel",
    "HashEmbedder",
    "InMemoryStore",
    "InMemoryVectorStore",
    "tokenize",
]
