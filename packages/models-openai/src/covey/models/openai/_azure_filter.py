"""Azure OpenAI's content filter, as a typed error the run reports.

Azure runs every prompt and every completion through its content filter (Microsoft now calls it
"guardrails"). It answers a filtered prompt with HTTP 400 `code: "content_filter"` (the body's
`innererror.content_filter_result` names the categories), and cuts a filtered completion short
with `finish_reason: "content_filter"` (the choice's `content_filter_results` name them). Both
become `ContentFilterError`, a `GuardrailTripped`: the run ends `failed` after a
`guardrail.tripped` event, and no retry or fallback re-sends what was filtered. Only category
names and severities are kept, never the text that was filtered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast

from covey.spec.errors import GuardrailTripped
from covey.spec.messages import ModelResponse, TextPart

__all__ = [
    "CONTENT_FILTER_GUARDRAIL",
    "ContentFilterError",
    "filter_categories",
    "filtered_by_azure",
    "prompt_filter_error",
]

CONTENT_FILTER_GUARDRAIL = "azure_content_filter"
"""The `guardrail` name a `ContentFilterError` reports."""

_KEPT = ("filtered", "detected", "severity")


class ContentFilterError(GuardrailTripped):
    """Azure OpenAI's content filter blocked the prompt (`stage="input"`) or the completion
    (`stage="output"`).

    The run fails with it (a `guardrail.tripped` event first); `result.error.details` carries
    `reason` (which names the categories), `guardrail` (`azure_content_filter`), `stage` and, for
    a filtered prompt, `status_code` 400. It is never retried: the same text would be filtered
    again.

    Attributes:
        categories: The categories that filtered, e.g. `{"violence": {"filtered": True,
            "severity": "medium"}, "jailbreak": {"filtered": True, "detected": True}}`. Only
            names, severities and blocklist ids; never the filtered text.
        model_name: The deployment the request was for.
        status_code: 400 for a filtered prompt; `None` for a filtered completion (HTTP 200).
    """

    def __init__(
        self,
        *,
        stage: Literal["input", "output"],
        categories: Mapping[str, Mapping[str, Any]] | None = None,
        model_name: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.categories: dict[str, dict[str, Any]] = {
            name: dict(value) for name, value in (categories or {}).items()
        }
        self.model_name = model_name
        self.status_code = status_code
        what = "prompt" if stage == "input" else "completion"
        listed = ", ".join(_describe(name, value) for name, value in self.categories.items())
        deployment = f" of deployment {model_name!r}" if model_name else ""
        reason = (
            f"Azure OpenAI's content filter blocked the {what}{deployment} "
            f"({listed or 'no category named'})"
        )
        super().__init__(reason, guardrail=CONTENT_FILTER_GUARDRAIL, stage=stage)


def _describe(name: str, value: Mapping[str, Any]) -> str:
    severity = value.get("severity")
    if isinstance(severity, str) and severity != "safe":
        return f"{name}: {severity}"
    blocklists = value.get("blocklists")
    if isinstance(blocklists, list) and blocklists:
        return f"{name}: {', '.join(str(b) for b in cast('list[object]', blocklists))}"
    return name


def filter_categories(results: object) -> dict[str, dict[str, Any]]:
    """The categories of an Azure `content_filter_result(s)` object that filtered (or detected).

    Unknown shapes read as no categories; message text in the object is never copied.
    """
    if not isinstance(results, Mapping):
        return {}
    found: dict[str, dict[str, Any]] = {}
    for name, raw in cast("Mapping[str, object]", results).items():
        if not isinstance(raw, Mapping):
            continue
        value = cast("Mapping[str, object]", raw)
        if not (value.get("filtered") is True or value.get("detected") is True):
            continue
        kept: dict[str, Any] = {
            key: value[key] for key in _KEPT if isinstance(value.get(key), bool | str)
        }
        details = value.get("details")
        if isinstance(details, list):
            blocklists: list[str] = []
            for detail in cast("list[object]", details):
                if not isinstance(detail, Mapping):
                    continue
                entry = cast("Mapping[str, object]", detail)
                ident = entry.get("id")
                if entry.get("filtered") is True and isinstance(ident, str):
                    blocklists.append(ident)
            kept["blocklists"] = blocklists
        found[str(name)] = kept
    return found


def prompt_filter_error(
    body: object,
    *,
    model_name: str | None,
    status_code: int | None,
    stage: Literal["input", "output"] = "input",
) -> ContentFilterError | None:
    """The error for an Azure error body whose code is `content_filter`, else `None`.

    Takes `{"error": {...}}` or the inner object (as the SDK's `APIError.body` holds it).
    """
    if not isinstance(body, Mapping):
        return None
    fields = cast("Mapping[str, object]", body)
    inner = fields.get("error")
    if isinstance(inner, Mapping):
        fields = cast("Mapping[str, object]", inner)
    if fields.get("code") != "content_filter":
        return None
    innererror = fields.get("innererror")
    results = (
        cast("Mapping[str, object]", innererror).get("content_filter_result")
        if isinstance(innererror, Mapping)
        else None
    )
    return ContentFilterError(
        stage=stage,
        categories=filter_categories(results),
        model_name=model_name,
        status_code=status_code,
    )


def filtered_by_azure(response: ModelResponse) -> bool:
    """Whether `response` was cut short by the content filter (not a model's own refusal,
    which is a `TextPart` marked `refusal` and stays a normal answer)."""
    if response.finish_reason != "content_filter":
        return False
    return not any(
        isinstance(p, TextPart) and (p.provider_details or {}).get("refusal")
        for p in response.parts
    )
