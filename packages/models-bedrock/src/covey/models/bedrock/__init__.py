"""covey-models-bedrock: models and embedders on Amazon Bedrock, through the official AWS SDK.

`BedrockModel` speaks Converse and ConverseStream; `BedrockEmbedder` embeds with Amazon Titan
text or Cohere embed. Both take the region and credentials from the standard AWS chain and run
boto3 in worker threads, so the event loop never blocks; boto3 is imported on the first request,
not here. Model strings `"bedrock:<model id or inference profile>"` resolve to them through the
`covey.models` and `covey.embedders` entry points. `covey.models.bedrock.testing` holds
`FakeBedrockServer`, a loopback Bedrock runtime (binary event stream included) for offline tests.
"""

from covey.models.bedrock._errors import BedrockGuardrailIntervened
from covey.models.bedrock._profile import bedrock_profile
from covey.models.bedrock._request import Guardrail
from covey.models.bedrock.chat import BedrockModel
from covey.models.bedrock.embeddings import BedrockEmbedder

__all__ = [
    "BedrockEmbedder",
    "BedrockGuardrailIntervened",
    "BedrockModel",
    "Guardrail",
    "bedrock_profile",
]
