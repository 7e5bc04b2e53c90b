"""Normalisation of phone numbers, emails and chat handles (without a default region; the
region's part is in test_identity_phone.py)."""

from __future__ import annotations

import pytest

from cases.errors import InvalidInput
from cases.identity import is_anonymous_caller, normalize_identity, normalize_phone


@pytest.mark.parametrize(
    "raw",
    [
        "+15550100199",
        "+1 (555) 010-0199",
        "+1.555.010.0199",
        "0015550100199",
        "sip:+15550100199@trunk.example.com",
        "<sip:+15550100199@trunk.example.com;user=phone>",
        "sips:+15550100199@10.0.0.1:5061",
        "tel:+1-555-010-0199",
        "tel:+15550100199;phone-context=example.com",
        "  +1 555 010 0199  ",
        "whatsapp:+15550100199",
    ],
)
def test_phone_forms_agree(raw: str) -> None:
    assert normalize_phone(raw) == "+15550100199"


def test_national_number_needs_a_region() -> None:
    # Digits without + or 00 used to be read as international ("15550100199" -> +1...,
    # "612345678" -> +61...): a guess of the country, wrong for every national number.
    with pytest.raises(InvalidInput) as info:
        normalize_phone("15550100199", where="caller")
    assert info.value.where == "caller" and "region" in info.value.what
    assert normalize_phone("15550100199", region="US") == "+15550100199"


@pytest.mark.parametrize("raw", ["sip:alice@pbx", "+1 555 CALL NOW", "12", "+1234567890123456", "+", "٣٤٥٦٧"])
def test_bad_phone_numbers(raw: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_phone(raw, where="caller")
    assert info.value.where == "caller"


@pytest.mark.parametrize(
    "raw", ["anonymous", "Anonymous", "sip:anonymous@anonymous.invalid", "", "  ", "restricted"]
)
def test_withheld_numbers(raw: str) -> None:
    assert is_anonymous_caller(raw)


def test_not_withheld() -> None:
    assert not is_anonymous_caller("+15550100199")


def test_email_is_lower_cased_and_trimmed() -> None:
    assert normalize_identity("email", "  Ana.Perez@Example.COM ") == "ana.perez@example.com"
    assert normalize_identity("email", "mailto:ana@example.com") == "ana@example.com"
    assert normalize_identity("email", "Ana Pérez <Ana@Example.COM.>") == "ana@example.com"
    assert normalize_identity("email", "ana@BÜCHER.example") == "ana@xn--bcher-kva.example"
    for bad in ["ana", "ana@", "@example.com", "a b@example.com", "ana@example", "x" * 65 + "@a.es"]:
        with pytest.raises(InvalidInput):
            normalize_identity("email", bad)


def test_chat_handle_is_kept_as_issued() -> None:
    assert normalize_identity("chat", " Visitor-AbC123 ") == "Visitor-AbC123"
    with pytest.raises(InvalidInput):
        normalize_identity("chat", "   ")


def test_unknown_kind() -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_identity("fax", "123")
    assert info.value.where == "kind"
