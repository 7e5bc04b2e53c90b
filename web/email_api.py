"""Sending an email from a case.

    POST /api/cases/{id}/emails  {"to"?: address, "subject": text, "body": text,
                                  "in_reply_to_message"?: message id on the case}

201 with the stored message (status `sent`, `external_id` its Message-ID). Without `to`,
the customer's email address on record. Who may read the case may write from it (the same
check as `GET /api/cases/{id}`, `web.case_access`).

Errors are JSON `{"error": {"code", "message", "where"?}}`: 400 for a bad field (`where`
names it), 404 for a case the viewer may not read, 409 when we will not send (the case is
closed, the address belongs to another customer; `code` says which), 502 when the relay
refused the email or could not be reached (the message stays on the case as failed).
"""

from __future__ import annotations

import logging

from aiohttp import web

from cases.errors import CaseError, InvalidInput
from channels.base import Refused, SendFailed
from channels.email_cases import CaseEmails
from web.auth import Role, require
from web.case_http import body_fields, error, from_case_error, public_view, readable

log = logging.getLogger(__name__)

CASE_EMAILS: web.AppKey[CaseEmails] = web.AppKey("case_emails", CaseEmails)
_FIELDS = {"to", "subject", "body", "in_reply_to_message"}


async def send_email(request: web.Request) -> web.Response:
    """Send an email from the case (see the module doc)."""
    public_id = request.match_info["id"]
    found = await readable(request, public_id)
    if isinstance(found, web.Response):
        return found
    case_id, viewer = found
    body = await body_fields(request, _FIELDS)
    if isinstance(body, web.Response):
        return body
    to = body.get("to")
    if to is not None and not isinstance(to, str):
        return error(400, "invalid_input", "an email address", "to")
    for name in ("subject", "body"):
        if not isinstance(body.get(name), str):
            return error(400, "invalid_input", "required text", name)
    reply = body.get("in_reply_to_message")
    if reply is not None and (isinstance(reply, bool) or not isinstance(reply, int)):
        return error(400, "invalid_input", "a message id (an integer)", "in_reply_to_message")
    try:
        view = await request.app[CASE_EMAILS].send(
            case_id, subject=body["subject"], body=body["body"], to=to,
            in_reply_to_message=reply, agent=viewer.name)
    except InvalidInput as exc:
        return error(400, "invalid_input", exc.what, exc.where)
    except CaseError as exc:
        return from_case_error(exc)
    except Refused as exc:
        return error(409, exc.code, exc.reason)
    except SendFailed as exc:
        return error(502, "send_failed", str(exc))
    return web.json_response(public_view(view, case_id, public_id), status=201)


def add_email_routes(app: web.Application, emails: CaseEmails) -> None:
    """Mount `POST /api/cases/{id}/emails` (needs `web.cases_api.add_case_routes` first: it
    shares its store and access rule)."""
    app[CASE_EMAILS] = emails
    require(app, app.router.add_post("/api/cases/{id}/emails", send_email), Role.AGENT)
