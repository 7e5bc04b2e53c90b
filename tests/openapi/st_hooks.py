"""Schemathesis hooks for `test_schemathesis` (loaded with SCHEMATHESIS_HOOKS).

- Twilio's webhooks are signed like Twilio signs them (the `twilio` package's
  `RequestValidator` over `public_url` + path and the generated form), so the generated
  forms reach the parsers behind the signature check instead of all stopping at 403.
- Path parameters that name things are, in two cases out of three, replaced by things that
  exist (a case, its interaction, a customer, a queue, an agent, recordings:
  `CENTRALITA_ST_SEEDS`, a JSON list of [method or "*", path, parameter, value], where a
  path ending in "/" is a prefix; the first rule that matches wins); the third keeps its
  generated value, so the unknown-id answers are exercised too.
"""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

import schemathesis
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]

WEBHOOKS = ("/twilio/messaging", "/twilio/messaging/status", "/twilio/voice",
            "/twilio/voice/status")
_SEEDS: list[tuple[str, str, str, str]] = [
    (method, path, name, value)
    for method, path, name, value in json.loads(os.environ.get("CENTRALITA_ST_SEEDS", "[]"))
]
_TURN = itertools.count()


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    path = case.operation.path
    if path in WEBHOOKS and isinstance(case.body, dict):
        form = {str(k): _form_value(v) for k, v in case.body.items()}
        form["AccountSid"] = os.environ["CENTRALITA_ST_ACCOUNT_SID"]  # Twilio sends ours
        if next(_TURN) % 3:  # a conversation with us, from a number that exists
            form["To"] = os.environ["CENTRALITA_ST_NUMBER"]
            form["From"] = "+34600000003"
        case.body = form
        validator = RequestValidator(os.environ["CENTRALITA_ST_TWILIO_TOKEN"])
        url = os.environ["CENTRALITA_ST_PUBLIC_URL"].rstrip("/") + path
        case.headers = {**(case.headers or {}),
                        "X-Twilio-Signature": validator.compute_signature(url, form)}
    if case.path_parameters and next(_TURN) % 3:
        done: set[str] = set()
        for method, where, name, value in _SEEDS:
            if method not in ("*", case.method.upper()) or name in done \
                    or name not in case.path_parameters:
                continue
            if path == where or (where.endswith("/") and path.startswith(where)):
                case.path_parameters[name] = value
                done.add(name)
