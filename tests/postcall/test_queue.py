"""The post-call job queue on SQLite and PostgreSQL: a job is queued once, claimed by one
owner, given back on a clean stop, claimed again once the lease of a killed owner runs out,
retried until its attempts are spent."""

from __future__ import annotations

from recordings.postcall_queue import PostCallQueue


class Wall:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_job_is_queued_once_and_claimed_by_one_owner(db_url: str) -> None:
    wall = Wall()
    queue = await PostCallQueue.open(db_url, wall=wall)
    try:
        assert await queue.enqueue("rec-1", 7)
        assert not await queue.enqueue("rec-1", 7)  # the saved notice came twice
        job = await queue.claim("a", 60)
        assert job is not None and (job.recording_id, job.status, job.attempts, job.owner) == (
            "rec-1", "running", 1, "a")
        assert await queue.claim("b", 60) is None  # held, lease running
        await queue.finish("rec-1", "a", model="base", language="es", segments=3,
                           audio_s=20.0, cpu_s=3.0, wall_s=2.0)
        done = await queue.get("rec-1")
        assert done is not None and done.status == "done" and done.rtf == 0.1
        assert await queue.claim("b", 60) is None
    finally:
        await queue.close()


async def test_a_killed_owners_job_is_claimed_again_after_its_lease(db_url: str) -> None:
    wall = Wall()
    queue = await PostCallQueue.open(db_url, wall=wall)
    try:
        await queue.enqueue("rec-2", None)
        assert (await queue.claim("dead", 30)) is not None
        wall.now += 20
        assert await queue.renew("rec-2", "dead", 30)  # renewed at 1020: runs to 1050
        wall.now += 25
        assert await queue.claim("next", 30) is None
        wall.now += 10  # 1055: the lease ran out, nobody renewed it
        job = await queue.claim("next", 30)
        assert job is not None and job.owner == "next" and job.attempts == 2
        assert not await queue.renew("rec-2", "dead", 30)  # the old owner lost it
    finally:
        await queue.close()


async def test_a_clean_stop_gives_the_job_back_and_failures_retry_then_stop(db_url: str) -> None:
    wall = Wall()
    queue = await PostCallQueue.open(db_url, wall=wall, max_attempts=2)
    try:
        await queue.enqueue("rec-3", 1)
        await queue.claim("a", 60)
        await queue.release("rec-3", "a")
        job = await queue.get("rec-3")
        assert job is not None and (job.status, job.attempts) == ("queued", 0)
        await queue.claim("a", 60)
        assert await queue.fail("rec-3", "a", "PassFailed") == "queued"
        await queue.claim("a", 60)
        assert await queue.fail("rec-3", "a", "PassFailed") == "failed"
        job = await queue.get("rec-3")
        assert job is not None and (job.status, job.attempts, job.error) == (
            "failed", 2, "PassFailed")
        assert await queue.claim("a", 60) is None
    finally:
        await queue.close()
