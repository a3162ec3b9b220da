"""covey-models-local: embeddings computed on this machine, offline, without torch.

`MiniLMEmbedder` runs all-MiniLM-L6-v2 (384 dimensions) on onnxruntime; `"local:all-minilm-l6-v2"`
resolves to it. Importing this package loads neither onnxruntime nor the model.
"""

from covey.models.local.embeddings import MODELS, MiniLMEmbedder, canonical_model_name

__all__ = ["MODELS", "MiniLMEmbedder", "canonical_model_name"]
