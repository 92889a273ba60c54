"""``task.schedule(...)``: a task's recurring jobs, with its arguments checked up front."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from noormme_queue import InvalidJob, QueueConfig, QueueError, QueueManager, Task
from noormme_queue.core.clock import ManualClock

from ..conftest import wait_status
from . import app

T0 = 1_800_000_000.0  # a multiple of 60


@pytest.fixture
async def qm(config: QueueConfig, clock: ManualClock) -> AsyncIterator[QueueManager]:
    manager = QueueManager(config, clock=clock, background=False, builtins=False)
    manager.task(name=app.send_welcome.name)(app.send_welcome.func)
    yield manager
    await manager.stop(timeout=5)


def welcome(qm: QueueManager) -> Task[..., Any]:
    bound: Task[..., Any] = getattr(qm.handlers[app.send_welcome.name].source, "task")  # noqa: B009
    return bound


async def test_a_task_schedule_fires_the_function_with_its_arguments(
    qm: QueueManager, clock: ManualClock
) -> None:
    task = welcome(qm).using(priority=4)
    made = await task.schedule("welcome-7", every=60, args=(7,), kwargs={"lang": "fr"})
    assert (made.name, made.job_type) == ("welcome-7", app.send_welcome.name)
    assert made.payload == {"user_id": 7, "lang": "fr"}
    clock.set(T0 + 60.2)
    assert (await qm.scheduler.run_once(clock.now())).jobs == 1
    (job,) = [j for j in await qm.list_jobs() if j.schedule == "welcome-7"]
    assert job.priority == 4
    await qm.start()
    await wait_status(qm, job.id, "completed")
    done = await qm.get_job(job.id)
    assert done is not None and done.result == "welcome 7 (fr)"


async def test_the_same_name_again_updates_the_task_schedule(qm: QueueManager) -> None:
    await welcome(qm).schedule("w", cron="0 9 * * *", args=(1,))
    again = await welcome(qm).schedule("w", cron="30 9 * * *", timezone="Europe/Paris", args=(2,))
    (only,) = await qm.list_schedules()
    assert only.cron == "30 9 * * *" and only.timezone == "Europe/Paris"
    assert only.payload == {"user_id": 2} == again.payload


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [((), {}, "user_id"), ((1, 2), {}, None), ((1,), {"colour": "red"}, "colour")],
)
async def test_wrong_arguments_are_refused_and_nothing_is_stored(
    qm: QueueManager, args: tuple[Any, ...], kwargs: dict[str, Any], field: str | None
) -> None:
    with pytest.raises(InvalidJob) as caught:
        await welcome(qm).schedule("bad", every=60, args=args, kwargs=kwargs)
    if field is not None:
        assert field in str(caught.value)
    assert await qm.list_schedules() == []


async def test_bad_timing_is_refused_like_qm_schedule(qm: QueueManager) -> None:
    with pytest.raises(QueueError, match="cron"):
        await welcome(qm).schedule("bad", args=(1,))
    with pytest.raises(QueueError, match="cron"):
        await welcome(qm).schedule("bad", cron="61 * * * *", args=(1,))
    assert await qm.list_schedules() == []


def test_the_sync_twin(config: QueueConfig, clock: ManualClock) -> None:
    qm = QueueManager(config, clock=clock, background=False, builtins=False)
    task = qm.task(name="sync-welcome")(app.send_welcome.func)
    try:
        made = task.sync.schedule("sync-w", every=3600, args=(3,))
        assert made.payload == {"user_id": 3}
        assert [s.name for s in qm.sync.list_schedules()] == ["sync-w"]
    finally:
        qm.sync.close()
