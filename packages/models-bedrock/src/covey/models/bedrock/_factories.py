"""The entry points: `bedrock:<model id>` for `covey.models` and `covey.embedders`."""

from __future__ import annotations

import re

from covey.models.bedrock.chat import BedrockModel
from covey.models.bedrock.embeddings import BedrockEmbedder

__all__ = ["bedrock_chat", "bedrock_embedder"]

# `amazon.titan-embed-text-v2:0:512`: a model id with its version, then a vector size.
_SIZED = re.compile(r"^(?P<model>.+:[^:]+):(?P<size>\d+)$")


def bedrock_chat(model_id: str) -> BedrockModel:
    """`BedrockModel(model_id)`: region and credentials from the AWS chain."""
    return BedrockModel(model_id)


def bedrock_embedder(model_id: str) -> BedrockEmbedder:
    """`BedrockEmbedder` from `<model id>` or `<model id>:<dimensions>` (what `name` gives)."""
    sized = _SIZED.match(model_id.strip())
    if sized is not None and not model_id.strip().startswith("arn:"):
        return BedrockEmbedder(sized["model"], dimensions=int(sized["size"]))
    return BedrockEmbedder(model_id)
