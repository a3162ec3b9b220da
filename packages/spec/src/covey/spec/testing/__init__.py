"""Reference implementations and test doubles: run anything Covey defines offline.

`InMemoryStore` and `InMemoryVectorStore` implement every rule of their interfaces and are what
`covey-conformance` checks plugins against; `HashEmbedder` and `EchoChatModel` need no model and
no network. `covey.spec.testing.http` is the plumbing of loopback fakes of HTTP APIs
(`LoopbackServer`), standard library only; import it from there.
"""

from covey.spec.testing.echo_model import EchoChatModel
from covey.spec.testing.hash_embedder import HashEmbedder
from covey.spec.testing.memory_store import InMemoryStore
from covey.spec.testing.memory_vectors import InMemoryVectorStore, tokenize
from covey.spec.testing.schema_examples import example_arguments, example_value

__all__ = [
    "EchoChatModel",
    "HashEmbedder",
    "InMemoryStore",
    "InMemoryVectorStore",
    "example_arguments",
    "example_value",
    "tokenize",
]
