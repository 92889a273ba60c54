"""Bad input gets a clear QueueError naming the problem, and nothing is written."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from noormme_queue import (
    InvalidJob,
    InvalidPayload,
    InvalidStatus,
    PayloadTooLarge,
    QueueConfig,
    QueueError,
    QueueManager,
)


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture
async def small(db_url: str) -> Any:
    qm = QueueManager(QueueConfig(database_url=db_url, max_payload_bytes=100))
    yield qm
    assert (await qm.get_stats()).total == 0, "a refused job must leave no row"
    await qm.stop()


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"payload": {"when": datetime.now()}}, InvalidPayload, "not JSON-serialisable"),
        ({"payload": {"x": math.nan}}, InvalidPayload, "not JSON-serialisable"),
        ({"payload": {"blob": "x" * 200}}, PayloadTooLarge, "QUEUE_MAX_PAYLOAD_BYTES"),
        ({"delay": -1}, InvalidJob, "delay"),
        ({"delay": math.inf}, InvalidJob, "delay"),
        ({"delay": 10**12}, InvalidJob, "9999-12-31"),
        ({"run_at": datetime(2030, 1, 1)}, InvalidJob, "timezone-aware"),
        (
            {"run_at": datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))},
            InvalidJob,
            "9999-12-31",
        ),
        # Before 1970 (year 0 in UTC broke every listing and claim once stored):
        (
            {"run_at": datetime(1, 1, 1, 5, tzinfo=timezone(timedelta(hours=6)))},
            InvalidJob,
            "1970-01-01",
        ),
        ({"run_at": datetime(1969, 12, 31, 23, 59, tzinfo=UTC)}, InvalidJob, "1970-01-01"),
        ({"payload": {"s": "\ud800"}}, InvalidPayload, "lone surrogate"),
        ({"payload": _nested(65)}, InvalidPayload, "nested deeper than 64"),
        ({"payload": {"a": _nested(5000)}}, InvalidPayload, "nested deeper than 64"),
        ({"run_at": "tomorrow"}, InvalidJob, "datetime"),
        ({"delay": 1, "run_at": datetime.now(UTC)}, InvalidJob, "not both"),
        ({"job_type": ""}, InvalidJob, "job type"),
        ({"job_type": "   "}, InvalidJob, "job type"),
        ({"job_type": None}, InvalidJob, "job type"),
        ({"priority": "high"}, InvalidJob, "priority"),
        ({"priority": 2**70}, InvalidJob, "priority"),
        ({"max_attempts": 0}, InvalidJob, "max_attempts"),
        ({"timeout": 0}, InvalidJob, "timeout"),
        ({"unique_key": ""}, InvalidJob, "unique_key"),
        ({"retry_policy": {"maxRetries": -1}}, InvalidJob, "max_retries"),
        ({"retry_policy": {"tries": 3}}, InvalidJob, "no option 'tries'"),
        ({"retry_policy": {"max_retries": 4}, "max_attempts": 2}, InvalidJob, "contradicts"),
    ],
)
async def test_refused_at_enqueue(
    small: QueueManager, kwargs: dict[str, Any], error: type[QueueError], words: str
) -> None:
    args = {"job_type": "t", "payload": {"ok": 1}} | kwargs
    with pytest.raises(error, match=words):
        await small.add_job(args.pop("job_type"), args.pop("payload"), **args)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"priority": 1.5}, "priority"),
        ({"delay": -1}, "delay"),
        ({"run_at": datetime(2030, 1, 1)}, "run_at"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"retry_policy": {"jitter": 2}}, "retry_policy"),
        ({"retry_policy": {"max_retries": 4}, "max_attempts": 2}, "max_attempts"),
        ({"unique_key": ""}, "unique_key"),
        ({"timeout": -1}, "timeout"),
        ({"job_type": ""}, "type"),
        ({"payload": {"x": math.inf}}, "payload"),
        ({"queue": ""}, "queue"),
        ({"queue": "bad name!"}, "queue"),
        ({"queue": 7}, "queue"),
    ],
)
async def test_the_error_names_its_field(
    small: QueueManager, kwargs: dict[str, Any], field: str
) -> None:
    args = {"job_type": "t", "payload": {"ok": 1}} | kwargs
    with pytest.raises(InvalidJob) as caught:
        await small.add_job(args.pop("job_type"), args.pop("payload"), **args)
    assert caught.value.field == field


@pytest.mark.parametrize("queue", ["", "bad name!", "-first", "x" * 65])
async def test_a_bad_queue_name_is_refused_by_every_way_in(small: QueueManager, queue: str) -> None:
    with pytest.raises(InvalidJob, match="queue name") as caught:
        await small.add_jobs([("t", {}), ("t", {}, {"queue": queue})])
    assert caught.value.field == "queue"
    with pytest.raises(InvalidJob, match="queue name") as caught:
        small.register_handler("t", lambda job: None, queue=queue)
    assert caught.value.field == "queue"
    assert "t" not in small.handlers  # nothing registered


async def test_an_unknown_option_in_a_batch_suggests_the_known_one(small: QueueManager) -> None:
    with pytest.raises(InvalidJob, match="did you mean 'priority'") as caught:
        await small.add_jobs([("t", {}, {"priorty": 1})])
    assert caught.value.field == "priorty"


async def test_one_bad_job_in_a_batch_writes_none(small: QueueManager) -> None:
    with pytest.raises(InvalidPayload):
        await small.add_jobs([("t", {"ok": 1}), ("t", {"bad": {1, 2}}), ("t", {"ok": 2})])
    with pytest.raises(InvalidJob, match=r"jobs\[1\]"):
        await small.add_jobs([("t", {}), "not a tuple"])  # type: ignore[list-item]
    with pytest.raises(InvalidJob, match="unknown job option"):
        await small.add_jobs([("t", {}, {"prio": 1})])


async def test_unknown_status_names_the_valid_ones(small: QueueManager) -> None:
    with pytest.raises(InvalidStatus, match="pending, processing, completed, failed, cancelled"):
        await small.get_jobs_by_status("done")
    with pytest.raises(InvalidJob, match="limit"):
        await small.get_jobs_by_status("failed", limit=0)
    with pytest.raises(InvalidJob, match="older_than_days"):
        await small.cleanup(older_than_days=-1)


async def test_errors_are_value_errors_too(small: QueueManager) -> None:
    with pytest.raises(ValueError):
        await small.add_job("t", {}, delay=-5)


def test_a_handler_must_be_callable_or_have_process(small: QueueManager) -> None:
    with pytest.raises(TypeError, match="process"):
        small.register_handler("t", 42)  # type: ignore[arg-type]
    with pytest.raises(InvalidJob):
        small.register_handler("", lambda job: None)


async def test_a_handler_s_own_check_refuses_at_enqueue(small: QueueManager) -> None:
    class Picky:
        def check_payload(self, payload: Any) -> None:
            if payload.get("user") == "root":
                raise InvalidPayload("not for root", field="payload.user")

        def process(self, job: Any) -> None:
            raise AssertionError("never runs")

    small.register_handler("picky", Picky())
    with pytest.raises(InvalidPayload, match="not for root") as caught:
        await small.add_job("picky", {"user": "root"})
    assert caught.value.field == "payload.user"
