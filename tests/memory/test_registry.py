"""MemoryQueues (what the manager owns) and the five built-in queues."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

import noormme_queue.memory as memory
from noormme_queue.core.config import QueueConfig
from noormme_queue.core.errors import DuplicateQueue, NoProcessor, UnknownQueue
from noormme_queue.memory import (
    BUILTIN_QUEUE_NAMES,
    BatchQueue,
    InMemoryQueue,
    MemoryQueue,
    MemoryQueues,
    RateLimitedQueue,
    create_builtin_queues,
)

from .conftest import Probe


def registry(**config: Any) -> MemoryQueues:
    return MemoryQueues(QueueConfig(**config))


def test_none_means_the_config_default_and_zero_means_off() -> None:
    queues = registry(in_memory_concurrency=4, in_memory_interval=0.25, in_memory_timeout=7.0)
    defaulted = queues.create("defaulted")
    assert (defaulted.concurrency, defaulted.interval, defaulted.timeout) == (4, 0.25, 7.0)
    explicit = queues.create("explicit", concurrency=2, interval=0, timeout=0, max_size=9)
    assert (explicit.concurrency, explicit.interval, explicit.timeout) == (2, 0.0, None)
    assert explicit.max_size == 9
    batch = queues.create_batch("batch", 10, 5.0)
    assert (batch.concurrency, batch.size, batch.max_wait) == (4, 10, 5.0)
    limited = queues.create_rate_limited("limited", 30, burst=3)
    assert (limited.per_minute, limited.burst, limited.interval) == (30, 3, 0.25)


def test_get_returns_the_queue_and_unknown_names_are_listed() -> None:
    queues = registry()
    created = queues.create("zeta")
    queues.create_batch("alpha", 2, 1.0)
    assert queues.get("zeta") is created
    assert queues.names() == ["alpha", "zeta"]
    assert "zeta" in queues and len(queues) == 2
    with pytest.raises(UnknownQueue, match=r"'nope'.*'alpha', 'zeta'") as info:
        queues.get("nope")
    assert isinstance(info.value, LookupError)


@pytest.mark.parametrize("kind", ["plain", "rate_limited", "batch"])
def test_a_second_queue_with_the_same_name_is_refused(kind: str) -> None:
    queues = registry()
    queues.create("taken")
    with pytest.raises(DuplicateQueue, match="'taken' already exists"):
        if kind == "plain":
            queues.create("taken")
        elif kind == "rate_limited":
            queues.create_rate_limited("taken", 10)
        else:
            queues.create_batch("taken", 2, 1.0)


async def test_all_stats_covers_every_queue() -> None:
    queues = registry(in_memory_interval=0)
    queues.create("plain", processor=Probe())
    queues.create_batch("batch", 2, 1.0, processor=lambda items: len(items))
    await queues.get("plain").add(1)
    stats = queues.all_stats()
    assert list(stats) == ["batch", "plain"]
    assert stats["plain"]["completed"] == 1 and stats["plain"]["kind"] == "plain"
    assert stats["batch"]["kind"] == "batch"
    await queues.stop(1)


async def test_stop_returns_and_logs_the_dropped_total(caplog: pytest.LogCaptureFixture) -> None:
    queues = registry(in_memory_interval=0)
    held = Probe(hold=True)
    one = queues.create("one", concurrency=1, processor=held)
    two = queues.create("two", concurrency=1, processor=held)
    futures = [one.add_nowait(1), one.add_nowait(2), two.add_nowait(3)]
    await held.wait_started(2)
    with caplog.at_level(logging.INFO, logger="noormme_queue"):
        assert await queues.stop(0.02) == 3
    assert any(
        r.levelno == logging.WARNING
        and "dropped 3" in r.getMessage()
        and "one: 2" in r.getMessage()
        for r in caplog.records
    )
    for future in futures:
        assert future.done()
        future.exception()


async def test_stop_with_nothing_to_drop_returns_zero() -> None:
    queues = registry(in_memory_interval=0)
    queues.create("idle", processor=Probe())
    await queues.get("idle").add(1)
    assert await queues.stop(1) == 0


async def test_attach_lets_other_threads_add() -> None:
    queues = registry(in_memory_interval=0)
    queue = queues.create("threads", processor=Probe())
    queues.attach()
    result = await asyncio.to_thread(lambda: queue.add_threadsafe(5).result(timeout=5))
    assert result == ("done", 5)
    await queues.stop(1)


# -- built-ins ------------------------------------------------------------------------------


def test_the_five_builtins_have_the_designed_shapes() -> None:
    queues = registry()
    created = create_builtin_queues(queues, {})
    assert sorted(created) == sorted(BUILTIN_QUEUE_NAMES) == queues.names()
    api = queues.get("api-calls")
    assert isinstance(api, RateLimitedQueue) and api.per_minute == 100
    assert queues.get("image-processing").concurrency == 2
    assert queues.get("email-sending").concurrency == 3
    assert queues.get("webhook-delivery").concurrency == 5
    batch = queues.get("batch-processing")
    assert isinstance(batch, BatchQueue) and (batch.size, batch.max_wait) == (10, 5.0)
    for name in BUILTIN_QUEUE_NAMES:
        assert isinstance(queues.get(name), MemoryQueue)


@pytest.mark.parametrize("name", BUILTIN_QUEUE_NAMES)
async def test_a_builtin_without_its_processor_refuses_work_clearly(name: str) -> None:
    queues = registry()
    create_builtin_queues(queues, {"email-sending": None})
    with pytest.raises(NoProcessor, match=rf"'{name}' has no processor.*set_processor"):
        await queues.get(name).add({"x": 1})


async def test_builtins_run_the_processors_they_are_given() -> None:
    queues = registry(in_memory_interval=0)

    async def send(payload: dict[str, str]) -> str:
        return f"sent to {payload['to']}"

    create_builtin_queues(queues, {"email-sending": send})
    assert await queues.get("email-sending").add({"to": "a@b.c"}) == "sent to a@b.c"
    await queues.stop(1)


def test_processors_for_unknown_builtins_are_refused() -> None:
    with pytest.raises(UnknownQueue, match=r"'emails'.*email-sending"):
        create_builtin_queues(registry(), {"emails": print})


def test_exports_are_sorted_and_real() -> None:
    assert memory.__all__ == sorted(memory.__all__)
    for name in memory.__all__:
        assert hasattr(memory, name)
    assert issubclass(RateLimitedQueue, InMemoryQueue)
