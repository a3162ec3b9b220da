"""Entry-point factories: `factory(model_name) -> ChatModel | Embedder`.

Each registered name maps to a record in `PROVIDERS`; the factories themselves are generic.
They do no I/O: keys and base URLs are read from the environment on the first request.
"""

from __future__ import annotations

from collections.abc import Callable

from covey.models.openai.azure import (
    AzureOpenAIChatModel,
    AzureOpenAIEmbedder,
    AzureOpenAIResponsesModel,
)
from covey.models.openai.chat import OpenAIChatModel
from covey.models.openai.embedder import OpenAIEmbedder
from covey.models.openai.responses import OpenAIResponsesModel

__all__ = [
    "azure_chat",
    "azure_embedder",
    "azure_responses",
    "chat_factory",
    "deepseek",
    "embedder_factory",
    "groq",
    "llamacpp",
    "lmstudio",
    "mistral",
    "ollama",
    "ollama_embedder",
    "openai_chat",
    "openai_embedder",
    "openai_responses",
    "openrouter",
    "together",
    "vllm",
    "xai",
]


def chat_factory(provider: str) -> Callable[[str], OpenAIChatModel]:
    """A factory of Chat Completions models on `provider` (a name in `PROVIDERS`)."""

    def factory(model_name: str) -> OpenAIChatModel:
        return OpenAIChatModel(model_name, provider=provider)

    factory.__name__ = factory.__qualname__ = provider
    factory.__doc__ = f"`OpenAIChatModel(model_name, provider={provider!r})`."
    return factory


def embedder_factory(provider: str) -> Callable[[str], OpenAIEmbedder]:
    """A factory of embedders on `provider` (a name in `PROVIDERS`)."""

    def factory(model_name: str) -> OpenAIEmbedder:
        return OpenAIEmbedder(model_name, provider=provider)

    factory.__name__ = factory.__qualname__ = f"{provider}_embedder"
    factory.__doc__ = f"`OpenAIEmbedder(model_name, provider={provider!r})`."
    return factory


def openai_responses(model_name: str) -> OpenAIResponsesModel:
    """`OpenAIResponsesModel(model_name)`: entry point `openai-responses`."""
    return OpenAIResponsesModel(model_name)


openai_chat = chat_factory("openai")
ollama = chat_factory("ollama")
vllm = chat_factory("vllm")
llamacpp = chat_factory("llamacpp")
lmstudio = chat_factory("lmstudio")
groq = chat_factory("groq")
deepseek = chat_factory("deepseek")
together = chat_factory("together")
openrouter = chat_factory("openrouter")
mistral = chat_factory("mistral")
xai = chat_factory("xai")

openai_embedder = embedder_factory("openai")
ollama_embedder = embedder_factory("ollama")


def azure_chat(model_name: str) -> AzureOpenAIChatModel:
    """`AzureOpenAIChatModel(deployment)`: entry point `azure` (`"azure:<deployment>"`)."""
    return AzureOpenAIChatModel(model_name)


def azure_responses(model_name: str) -> AzureOpenAIResponsesModel:
    """`AzureOpenAIResponsesModel(deployment)`: entry point `azure-responses`."""
    return AzureOpenAIResponsesModel(model_name)


def azure_embedder(model_name: str) -> AzureOpenAIEmbedder:
    """`AzureOpenAIEmbedder`: embedder `azure:<deployment>` (a deployment named after its model,
    e.g. `text-embedding-3-small`) or `azure:<deployment>:<dimensions>`."""
    deployment, sep, size = model_name.rpartition(":")
    if sep and size.isdigit():
        return AzureOpenAIEmbedder(deployment, dimensions=int(size))
    return AzureOpenAIEmbedder(model_name)
