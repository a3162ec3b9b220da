"""Reference implementations and test doubles: run anything Covey defines offline.

`InMemoryStore` and `InMemoryVectorStore` implement every rule of their interfaces and are what
`covey-conformance` checks plugins against; `HashEmbedder` and `EchoChatModel` need no model and
no network; `generate_json_data` makes schema-valid test data for all of them (patterns need
the `testing` extra). `covey.spec.testing.http` is the plumbing of loopback fakes of HTTP APIs
(`LoopbackServer`), standard library only; import it from there.
"""

from covey.spec.testing.echo_model import EchoChatModel
from covey.spec.testing.hash_embedder import HashEmbedder
from covey.spec.testing.memory_store import InMemoryStore
from covey.spec.testing.memory_vectors import InMemoryVectorStore, tokenize
from covey.spec.testing.schema_data import generate_arguments, generate_json_data

__all__ = [
    "EchoChatModel",
    "HashEmbedder",
    "InMemoryStore",
    "InMemoryVectorStore",
    "generate_arguments",
    "generate_json_data",
    "tokenize",
]
