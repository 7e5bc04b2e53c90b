"""Headless Chromium (Debian's /usr/bin/chromium) under Playwright, with a fake microphone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"


def chromium_args(wav: Path) -> list[str]:
    """DESIGN.md's flags; the fresh --user-data-dir is Playwright's `user_data_dir`."""
    return [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}", "--autoplay-policy=no-user-gesture-required",
        "--allow-loopback-in-peer-connection",
        "--disable-features=WebRtcHideLocalIpsWithMdns",
    ]


@asynccontextmanager
async def chromium_context(
    playwright: Any, profile: Path, mic: Path, **options: Any
) -> AsyncIterator[Any]:
    """A persistent Chromium context in the fresh `profile` directory whose fake microphone
    plays the WAV `mic`; `options` go to `launch_persistent_context`. Closed on exit."""
    context = await playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=chromium_args(mic), **options
    )
    try:
        yield context
    finally:
        await context.close()
