"""common.tasks.cancel: every task ends, even one that loses a cancel."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from common import tasks


async def test_a_lost_cancel_is_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop that swallows the first cancel (as 3.11's wait_for can) still ends."""
    monkeypatch.setattr(tasks, "RECANCEL_S", 0.2)
    rounds = 0

    async def stubborn() -> None:
        nonlocal rounds
        while True:
            rounds += 1
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(30)
            if rounds >= 2:
                await asyncio.sleep(30)  # the second cancel lands here

    task = asyncio.ensure_future(stubborn())
    await asyncio.sleep(0.05)
    await asyncio.wait_for(tasks.cancel(task), 5)
    assert task.cancelled() and rounds == 2


async def test_results_and_errors_stay_on_the_tasks() -> None:
    async def fails() -> None:
        raise ValueError("kept")

    done = asyncio.ensure_future(asyncio.sleep(0, result=7))
    bad = asyncio.ensure_future(fails())
    slow = asyncio.ensure_future(asyncio.sleep(30))
    await asyncio.sleep(0.01)
    await tasks.cancel(done, bad, slow)
    assert done.result() == 7
    assert isinstance(bad.exception(), ValueError)
    assert slow.cancelled()
