"""Where attachments' bytes live: a directory under the data dir, one file per attachment named
by the SHA-256 of its content (the same file received twice is stored once), private to the
server's user. The case keeps only the metadata (`cases.messages.Attachment`) with the key.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from cases.messages import Attachment
from channels.base import BadInbound

#: Per attachment, whatever the channel; channels may set lower caps of their own.
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
_KEY = re.compile(r"[0-9a-f]{64}")
_SAFE_NAME = re.compile(r"[^\w.\- ]+")


class AttachmentStore:
    """Content-addressed files in `root` (created 0700; files 0600)."""

    def __init__(self, root: Path, *, max_bytes: int = MAX_ATTACHMENT_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def put(self, data: bytes, *, filename: str, content_type: str,
            where: str = "attachment") -> Attachment:
        """Store `data`; its metadata for the case. `BadInbound` naming `where` when it is
        empty or over the cap."""
        if not data:
            raise BadInbound("empty attachment", where)
        if len(data) > self.max_bytes:
            raise BadInbound(f"attachment over {self.max_bytes} bytes", where)
        key = hashlib.sha256(data).hexdigest()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.root / key
        if not path.exists():
            tmp = path.with_suffix(".part")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        return Attachment(filename=safe_filename(filename), content_type=content_type[:255],
                          size=len(data), storage_key=key)

    def get(self, key: str) -> bytes:
        """The bytes stored under `key`; KeyError for a malformed or unknown key."""
        if not _KEY.fullmatch(key):
            raise KeyError(key)
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            raise KeyError(key) from None


def safe_filename(name: str) -> str:
    """A display name without path separators or control characters (never used as a path)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _SAFE_NAME.sub("_", base).strip(" .")
    return cleaned[:200] or "attachment"
