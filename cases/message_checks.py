"""What a message is, and how one a channel hands over is checked whole before anything is
written (`check_draft`): its text, addresses, attachments, subject, status and the channel's
own id, each refused with the field named. The storing is `cases.messages`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cases import validate
from cases.errors import InvalidInput
from cases.identity import IdentityParser
from cases.models import DIRECTIONS, MESSAGE_STATUSES, TEXT_CHANNELS

# The limits of one message. 64 Ki characters of text is 40 times the longest SMS Twilio
# accepts (1,600) and 16 times WhatsApp's 4,096, and holds a long plain-text email with its
# quoted history; a longer text is a document, and travels as an attachment.
MAX_BODY_CHARS = 65_536
# HTML mail carries inline styles and markup around the same words: 1 Mi characters.
MAX_HTML_CHARS = 1_048_576
MAX_ATTACHMENTS = 50
MAX_ADDRESS_CHARS = 320  # RFC 5321: 64 for the local part + @ + 255 for the domain
MAX_EXTERNAL_ID_CHARS = 255
MAX_ERROR_CODE_CHARS = 64
MAX_SUBJECT_CHARS = 998  # RFC 5322's line limit: a Subject is one header line
MAX_SIZE = 2**63 - 1

_MEDIA_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;.*)?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# What would break a subject into lines (str.splitlines' breaks) or hide in it: the C0
# controls but tab, DEL, NEL and the Unicode line and paragraph separators.
_NOT_ONE_LINE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


@dataclass(frozen=True)
class Attachment:
    """A file on a message. The adapter stored the bytes under `storage_key`; `size` is their
    length in bytes."""

    filename: str
    content_type: str
    size: int
    storage_key: str


@dataclass(frozen=True)
class MessageDraft:
    """What a channel adapter hands to `CaseStore.store_message`.

    `sender` and `recipient` are the channel's addresses as given (`whatsapp:+34...`, an email
    address, a visitor id); the customer's side (sender if inbound, recipient if outbound)
    names the customer. `body`, `html` and `subject` may be bytes, which must be UTF-8;
    `subject` (an email's, one line) is None on channels without one. `verified`: the
    channel proved the customer's address (a signed webhook). `interaction_id` threads the
    message onto that interaction instead of resolving the customer. `status` defaults to
    "received" inbound and "queued" outbound.
    """

    channel: str
    direction: str
    sender: str
    recipient: str
    body: str | bytes = ""
    html: str | bytes | None = None
    external_id: str | None = None
    attachments: Sequence[Attachment] = ()
    status: str | None = None
    interaction_id: int | None = None
    verified: bool = False
    subject: str | bytes | None = None


@dataclass(frozen=True)
class CheckedMessage:
    """A draft that passed `check_draft`: every field valid, the customer's identity
    normalised (None when threaded onto an interaction)."""

    channel: str
    direction: str
    sender: str
    recipient: str
    body: str
    html: str | None
    external_id: str | None
    attachments: tuple[Attachment, ...]
    status: str
    interaction_id: int | None
    identity: tuple[str, str] | None
    verified: bool
    subject: str | None = None


@dataclass(frozen=True)
class StoredMessage:
    """Where a message is. `created` is False when it was stored before (a provider's retry):
    nothing was written, and `view` is the stored message, not the retry."""

    customer_id: int
    case_id: int
    interaction_id: int
    message_id: int
    created: bool
    view: dict[str, Any]


def check_text(value: object, where: str, *, max_chars: int, empty: bool = False) -> str:
    """Text as stored: UTF-8 (bytes are decoded strictly), no NUL, at most `max_chars`.

    A `str` holding lone surrogates is what invalid UTF-8 becomes through `surrogateescape`;
    it cannot be stored either. Not stripped: a message's spaces are its own.
    """
    if isinstance(value, bytes | bytearray):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"not valid UTF-8 (at byte {exc.start})", where) from exc
    if not isinstance(value, str):
        raise InvalidInput("must be text", where)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"not valid Unicode (a lone surrogate at character {exc.start}: undecodable bytes)",
            where,
        ) from exc
    nul = value.find("\x00")
    if nul >= 0:
        raise InvalidInput(f"contains a NUL character (at character {nul})", where)
    if len(value) > max_chars:
        raise InvalidInput(f"at most {max_chars} characters, got {len(value)}", where)
    if not empty and not value.strip():
        raise InvalidInput("must not be empty", where)
    return value


def _check_attachment(item: object, where: str) -> Attachment:
    if not isinstance(item, Attachment):
        raise InvalidInput("must be an Attachment", where)
    filename = check_text(item.filename, f"{where}.filename", max_chars=255).strip()
    if _CONTROL.search(filename) or "/" in filename or "\\" in filename:
        raise InvalidInput("a file name without control characters or path separators",
                           f"{where}.filename")
    content_type = check_text(item.content_type, f"{where}.content_type", max_chars=255).strip()
    if not _MEDIA_TYPE.fullmatch(content_type):
        raise InvalidInput("a media type such as image/jpeg", f"{where}.content_type")
    size = item.size
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_SIZE:
        raise InvalidInput("a size in bytes (an integer >= 0)", f"{where}.size")
    key = check_text(item.storage_key, f"{where}.storage_key", max_chars=1024).strip()
    return Attachment(filename, content_type, size, key)


def check_channel(channel: object, where: str = "channel") -> str:
    """One of the text channels (chat, sms, whatsapp, email)."""
    return validate.choice(channel, TEXT_CHANNELS, where)


def check_status(status: object, where: str = "status") -> str:
    """One of `MESSAGE_STATUSES`."""
    return validate.choice(status, MESSAGE_STATUSES, where)


def check_external_id(value: object, where: str = "external_id") -> str:
    """A channel's message id: 1 to 255 characters."""
    return check_text(value, where, max_chars=MAX_EXTERNAL_ID_CHARS).strip()


def check_subject(value: object, where: str = "subject") -> str | None:
    """An email's subject as stored: one line of at most 998 characters (RFC 5322), UTF-8,
    trimmed; None when absent or blank (an email without a subject has none to show)."""
    if value is None:
        return None
    subject = check_text(value, where, max_chars=MAX_SUBJECT_CHARS, empty=True)
    bad = _NOT_ONE_LINE.search(subject)
    if bad is not None:
        raise InvalidInput(
            f"a single line, without line breaks or control characters (U+{ord(bad.group()):04X}"
            f" at character {bad.start()})", where,
        )
    return subject.strip() or None


def check_error_code(value: object, where: str = "error_code") -> str | None:
    """A provider's error code (Twilio's 30003, an SMTP reply), or None."""
    if value is None:
        return None
    return check_text(value, where, max_chars=MAX_ERROR_CODE_CHARS).strip()


def check_draft(draft: MessageDraft, identities: IdentityParser) -> CheckedMessage:
    """Validate every field of `draft` (errors name `message.<field>`) before any write."""
    if not isinstance(draft, MessageDraft):
        raise InvalidInput("must be a MessageDraft", "message")
    channel = check_channel(draft.channel, "message.channel")
    direction = validate.choice(draft.direction, DIRECTIONS, "message.direction")
    sender = check_text(draft.sender, "message.sender", max_chars=MAX_ADDRESS_CHARS).strip()
    recipient = check_text(
        draft.recipient, "message.recipient", max_chars=MAX_ADDRESS_CHARS
    ).strip()
    body = check_text(draft.body, "message.body", max_chars=MAX_BODY_CHARS, empty=True)
    html = None
    if draft.html is not None:
        html = check_text(draft.html, "message.html", max_chars=MAX_HTML_CHARS, empty=True)
    subject = check_subject(draft.subject, "message.subject")
    external_id = None
    if draft.external_id is not None:
        external_id = check_external_id(draft.external_id, "message.external_id")
    if (
        not isinstance(draft.attachments, Sequence)
        or isinstance(draft.attachments, str | bytes)
        or len(draft.attachments) > MAX_ATTACHMENTS
    ):
        raise InvalidInput(f"a list of at most {MAX_ATTACHMENTS}", "message.attachments")
    attachments = tuple(
        _check_attachment(a, f"message.attachments[{i}]") for i, a in enumerate(draft.attachments)
    )
    if not body.strip() and not attachments:
        raise InvalidInput("a message needs a body or an attachment", "message.body")
    default = "received" if direction == "inbound" else "queued"
    status = check_status(draft.status or default, "message.status")
    if (status == "received") != (direction == "inbound"):
        raise InvalidInput(
            "an inbound message is received; an outbound one is queued or later", "message.status"
        )
    if not isinstance(draft.verified, bool):
        raise InvalidInput("must be true or false", "message.verified")
    interaction_id = None
    identity = None
    if draft.interaction_id is not None:
        if isinstance(draft.interaction_id, bool) or not isinstance(draft.interaction_id, int):
            raise InvalidInput("an id is an integer", "message.interaction_id")
        interaction_id = validate.row_id(draft.interaction_id, "interaction")
    else:
        address, where = (
            (sender, "message.sender") if direction == "inbound" else (recipient, "message.recipient")
        )
        identity = identities.for_channel(channel, address, where=where)
    return CheckedMessage(
        channel, direction, sender, recipient, body, html, external_id, attachments, status,
        interaction_id, identity, draft.verified, subject,
    )


