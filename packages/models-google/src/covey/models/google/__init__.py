"""covey-models-google: Gemini chat models and embedders over the official `google-genai` SDK.

`GoogleModel` speaks `generateContent` / `streamGenerateContent`; `GoogleEmbedder` speaks
`batchEmbedContents`. Importing this package does not import the SDK. `covey.models.google.testing`
has `FakeGeminiServer`, a loopback fake of the Gemini API for tests and examples.
"""

from covey.models.google._profile import google_model_profile
from covey.models.google.chat import GoogleModel
from covey.models.google.embeddings import GoogleEmbedder

__all__ = ["GoogleEmbedder", "GoogleModel", "google_model_profile"]
