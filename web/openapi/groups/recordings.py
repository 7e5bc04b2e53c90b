"""Call recordings and their review: find, read, play, hold, delete; the review pages,
waveform, transcript search and QA reviews (`web.recordings_api`, `web.review`)."""

from __future__ import annotations

from web.openapi.model import (
    ANY_OBJ,
    BOOL,
    HTML,
    INT,
    NO_CONTENT,
    NUM,
    STR,
    Op,
    Reply,
    Schema,
    arr,
    nullable,
    obj,
    ok,
)

TAG = "recordings"

RECORDING_ID: Schema = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
RECORDING = obj(("id", "call_id", "status", "channels", "sample_rate", "paused_spans",
                 "held"), id=STR, call_id=STR, interaction_id=nullable(INT), status=STR,
                channels=INT, sample_rate=INT, duration=nullable(NUM),
                paused_spans=arr(ANY_OBJ), held=BOOL, agent=nullable(STR))
SEEN: dict[int, Reply | str] = {
    400: "`invalid_id`: a recording id is 1-64 hex digits",
    403: "`forbidden`: not the caller's to see",
    404: "no such recording",
}
GONE = "`deleted`: the recording was deleted"
STATIC: dict[int, Reply | str] = {
    200: Reply("the file", None, None),
    403: Reply("not a file", None, "text/plain"),
    404: Reply("no such file", None, "text/plain"),
}
QA = obj((), extra=False, score=nullable({"type": "integer", "minimum": 0, "maximum": 100}),
         notes=STR)
IID: Schema = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,20}$"}

OPERATIONS: dict[tuple[str, str], Op] = {
    ("GET", "/api/recordings"): Op(
        "The recordings the caller may see, newest first (of one interaction if given)",
        {200: ok("the recordings", obj(("recordings",), recordings=arr(RECORDING))),
         400: "`invalid_query`: interaction must be a positive integer",
         403: "`forbidden`: not the caller's to see"},
        query={"interaction": {"type": "string", "maxLength": 20}}),
    ("GET", "/api/recordings/{id}"): Op("One recording's metadata, paused spans included", {
        200: ok("the recording", RECORDING), **SEEN}, path={"id": RECORDING_ID}),
    ("GET", "/api/recordings/{id}/audio"): Op(
        "The recording's file (Range for seeking; download=1 as an attachment)",
        {200: Reply("the audio", None, "audio/wav"),
         206: Reply("the range asked for", None, "audio/wav"),
         416: Reply("a range outside the file", None, None),
         **SEEN, 404: "no such recording, or its file is missing", 410: GONE},
        query={"download": {"enum": ["0", "1"]}},
        headers={"Range": {"type": "string", "pattern": "^bytes=[0-9]{0,9}-[0-9]{0,9}$"}},
        path={"id": RECORDING_ID}),
    ("POST", "/api/recordings/{id}/hold"): Op("Legal hold on (supervisor, admin)", {
        200: ok("the recording", ANY_OBJ), **SEEN, 410: GONE}, path={"id": RECORDING_ID}),
    ("DELETE", "/api/recordings/{id}/hold"): Op("Legal hold off (supervisor, admin)", {
        200: ok("the recording", ANY_OBJ), **SEEN, 410: GONE}, path={"id": RECORDING_ID}),
    ("DELETE", "/api/recordings/{id}"): Op(
        "Remove the file and mark the recording deleted (admin)",
        {200: ok("the recording", ANY_OBJ), 204: NO_CONTENT, **SEEN, 410: GONE,
         409: "`on_hold`: on legal hold, or `recording`: still being recorded"},
        path={"id": RECORDING_ID}),
    ("GET", "/review"): Op("The review page: search and recent recordings", {200: HTML}),
    ("GET", "/review/{id}"): Op("The review page of one recording", {200: HTML}),
    ("GET", "/review/static/{filename}"): Op("The review pages' files", STATIC),
    ("GET", "/api/review/recordings/{id}"): Op(
        "The recording, its interaction's transcript (times in recording seconds), its QA "
        "reviews", {200: ok("the review view", obj(
            ("recording", "segments", "reviews"), recording=RECORDING, segments=arr(ANY_OBJ),
            reviews=arr(ANY_OBJ), may_review=BOOL)), **SEEN}, path={"id": RECORDING_ID}),
    ("GET", "/api/review/recordings/{id}/peaks"): Op(
        "The waveform's peaks",
        {200: ok("the peaks", ANY_OBJ), **SEEN,
         400: "`invalid_id`, or `invalid_query`: n out of range",
         404: "no such recording, or its file cannot be read", 410: GONE},
        query={"n": {"type": "string", "pattern": "^[0-9]{1,6}$"}},
        path={"id": RECORDING_ID}),
    ("GET", "/api/review/search"): Op(
        "Transcript segments that match, each linking to its recording and second",
        {200: ok("the hits", obj(("results",), results=arr(ANY_OBJ))),
         400: "`invalid_query` (`where`: query.q)"},
        query={"q": {"type": "string", "maxLength": 200}}),
    ("GET", "/api/review/interactions/{iid}/qa"): Op("The interaction's QA reviews", {
        200: ok("the reviews", obj(("reviews",), reviews=arr(ANY_OBJ))),
        400: "`invalid_id`: an interaction id is a positive integer",
        403: "`forbidden`: not the caller's to see", 404: "no such interaction"},
        path={"iid": IID}),
    ("POST", "/api/review/interactions/{iid}/qa"): Op(
        "Add a QA review: a score 0-100 (or null) and notes (supervisor, admin)",
        {201: ok("the review", ANY_OBJ),
         400: "`invalid_id`, or a bad field (`where` like body.score)",
         403: "`forbidden`: needs a supervisor of this agent", 404: "no such interaction"},
        body=QA, path={"iid": IID}),
}
