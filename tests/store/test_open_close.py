"""Opening and closing: many first calls at once open the store exactly once."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from noormme_queue import QueueConfig, QueueManager


def writer_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "noormme-queue-writer")


async def test_a_burst_of_first_calls_opens_one_writer(tmp_path: Path) -> None:
    before = writer_threads()
    qm = QueueManager(QueueConfig(database_url=f"sqlite:///{tmp_path / 'q.db'}"), builtins=False)
    await asyncio.gather(*(qm.add_job("t", {"n": n}) for n in range(20)))
    assert writer_threads() - before == 1
    assert (await qm.get_stats()).pending == 20
    await qm.stop()
    assert writer_threads() == before


def test_many_threads_calling_the_sync_face_open_one_writer(tmp_path: Path) -> None:
    before = writer_threads()
    qm = QueueManager(QueueConfig(database_url=f"sqlite:///{tmp_path / 'q.db'}"), builtins=False)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: qm.sync.add_job("t", {"n": n}), range(8)))
    assert writer_threads() - before == 1
    qm.sync.close()
    assert writer_threads() == before


async def test_closing_the_sync_face_leaves_a_manager_on_another_loop_running(
    tmp_path: Path,
) -> None:
    qm = QueueManager(QueueConfig(database_url=f"sqlite:///{tmp_path / 'q.db'}"), builtins=False)
    await asyncio.to_thread(qm.sync.get_stats)  # the sync face starts its own loop
    await qm.start()  # the manager runs on this one
    await asyncio.to_thread(qm.sync.close)
    assert qm.get_status().started
    ran = asyncio.Event()
    qm.register_handler("t", lambda job: ran.set())
    await qm.add_job("t", {})
    await asyncio.wait_for(ran.wait(), 5)
    await qm.stop()
