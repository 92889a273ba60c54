"""Tier 1 through the manager: built-in queues with real processors, errors, stop, sync."""

from __future__ import annotations

import asyncio
import email
import threading
from pathlib import Path
from typing import Any

import pytest

from noormme_queue import (
    BatchQueue,
    DuplicateQueue,
    NoProcessor,
    QueueConfig,
    QueueManager,
    RateLimitedQueue,
    UnknownQueue,
)

from ..handlers.conftest import HttpServer, Reply, http_server

__all__ = ["http_server"]

BUILTIN = ["api-calls", "batch-processing", "email-sending", "image-processing", "webhook-delivery"]


async def test_the_builtin_queues_exist_with_their_settings(qm: QueueManager) -> None:
    assert sorted(qm.get_all_in_memory_stats()) == BUILTIN
    api = qm.get_in_memory_queue("api-calls")
    assert isinstance(api, RateLimitedQueue) and api.per_minute == 100
    assert qm.get_in_memory_queue("image-processing").concurrency == 2
    assert qm.get_in_memory_queue("email-sending").concurrency == 3
    assert qm.get_in_memory_queue("webhook-delivery").concurrency == 5
    assert isinstance(qm.get_in_memory_queue("batch-processing"), BatchQueue)
    assert qm.get_status().memory_queues == tuple(BUILTIN)


async def test_batch_processing_needs_its_processor_set_first(qm: QueueManager) -> None:
    batch = qm.get_in_memory_queue("batch-processing")
    with pytest.raises(NoProcessor, match="batch-processing"):
        await batch.add({"id": 1})
    sizes: list[int] = []

    def process(items: list[dict[str, int]]) -> list[int]:
        sizes.append(len(items))
        return [item["id"] * 10 for item in items]

    batch.set_processor(process)
    results = await asyncio.gather(*(batch.add({"id": i}) for i in range(10)))
    assert results == [i * 10 for i in range(10)] and sizes == [10]  # flushed at 10 items


async def test_names_are_checked(qm: QueueManager) -> None:
    with pytest.raises(UnknownQueue, match="api-calls") as caught:
        qm.get_in_memory_queue("nope")
    assert "image-processing" in str(caught.value)  # the message lists the names
    qm.create_in_memory_queue("custom", concurrency=2, interval=0, timeout=15.0)
    with pytest.raises(DuplicateQueue, match="custom"):
        qm.create_in_memory_queue("custom")
    with pytest.raises(DuplicateQueue):
        qm.create_rate_limited_queue("custom", 10)


async def test_defaults_come_from_the_config(db_url: str) -> None:
    qm = QueueManager(
        QueueConfig(
            database_url=db_url,
            in_memory_concurrency=7,
            in_memory_interval=0.25,
            in_memory_timeout=2.0,
        )
    )
    queue = qm.create_in_memory_queue("defaults")
    assert (queue.concurrency, queue.interval) == (7, 0.25)
    await qm.stop()


async def test_api_calls_make_real_rate_limited_requests(
    db_url: str, http_server: HttpServer
) -> None:
    http_server.routes["/data"] = Reply(200, b'{"value": 42}')
    qm = QueueManager(
        QueueConfig(database_url=db_url, webhook_allow_private=True, in_memory_interval=0)
    )
    try:
        api = qm.get_in_memory_queue("api-calls")
        result: Any = await api.add({"url": http_server.url("/data"), "options": {"method": "GET"}})
        assert result["status"] == 200 and result["body"] == {"value": 42}
        assert len(http_server.hits("/data")) == 1
    finally:
        await qm.stop()


async def test_email_sending_writes_a_message(
    qm: QueueManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMAIL_OUTBOX_DIR", str(tmp_path / "outbox"))
    await qm.get_in_memory_queue("email-sending").add(
        {"to": "a@example.com", "subject": "Quick", "text": "inside the request"}
    )
    (written,) = (tmp_path / "outbox").glob("*.eml")
    assert email.message_from_bytes(written.read_bytes())["Subject"] == "Quick"


async def test_stop_drains_then_reports_what_it_dropped(db_url: str) -> None:
    qm = QueueManager(QueueConfig(database_url=db_url, shutdown_timeout=0.2))
    await qm.start()
    queue = qm.create_in_memory_queue("slow", concurrency=1, interval=0, timeout=0)
    release = asyncio.Event()
    queue.set_processor(lambda payload: release.wait())
    pending = [asyncio.ensure_future(queue.add(i)) for i in range(4)]
    await asyncio.sleep(0)
    report = await qm.stop()
    assert report.memory_dropped == 4  # one running and three queued, none finished in time
    results = await asyncio.gather(*pending, return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results)


async def test_sync_threads_add_to_a_queue_of_the_running_manager(qm: QueueManager) -> None:
    await qm.start()
    queue = qm.create_in_memory_queue("double", interval=0)
    loop_thread = threading.current_thread()
    seen_threads: list[threading.Thread] = []

    async def double(payload: int) -> int:
        seen_threads.append(threading.current_thread())
        return payload * 2

    queue.set_processor(double)
    results = await asyncio.gather(
        *(asyncio.to_thread(qm.sync.get_in_memory_queue("double").add, n) for n in range(10))
    )
    assert results == [n * 2 for n in range(10)]
    assert set(seen_threads) == {loop_thread}  # run on the manager's loop


async def test_the_specification_examples_re_create_the_builtins(qm: QueueManager) -> None:
    # As written in the specification: the built-in names may be created afresh.
    api = qm.create_rate_limited_queue("api-calls", 100)
    assert qm.get_in_memory_queue("api-calls") is api and api.has_processor  # kept its work
    batch = qm.create_batch_queue("batch-processing", 3, 5.0)
    batch.set_processor(lambda items: [len(items)] * len(items))
    assert await asyncio.gather(*(batch.add(i) for i in range(3))) == [3, 3, 3]
    with pytest.raises(DuplicateQueue):  # once the application's, it is not replaced again
        qm.create_batch_queue("batch-processing", 3, 5.0)
