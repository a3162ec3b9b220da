"""Covey models for OpenAI and every OpenAI-compatible server.

- `OpenAIChatModel`: the Chat Completions API, for OpenAI and compatible servers (Ollama, vLLM,
  llama.cpp, LM Studio, Groq, DeepSeek, Together, OpenRouter, Mistral, xAI).
- `OpenAIResponsesModel`: OpenAI's Responses API, with reasoning items replayed.
- `OpenAIEmbedder`: the embeddings endpoint.
- `AzureOpenAIChatModel`, `AzureOpenAIResponsesModel`, `AzureOpenAIEmbedder`: the same on
  Azure OpenAI (`"azure:<deployment>"`, `"azure-responses:<deployment>"`); its content filter
  raises `ContentFilterError`.

Model strings resolve through entry points: `"openai:gpt-4.1"`, `"openai-responses:gpt-5"`,
`"ollama:llama3.2"`, `"groq:llama-3.3-70b-versatile"`, ... Importing this package does not
import the `openai` SDK; the first request does. `covey.models.openai.testing` has a loopback
fake server for tests.
"""

from covey.models.openai.azure import (
    AzureOpenAIChatModel,
    AzureOpenAIEmbedder,
    AzureOpenAIResponsesModel,
    ContentFilterError,
)
from covey.models.openai.chat import OpenAIChatModel
from covey.models.openai.embedder import KNOWN_EMBEDDING_DIMENSIONS, OpenAIEmbedder
from covey.models.openai.profiles import (
    COMPATIBLE_PROFILE,
    OpenAIModelProfile,
    openai_model_profile,
)
from covey.models.openai.providers import PROVIDERS, OpenAICompatibleProvider, get_provider
from covey.models.openai.responses import OpenAIResponsesModel

__all__ = [
    "COMPATIBLE_PROFILE",
    "KNOWN_EMBEDDING_DIMENSIONS",
    "PROVIDERS",
    "AzureOpenAIChatModel",
    "AzureOpenAIEmbedder",
    "AzureOpenAIResponsesModel",
    "ContentFilterError",
    "OpenAIChatModel",
    "OpenAICompatibleProvider",
    "OpenAIEmbedder",
    "OpenAIModelProfile",
    "OpenAIResponsesModel",
    "get_provider",
    "openai_model_profile",
]
