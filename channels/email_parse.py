"""One inbound email, parsed with the stdlib `email` package (policy=default) and validated
whole before anything is stored.

`parse_email(raw)` gives a `ParsedEmail` or raises:

    BadInbound (channels.base)       malformed: `where` names the header or MIME part
    └── TooLarge                     a part over its cap (SMTP 552)

What is refused, and why:
- MIME the parser had to guess at (a multipart without its boundary, a missing header/body
  separator, truncated base64): storing a guess would show the agent words the customer may
  not have written;
- text that is not valid in its declared charset, and 8-bit bytes with no charset declared
  (the text could be read several ways);
- a message without a From address, or more than `MAX_PARTS` parts or `MAX_DEPTH` levels of
  nesting (a MIME bomb).
"""

from __future__ import annotations

import codecs
import email.errors
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser

from cases.errors import InvalidInput
from cases.identity import normalize_email
from cases.messages import MAX_SUBJECT_CHARS
from channels.base import BadInbound

MAX_PARTS = 200
MAX_DEPTH = 10
MAX_REFERENCES = 50

# What `cases.messages.check_subject` refuses in a subject (line breaks, controls but tab).
_BREAKS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]+")

# Defects that mean the parser guessed at the structure (see the module doc). Others
# (a bad base64 padding a decoder fixes, a header folded oddly) are common and harmless.
_FATAL_DEFECTS: tuple[type[email.errors.MessageDefect], ...] = (
    email.errors.NoBoundaryInMultipartDefect,
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.CloseBoundaryNotFoundDefect,
    email.errors.MultipartInvariantViolationDefect,
    email.errors.MissingHeaderBodySeparatorDefect,
    email.errors.InvalidMultipartContentTransferEncodingDefect,
    email.errors.InvalidBase64LengthDefect,
    email.errors.InvalidBase64CharactersDefect,
)


class TooLarge(BadInbound):
    """A part of the message is over its size cap."""


@dataclass(frozen=True)
class ParsedAttachment:
    """An attached file's bytes, as sent."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ParsedEmail:
    """What the case needs of one email. `text` is the full plain text (quoted history
    included); `html` the text/html part as sent (unsanitised), if any. `message_id` is the
    sender's Message-ID, or one made from the content's hash when it had none (so a resent
    copy is still recognised)."""

    sender: str
    subject: str  # one line ("" when there was none)
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    text: str
    html: str | None
    attachments: tuple[ParsedAttachment, ...] = field(default_factory=tuple)


def _check_defects(part: Message, where: str) -> None:
    for defect in part.defects:
        if isinstance(defect, _FATAL_DEFECTS):
            raise BadInbound(f"malformed MIME ({type(defect).__name__})", where)


def _header(msg: EmailMessage, name: str) -> str | None:
    try:
        value = msg.get(name)
    except (ValueError, IndexError, TypeError) as exc:  # the header parser gave up
        raise BadInbound("unreadable header", name) from exc
    if value is None:
        return None
    if any(isinstance(d, email.errors.UndecodableBytesDefect)
           for d in getattr(value, "defects", ())):
        # The header parser replaced bytes that are not UTF-8 with U+FFFD: refuse the guess.
        raise BadInbound("not valid UTF-8 (undeclared 8-bit bytes)", name)
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        # Raw 8-bit bytes that are not UTF-8 reach a str as lone surrogates.
        raise BadInbound("not valid UTF-8 (undeclared 8-bit bytes)", name) from exc
    return text


def _one_line(value: str) -> str:
    """A header value as one line of at most `MAX_SUBJECT_CHARS`: an encoded word may decode
    to a line break or a control character (`=?utf-8?q?a=0Ab?=`); each run of them becomes
    one space rather than a refusal, since the words around them are what the customer
    wrote."""
    return _BREAKS.sub(" ", value).strip()[:MAX_SUBJECT_CHARS].strip()


def _ids(value: str | None) -> list[str]:
    """The `<...>` message ids in a header value, in order."""
    if not value:
        return []
    found: list[str] = []
    for chunk in value.replace(">", "> ").split():
        chunk = chunk.strip()
        if chunk.startswith("<") and chunk.endswith(">") and 2 < len(chunk) <= 255:
            found.append(chunk)
    return found


def _decode_text(part: EmailMessage, where: str) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    charset = part.get_param("charset")
    if not isinstance(charset, str):
        if any(b > 0x7F for b in data):
            raise BadInbound("8-bit bytes without a declared charset", where)
        charset = "us-ascii"
    try:
        codecs.lookup(charset)
    except LookupError as exc:
        raise BadInbound(f"unknown charset {charset[:40]!r}", where) from exc
    try:
        text = data.decode(charset)
    except UnicodeDecodeError as exc:
        raise BadInbound(f"not valid {charset[:40]} (at byte {exc.start})", where) from exc
    if "\x00" in text:
        raise BadInbound("contains a NUL character", where)
    return text


def parse_email(raw: bytes, *, max_attachment_bytes: int) -> ParsedEmail:
    """Parse and validate `raw` (RFC 5322 bytes as received); see the module doc."""
    if not raw.strip():
        raise BadInbound("empty message", "message")
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)  # policy.default makes EmailMessage
    _check_defects(msg, "message")
    from_value = _header(msg, "From")
    if not from_value:
        raise BadInbound("a message needs a From address", "From")
    addresses = email.utils.getaddresses([from_value])
    try:
        sender = normalize_email(addresses[0][1] if addresses else "", where="From")
    except InvalidInput as exc:
        raise BadInbound(exc.what, "From") from exc
    subject = _one_line(_header(msg, "Subject") or "")
    in_reply = _ids(_header(msg, "In-Reply-To"))
    references = tuple(_ids(_header(msg, "References"))[-MAX_REFERENCES:])
    own_id = _ids(_header(msg, "Message-ID"))
    message_id = own_id[0] if own_id else \
        f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.invalid>"

    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[ParsedAttachment] = []
    count = 0

    def walk(part: EmailMessage, path: str, depth: int) -> None:
        nonlocal count
        count += 1
        if count > MAX_PARTS:
            raise BadInbound(f"more than {MAX_PARTS} MIME parts", "message")
        if depth > MAX_DEPTH:
            raise BadInbound(f"MIME nested deeper than {MAX_DEPTH} levels", path)
        _check_defects(part, path)
        if part.is_multipart():
            children = part.get_payload()
            assert isinstance(children, list)
            for i, child in enumerate(children, 1):
                walk(child, f"{path}.{i}", depth + 1)
            return
        ctype = part.get_content_type()
        disposition = part.get_content_disposition()
        filename = part.get_filename()
        if ctype in ("text/plain", "text/html") and disposition != "attachment" \
                and filename is None:
            (texts if ctype == "text/plain" else htmls).append(_decode_text(part, path))
            return
        if ctype == "message/rfc822" and disposition != "attachment":
            return  # a forwarded message's own parts were walked (it is multipart above)
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if not data:
            return
        if len(data) > max_attachment_bytes:
            raise TooLarge(f"attachment over {max_attachment_bytes} bytes "
                           f"({len(data)} bytes)", path)
        attachments.append(ParsedAttachment(filename or "attachment", ctype, data))

    walk(msg, "part 1", 0)
    return ParsedEmail(
        sender=sender, subject=subject, message_id=message_id,
        in_reply_to=in_reply[0] if in_reply else None, references=references,
        text="\n\n".join(t for t in texts if t.strip()),
        html="\n".join(htmls) if htmls else None, attachments=tuple(attachments),
    )
