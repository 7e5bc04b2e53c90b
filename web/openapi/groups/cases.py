"""The shared case and what hangs off it: timeline, live socket, shares, summaries and facts,
preferred channel, journey figures, agent assist, GDPR export and erasure
(`web.cases_api`, `web.summary_api`, `web.preference_api`, `web.journey_api`,
`web.assist_api`, `web.customers_api`)."""

from __future__ import annotations

from web.openapi.model import (
    ANY_OBJ,
    INT,
    NO_CONTENT,
    STR,
    TIME_PARAM,
    Op,
    Reply,
    Schema,
    arr,
    nullable,
    obj,
    ok,
)

TAG = "cases"

CASE_ERRORS: dict[int, Reply | str] = {
    400: "a malformed case id (`where`: id) or field",
    404: "no such case, or one the caller may not read",
    503: "the case store is unavailable",
}
TIMELINE = obj(("case", "customer", "identities", "interactions", "notes"),
               case=obj(("id",), id=STR, status=STR), customer=ANY_OBJ,
               identities=arr(ANY_OBJ), interactions=arr(ANY_OBJ), notes=arr(ANY_OBJ),
               entries=arr(ANY_OBJ), facts=arr(ANY_OBJ))
SHARE = obj(("user", "shared_by", "at"), user=STR, shared_by=STR)
SUMMARY_EDIT = obj((), extra=False, text=STR, next_steps=STR, outcome=STR)
CHANNEL: Schema = {"type": "string", "enum": ["sms", "whatsapp", "email", "chat", "voice"]}
PREFERENCE = obj(("channel", "source"), channel=nullable(STR), source=STR)
ARTICLE = obj(("slug", "title"), slug=STR, title=STR, url=STR, language=nullable(STR))
CUSTOMER_ERRORS: dict[int, Reply | str] = {
    400: "a malformed customer id",
    409: "`merged` into another customer (the message names it), or `erasure_refused` "
         "(a legal hold, a call being recorded, a callback being dialed)",
    503: "a store failed",
}
WEBSOCKET = Reply("not a WebSocket handshake", None, "text/plain")

OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/api/cases/{id}"): Op("The case timeline: customer, identities, interactions "
                                   "with their transcripts, messages, notes",
                                   {200: ok("the timeline", TIMELINE), **CASE_ERRORS}),
    ("GET", "/api/cases/{id}/live"): Op(
        "WebSocket: a snapshot of the timeline, then every event on the case",
        {101: Reply("switching to the WebSocket", None, None), **CASE_ERRORS,
         400: "a malformed case id, or not a WebSocket handshake"}),
    ("GET", "/api/calls/{call_id}/case"): Op(
        "The case a call (SIP Call-ID or Twilio CallSid) landed on",
        {200: ok("its public id", obj(("case_id",), case_id=STR)),
         400: "not a call id (`where`: call_id)",
         404: "no case for this call, or one the caller may not read",
         503: "the case store is unavailable"}),
    ("GET", "/api/cases/{id}/shares"): Op("Who the case is shared with", {
        200: ok("the shares", obj(("shares",), shares=arr(SHARE))), **CASE_ERRORS}),
    ("POST", "/api/cases/{id}/shares"): Op(
        "Share the case with another enabled user",
        {201: ok("shared", SHARE), 200: ok("was shared already", SHARE), **CASE_ERRORS},
        body=obj(("user",), extra=False, user=STR)),
    ("DELETE", "/api/cases/{id}/shares/{user}"): Op(
        "Withdraw a share (its user, who shared it, a supervisor)",
        {204: NO_CONTENT, **CASE_ERRORS,
         404: "no such case, or it is not shared with this user"}),
    ("GET", "/api/cases/{id}/facts"): Op("The case's facts with their sources", {
        200: ok("the facts", obj(("facts",), facts=arr(ANY_OBJ))), **CASE_ERRORS}),
    ("GET", "/api/cases/{id}/interactions/{iid}/summary"): Op(
        "One interaction's summary (null until made)",
        {200: ok("the summary", obj(("summary",), summary=nullable(ANY_OBJ))), **CASE_ERRORS,
         404: "no such case or interaction on it"},
        path={"iid": {"type": "string", "pattern": "^[0-9]{1,12}$"}}),
    ("PUT", "/api/cases/{id}/interactions/{iid}/summary"): Op(
        "The agent's edit of a summary before it is sent on",
        {200: ok("the summary", obj(("summary",), summary=nullable(ANY_OBJ))), **CASE_ERRORS,
         404: "no such case or interaction on it, or no summary yet"},
        body=SUMMARY_EDIT, path={"iid": {"type": "string", "pattern": "^[0-9]{1,12}$"}}),
    ("GET", "/api/cases/{id}/preferred_channel"): Op("The customer's preferred channel", {
        200: ok("the preference", PREFERENCE), **CASE_ERRORS}),
    ("PUT", "/api/cases/{id}/preferred_channel"): Op(
        "Set what the customer told the agent (null forgets it)",
        {200: ok("the preference", PREFERENCE), **CASE_ERRORS},
        body=obj(("channel",), extra=False, channel=nullable(CHANNEL))),
    ("GET", "/api/journey"): Op(
        "Journey figures: how cases went across channels (no personal data)",
        {200: ok("the figures", obj(("period", "cases"), period=ANY_OBJ, cases=INT)),
         400: "`invalid_parameter` naming query.since and the like",
         503: "the case store is unavailable"},
        query={"since": TIME_PARAM, "until": TIME_PARAM, "queue": STR}),
    ("GET", "/api/assist/search"): Op("Knowledge-base articles that match a phrase", {
        200: ok("the best suggestions", obj(("suggestions",), suggestions=arr(ANY_OBJ))),
        400: "q missing or too long, or limit not 1-10"},
        query={"q": {"type": "string", "minLength": 1, "maxLength": 2000},
               "limit": {"type": "string", "pattern": "^[0-9]{1,2}$"}},
        required_query=frozenset({"q"})),
    ("GET", "/api/assist/articles"): Op("Every article, and the files left out", {
        200: ok("the articles", obj(("articles", "problems"), articles=arr(ARTICLE),
                                    problems=arr(STR)))}),
    ("GET", "/api/assist/articles/{slug}"): Op("One article with its Markdown body", {
        200: ok("the article", obj(("slug", "body"), slug=STR, body=STR)),
        404: "no such article"}),
    ("POST", "/api/assist/articles"): Op(
        "Write an article to the knowledge base (searchable at once)",
        {201: ok("the article", ARTICLE), 503: "the articles folder cannot be written"},
        body=obj(("slug", "markdown"), extra=False, slug=STR, markdown=STR)),
    ("GET", "/api/customers/{id}/export"): Op(
        "One zip of everything held about the customer",
        {200: Reply("the archive", None, "application/zip"), **CUSTOMER_ERRORS,
         404: "no such customer"}),
    ("DELETE", "/api/customers/{id}"): Op(
        "Erase everything held about the customer, across every store",
        {200: ok("the erasure's audit (no personal data)", obj(("erasure",), erasure=ANY_OBJ)),
         **CUSTOMER_ERRORS, 404: "no such customer"}),
    ("GET", "/api/customers/{id}/erasure"): Op("The erasure's audit", {
        200: ok("the audit", obj(("erasure",), erasure=ANY_OBJ)), **CUSTOMER_ERRORS,
        404: "no erasure of this customer"}),
}
