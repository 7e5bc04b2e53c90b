"""The post-call accuracy pass, wired into the server (config `post_call: {enabled: true}`,
with `recordings: {enabled: true}`): each saved recording is queued (recordings.postcall_queue)
and transcribed again by recordings.postcall; the case store keeps the result
(cases.post_segments).

`open_post_call` opens the queue, starts the runner and hooks the recordings' saved notices
(the webhook's, if one is configured, still goes out first).
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cases.store import CaseStore
from recordings.postcall import PostCallPass
from recordings.postcall_config import PostCallConfig
from recordings.postcall_queue import PostCallQueue
from recordings.service import Recordings

log = logging.getLogger(__name__)


def wall_seconds() -> float:
    """The wall clock jobs are queued and leased by (the composition root's)."""
    return datetime.now(UTC).timestamp()


async def open_post_call(
    config: PostCallConfig, data_dir: Path, database_url: str, store: CaseStore,
    recordings: Recordings,
) -> PostCallPass:
    """Start the pass; `PostCallPass.close()` stops it (the running job is given back)."""
    queue = await PostCallQueue.open(database_url, wall=wall_seconds, max_attempts=config.attempts)
    post = PostCallPass(config, queue, recordings.index, recordings.storage, store,
                        cache_dir=data_dir / "models",
                        owner=f"{socket.gethostname()}:{os.getpid()}"[:64])
    inner = recordings.notify

    def notify(body: dict[str, Any]) -> None:
        if inner is not None:
            inner(body)
        if body.get("event") == "recording.saved":
            post.submit(str(body["recording_id"]), body.get("interaction_id"))

    recordings.notify = notify
    await post.start()
    log.info("post-call pass on (priority %s, models %s, others %s)", config.priority,
             ", ".join(f"{k}={v}" for k, v in sorted(config.models.items())), config.model)
    return post
