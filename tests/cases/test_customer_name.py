"""`CaseStore.name_customer`: the display name on the customer's case, kept unless replaced,
refused with the field named when it is not one line of 1-200 characters."""

from __future__ import annotations

import pytest

from cases.errors import InvalidInput, NotFound
from cases.store import CaseStore


async def test_a_name_is_set_once_unless_replaced(db_url: str) -> None:
    cases = await CaseStore.open(db_url)
    try:
        ref = await cases.open_text_interaction(channel="sms", address="+34612345678")
        assert await cases.name_customer(ref.customer_id, "  Ana Pérez ") is True
        assert await cases.name_customer(ref.customer_id, "Someone Else") is False
        assert (await cases.timeline(ref.case_id))["customer"]["display_name"] == "Ana Pérez"
        assert await cases.name_customer(ref.customer_id, "Ana Pérez Gil", replace=True)
        assert (await cases.timeline(ref.case_id))["customer"]["display_name"] == "Ana Pérez Gil"

        for bad in ("", "   ", "two\nlines", "x" * 201, 7):
            with pytest.raises(InvalidInput) as caught:
                await cases.name_customer(ref.customer_id, bad, replace=True)  # type: ignore[arg-type]
            assert caught.value.where == "display_name"
        with pytest.raises(NotFound):
            await cases.name_customer(ref.customer_id + 100, "Nobody")
        assert (await cases.timeline(ref.case_id))["customer"]["display_name"] == "Ana Pérez Gil"
    finally:
        await cases.close()
