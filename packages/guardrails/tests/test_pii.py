"""PII detection and masking: what is found, what is not, and the disguises that do not work."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field

from covey.guardrails import PIIGuardrail, find_pii, iban_valid, luhn_valid, mask_pii
from covey.spec import ImageContent, RunContext, RunResult, RunStatus, TextContent
from covey.spec.errors import ConfigurationError, GuardrailTripped


def ctx() -> RunContext[Any]:
    return RunContext(run_id="r", deps=None)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mail jane.doe+tag@mail.example.co.uk now", "mail [EMAIL] now"),
        ("Visa 4111 1111 1111 1111.", "Visa [CREDIT_CARD]."),
        ("amex 3782-822463-10005", "amex [CREDIT_CARD]"),
        ("mc 5555555555554444", "mc [CREDIT_CARD]"),
        ("IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [IBAN] please"),
        ("pay GB82WEST12345698765432", "pay [IBAN]"),
        ("lowercase fr1420041010050500013m02606 too", "lowercase [IBAN] too"),
        ("call +1 (555) 123-4567 or 07700 900123", "call [PHONE] or [PHONE]"),
        ("mobile +4915112345678", "mobile [PHONE]"),
        ("SSN 123-45-6789", "SSN [US_SSN]"),
        ("from 192.168.1.20.", "from [IP_ADDRESS]."),
    ],
)
def test_each_kind_is_found_and_masked(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "order 1234567890123456 shipped",  # sixteen digits, not a card (Luhn fails)
        "card 4111-1111-1111-1112",  # one digit off: Luhn fails
        "DE89 3704 0044 0532 0130 01",  # IBAN check digits wrong
        "on 2024-01-15 at 10:30, room 42",  # dates and times are not phones
        "version 1.2.3 of the app, 3.14159",
        "SSN 000-12-3456 and 666-12-3456 are never issued",
        "ip 256.1.1.1 is out of range",
        "mail me at jane at example dot com",  # no address a pattern can see
        "",
    ],
)
def test_lookalikes_are_left_alone(text: str) -> None:
    assert find_pii(text) == []
    assert mask_pii(text) == text


def test_the_checksums() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("DE89 3704 0044 0532 0130 00")
    assert not iban_valid("DE89 3704 0044 0532 0130 0")  # too short for DE
    assert not iban_valid("ZZ89370400440532013000")  # no such country


@pytest.mark.parametrize(
    "disguised",
    [
        "card 4111\u200b1111\u200b1111\u200b1111 ok",  # zero-width spaces
        "card ４１１１ １１１１ １１１１ １１１１ ok",  # fullwidth digits
        "card 4111\u00ad1111\u00ad1111\u00ad1111 ok",  # soft hyphens
        "card 4111\u20601111\u20601111\u20601111 ok",  # word joiners
    ],
)
def test_invisible_and_fullwidth_characters_do_not_hide_a_card(disguised: str) -> None:
    # The whole original span is replaced, disguise included: nothing of the number is left.
    assert mask_pii(disguised) == "card [CREDIT_CARD] ok"


def test_an_email_split_by_a_zero_width_joiner_is_masked_whole() -> None:
    assert mask_pii("to jane\u200d.doe@example.com!") == "to [EMAIL]!"


def test_only_the_chosen_kinds_and_a_custom_replacement() -> None:
    text = "jane@example.com, 4111 1111 1111 1111"
    assert mask_pii(text, {"credit_card"}) == "jane@example.com, [CREDIT_CARD]"
    stars = mask_pii(text, replacement=lambda m: "*" * (m.end - m.start))
    assert stars == "*" * 16 + ", " + "*" * 19


def test_a_long_hostile_text_is_scanned_in_bounded_time() -> None:
    # Shapes that make backtracking patterns explode; pytest-timeout would catch a hang.
    hostile = "a" * 50_000 + "@" + "b." * 20_000 + "1-" * 20_000 + "+1 " * 10_000
    assert isinstance(find_pii(hostile), list)


async def test_mask_is_the_default_and_returns_the_value_masked() -> None:
    guard = PIIGuardrail()
    assert await guard(ctx(), "write to jane@example.com") == "write to [EMAIL]"
    untouched = "nothing personal"
    assert await guard(ctx(), untouched) is untouched


async def test_user_content_parts_are_masked_and_media_left_as_is() -> None:
    image = ImageContent(url="https://example.com/jane@example.com.png")
    parts = [TextContent(text="card 4111 1111 1111 1111"), image]
    masked = await PIIGuardrail()(ctx(), parts)
    assert masked[0] == TextContent(text="card [CREDIT_CARD]")
    assert masked[1] is image


async def test_a_results_output_is_masked_and_its_status_kept() -> None:
    result: RunResult[Any] = RunResult(
        run_id="r", status=RunStatus.COMPLETED, output="call +1 (555) 123-4567"
    )
    masked = await PIIGuardrail()(ctx(), result)
    assert isinstance(masked, RunResult)
    assert masked.output == "call [PHONE]" and masked.status is RunStatus.COMPLETED


class Contact(BaseModel):
    name: str
    notes: list[str]


class StrictContact(BaseModel):
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")


async def test_structured_output_is_masked_field_by_field() -> None:
    contact = Contact(name="Jane", notes=["jane@example.com", "ok"])
    masked = await PIIGuardrail()(ctx(), contact)
    assert masked == Contact(name="Jane", notes=["[EMAIL]", "ok"])


async def test_output_that_cannot_hold_the_mask_trips_rather_than_leaks() -> None:
    with pytest.raises(GuardrailTripped) as raised:
        await PIIGuardrail()(ctx(), StrictContact(email="jane@example.com"))
    assert "jane" not in str(raised.value)


async def test_block_names_kinds_and_counts_never_the_values() -> None:
    guard = PIIGuardrail(action="block")
    text = "jane@example.com and joe@example.org, card 4111 1111 1111 1111"
    with pytest.raises(GuardrailTripped) as raised:
        await guard(ctx(), text)
    error = raised.value
    assert error.guardrail == "pii"
    assert error.reason == "personal data found: 1 credit_card, 2 email"
    for secret in ("jane", "joe", "4111", "example"):
        assert secret not in str(error) and secret not in repr(error)
    assert await guard(ctx(), "all clear") == "all clear"


def test_bad_configuration_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="passport"):
        PIIGuardrail(kinds=["passport"])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="at least one"):
        PIIGuardrail(kinds=[])
    with pytest.raises(ConfigurationError, match="'redact'"):
        PIIGuardrail(action="redact")  # type: ignore[arg-type]
    assert repr(PIIGuardrail(kinds=["email"])) == "PIIGuardrail(kinds=['email'], action='mask')"
