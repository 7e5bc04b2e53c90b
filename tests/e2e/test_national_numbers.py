"""A caller who dials nationally and the same person in E.164 are one customer: the server
reads numbers in its `default_region` (ES by default), so `612345678` is `+34612345678`.
Real pjsua2 calls against the real server; the case read back over the API.
"""

from __future__ import annotations

import pytest

from tests.conftest import ServerFactory
from tests.e2e.api import get_json
from tests.e2e.test_transcribed_calls import case_of
from tests.helpers.server import ServerOptions
from voice.pjsua.client import place_call

pytestmark = pytest.mark.slow


async def test_a_national_and_an_international_call_land_on_one_case(
    server_factory: ServerFactory,
) -> None:
    server = await server_factory(ServerOptions(demo_hangup_after=60))
    case_ids = []
    for caller in ("612345678", "+34612345678"):
        result = await place_call(f"sip:100@{server.sip_target}", from_user=caller, duration=1.0)
        assert result.connected, result
        case_ids.append(await case_of(server, caller))
    assert case_ids[0] == case_ids[1]
    timeline = await get_json(server, f"/api/cases/{case_ids[0]}")
    assert timeline["identities"] == [{"kind": "phone", "value": "+34612345678"}]
    assert len(timeline["interactions"]) == 2
