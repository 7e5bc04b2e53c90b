"""Server secrets in the data dir: 32 random bytes (hex), made on first use, private (0600).

The email reply tokens and the chat visitor tokens each sign with their own key file, so one
can be rotated (delete the file) without invalidating the other.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

log = logging.getLogger(__name__)

MIN_SECRET_BYTES = 16


def load_secret(data_dir: Path, filename: str, what: str) -> bytes:
    """The secret in `data_dir/filename`, made (32 random bytes, 0600) on first use. A file
    others can read is tightened, with a warning naming `what` (e.g. "reply key")."""
    path = data_dir / filename
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, 0o600)
        log.warning("%s %s was readable by other users; made it private", what, path)
    try:
        secret = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: the {what} is not hex (delete it to make a new one)") from exc
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"{path}: the {what} is too short (delete it to make a new one)")
    return secret
