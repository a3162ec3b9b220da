"""covey-models-google: Gemini chat models and embedders over the official `google-genai` SDK,
on the Gemini API or on Google Cloud's Vertex AI.

`GoogleModel` speaks `generateContent` / `streamGenerateContent` to the Gemini API with an API
key; `VertexModel` speaks the same to Vertex AI with Google Cloud credentials (`vertexai=True`).
`GoogleEmbedder` and `VertexEmbedder` embed texts. Importing this package does not import the
SDK. `covey.models.google.testing` has `FakeGeminiServer`, a loopback fake of both APIs, and
`covey.models.google.testing_vertex` a fake Google OAuth token endpoint and service accounts.
"""

from covey.models.google._profile import google_model_profile
from covey.models.google.chat import GeminiChatModel, GoogleModel
from covey.models.google.embeddings import GeminiEmbedder, GoogleEmbedder
from covey.models.google.vertex import VertexEmbedder, VertexModel

__all__ = [
    "GeminiChatModel",
    "GeminiEmbedder",
    "GoogleEmbedder",
    "GoogleModel",
    "VertexEmbedder",
    "VertexModel",
    "google_model_profile",
]
