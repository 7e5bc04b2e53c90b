"""Fixtures for the media verbs' tests: a fake leg ticked like the media clock ticks real ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.ivr.media.fakes import FakeLeg, run_ticks


@pytest.fixture
async def leg() -> AsyncIterator[FakeLeg]:
    fake = FakeLeg()
    ticker = asyncio.create_task(run_ticks(fake))
    try:
        yield fake
    finally:
        ticker.cancel()
        await asyncio.wait({ticker})
