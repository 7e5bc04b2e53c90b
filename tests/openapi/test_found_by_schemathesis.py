"""What schemathesis found, kept found: each input below answered 500 before its fix.

`str.isdigit()` is true for Unicode digits int() refuses ("¹", "²"), so an id or a count
checked with it alone raised ValueError in `int()`: a 500 for `/api/customers/¹2/export`
(seen), and the same check guarded interaction ids, `limit`, `n`, `interaction` and
Twilio's `NumMedia`. Each now takes ASCII digits only and answers 400 naming the field.
A handover's `interaction` also had no length bound (an integer too large for the
database).

Probing the same way by hand: a JSON string may escape a lone UTF-16 surrogate
(`"\\ud800"`), which decodes to a `str` no encoder takes: the password hasher, the
database and the JSON encoder raised UnicodeEncodeError, a 500 on login, adding a user,
editing a summary and a QA review. The one JSON reader (`web.jsonbody.loads`) now refuses it
with 400 naming the field. The server is the full in-process one of `test_openapi_document`.
"""

from __future__ import annotations

import json

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

from routing.callbacks import dialable
from tests.openapi.test_openapi_document import server  # noqa: F401 (the fixture)
from tests.web.conftest import bearer
from web.auth import Role
from web.case_http import CASE_STORE

SMS = {"MessageSid": "SM" + "a" * 32, "AccountSid": "AC" + "0" * 32, "From": "+34600000001",
       "To": "+34910000000", "Body": "hello"}


def _signed(form: dict[str, str], path: str) -> dict[str, str]:
    signature = RequestValidator("openapi-token").compute_signature(
        "https://contact.example.test" + path, form)
    return {"X-Twilio-Signature": signature}


async def test_unicode_digits_are_a_bad_field_not_a_server_error(
    server: tuple[str, web.Application],  # noqa: F811
) -> None:
    base, app = server
    async with aiohttp.ClientSession(headers=bearer(Role.ADMIN)) as http:
        async with http.post(base + "/twilio/messaging", data=SMS,
                             headers=_signed(SMS, "/twilio/messaging")) as resp:
            assert resp.status == 200, await resp.text()
        case = await app[CASE_STORE].public_id(1)
        asked = [
            ("GET", "/api/customers/¹2/export", "id"),
            ("GET", "/api/customers/¹2/erasure", "id"),
            ("DELETE", "/api/customers/¹2", "id"),
            ("GET", "/api/assist/search?q=refund&limit=¹", "limit"),
            ("GET", "/api/recordings?interaction=¹", "query.interaction"),
            ("GET", f"/api/cases/{case}/interactions/¹/summary", "iid"),
            ("GET", f"/api/cases/{case}/handover?interaction=²", "interaction"),
            ("GET", f"/api/cases/{case}/handover?interaction={'9' * 30}", "interaction"),
        ]
        for method, path, where in asked:
            async with http.request(method, base + path) as resp:
                assert resp.status == 400, (path, resp.status, await resp.text())
                assert (await resp.json())["error"]["where"] == where, path
        mms = {**SMS, "MessageSid": "SM" + "b" * 32, "NumMedia": "¹"}
        async with http.post(base + "/twilio/messaging", data=mms,
                             headers=_signed(mms, "/twilio/messaging")) as resp:
            assert resp.status == 400, await resp.text()
            assert (await resp.json())["error"]["where"] == "NumMedia"


def test_a_callback_number_is_ascii_digits() -> None:
    assert dialable("+34600000001")
    assert not dialable("+¹²³⁴⁵⁶")


async def test_a_lone_surrogate_is_a_bad_field_not_a_server_error(
    server: tuple[str, web.Application],  # noqa: F811
) -> None:
    base, app = server
    lone = "\ud800" * 12
    async with aiohttp.ClientSession(headers=bearer(Role.ADMIN)) as http:
        async with http.post(base + "/twilio/messaging", data=SMS,
                             headers=_signed(SMS, "/twilio/messaging")) as resp:
            assert resp.status == 200, await resp.text()
        case = await app[CASE_STORE].public_id(1)
        asked = [
            ("POST", "/api/login", {"username": "admin", "password": lone}, "password"),
            ("POST", "/api/login", {"username": lone, "password": "x"}, "username"),
            ("POST", "/api/users", {"name": "zoe", "password": lone, "role": "agent"},
             "password"),
            ("PUT", f"/api/cases/{case}/interactions/1/summary", {"text": lone}, "text"),
            ("POST", "/api/review/interactions/1/qa", {"score": 5, "notes": lone}, "notes"),
            ("PUT", "/api/agents/ana/state", {"state": "break", "reason": lone}, "reason"),
        ]
        for method, path, body, where in asked:
            async with http.request(method, base + path, data=json.dumps(body),
                                    headers={"Content-Type": "application/json"}) as resp:
                assert resp.status == 400, (path, resp.status, await resp.text())
                error = (await resp.json())["error"]
                assert error["where"] == where and "lone surrogate" in error["message"], path
        # A surrogate pair is a real character (an emoji), taken as it is.
        async with http.put(base + f"/api/cases/{case}/interactions/1/summary",
                            data=json.dumps({"text": "ok \U0001f600"}),
                            headers={"Content-Type": "application/json"}) as resp:
            assert resp.status != 400 and resp.status < 500, await resp.text()
