"""run_with_timeout and the lazily re-armed per-worker Deadline."""

from __future__ import annotations

import asyncio

import pytest

from noormme_queue.core.errors import JobTimeout
from noormme_queue.memory.timeouts import Deadline, run_with_timeout


async def test_run_with_timeout_returns_the_result() -> None:
    async def quick() -> int:
        return 7

    assert await run_with_timeout(quick(), 5.0, "a job") == 7
    assert await run_with_timeout(quick(), None, "a job") == 7
    assert await run_with_timeout(quick(), 0, "a job") == 7


async def test_run_with_timeout_cancels_and_raises_job_timeout() -> None:
    cancelled = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(JobTimeout, match=r"a job in queue 'q' ran longer than its 0.02 s timeout"):
        await run_with_timeout(stuck(), 0.02, "a job in queue 'q'")
    assert cancelled.is_set()


async def test_a_timeout_error_of_the_job_itself_passes_through() -> None:
    async def own_timeout() -> None:
        raise TimeoutError("upstream was slow")

    with pytest.raises(TimeoutError, match="upstream") as info:
        await run_with_timeout(own_timeout(), 5.0, "a job")
    assert not isinstance(info.value, JobTimeout)


async def test_deadline_fires_once_for_a_job_that_overruns() -> None:
    loop = asyncio.get_running_loop()
    expired = asyncio.Event()
    fired: list[float] = []

    def on_expire() -> None:
        fired.append(loop.time())
        expired.set()

    deadline = Deadline(loop, on_expire)
    begun = loop.time()
    deadline.start(0.03)
    await asyncio.wait_for(expired.wait(), 5)
    assert fired[0] >= begun + 0.03
    assert len(fired) == 1
    deadline.close()


async def test_deadline_rearms_for_the_next_job_instead_of_firing_early() -> None:
    loop = asyncio.get_running_loop()
    expired = asyncio.Event()
    fired: list[float] = []

    def on_expire() -> None:
        fired.append(loop.time())
        expired.set()

    deadline = Deadline(loop, on_expire)
    deadline.start(0.05)  # the timer is armed for this job's deadline
    deadline.clear()  # which finished in time
    await asyncio.sleep(0.02)  # the next job starts later (the gap is the point here)
    second_start = loop.time()
    deadline.start(0.05)
    await asyncio.wait_for(expired.wait(), 5)
    assert fired == [pytest.approx(fired[0])]
    assert fired[0] >= second_start + 0.05  # its own deadline, not the first job's
    deadline.close()


async def test_a_shorter_timeout_rearms_the_timer_earlier() -> None:
    loop = asyncio.get_running_loop()
    expired = asyncio.Event()
    deadline = Deadline(loop, expired.set)
    deadline.start(60.0)
    deadline.clear()
    begun = loop.time()
    deadline.start(0.02)
    await asyncio.wait_for(expired.wait(), 5)
    assert loop.time() - begun < 30  # not left waiting for the 60 s timer
    deadline.close()


async def test_cleared_deadline_never_fires() -> None:
    loop = asyncio.get_running_loop()
    fired: list[bool] = []
    deadline = Deadline(loop, lambda: fired.append(True))
    deadline.start(0.01)
    deadline.clear()
    done = asyncio.Event()
    loop.call_later(0.03, done.set)  # well past the deadline the timer was armed for
    await done.wait()
    assert fired == []
    deadline.close()
