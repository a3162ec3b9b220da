"""covey-conformance: the pytest suites every Covey plugin must pass.

Subclass a suite in your plugin's tests and supply its one fixture:

| Suite             | Fixture        | Checks                                         |
|-------------------|----------------|------------------------------------------------|
| `ChatModelSuite`  | `chat_model`, `chat_script` | a `ChatModel` adapter             |
| `EmbedderSuite`   | `embedder`     | an `Embedder`                                  |
| `ToolsetSuite`    | `toolset`      | a `Toolset`                                    |
| `VectorStoreSuite`| `vector_store` | a `VectorStore`                                |
| `StoreSuite`      | `store`        | a `Store`                                      |

Deleting or overriding a suite's test fails collection (see `covey.conformance.plugin`); to
skip one your implementation cannot pass, override it with
`@pytest.mark.xfail(reason="why")`.

`covey.conformance.wheels` checks a package the way a user gets it: its wheel built, installed
alone into a fresh virtual environment (`build_wheel`, `fresh_venv`, `Venv`).
"""

from covey.conformance.chat_model_suite import ChatModelSuite
from covey.conformance.chat_script import ChatScript, ScriptedToolCall
from covey.conformance.embedder_suite import EmbedderSuite
from covey.conformance.rules import suite_violations
from covey.conformance.store_suite import StoreScopes, StoreSuite
from covey.conformance.toolset_suite import ToolsetSuite
from covey.conformance.vector_store_suite import VectorStoreSuite

__all__ = [
    "ChatModelSuite",
    "ChatScript",
    "EmbedderSuite",
    "ScriptedToolCall",
    "StoreScopes",
    "StoreSuite",
    "ToolsetSuite",
    "VectorStoreSuite",
    "suite_violations",
]
