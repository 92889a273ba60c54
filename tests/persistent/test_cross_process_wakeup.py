"""A job enqueued by another process starts at once in an idle worker (no poll needed)."""

from __future__ import annotations

import asyncio
import sys
import textwrap

from noormme_queue import QueueConfig, QueueManager


async def test_another_process_wakes_the_idle_worker(db_url: str) -> None:
    # QUEUE_INTERVAL is 60 s: only the wake-up can start the job within the deadline.
    qm = QueueManager(QueueConfig(database_url=db_url, interval=60, cleanup_interval=0))
    started = asyncio.Event()
    qm.register_handler("ping", lambda job: started.set())
    await qm.start()
    try:
        producer = textwrap.dedent(f"""
            from noormme_queue import QueueConfig, QueueManager
            qm = QueueManager(QueueConfig(database_url={db_url!r}), builtins=False)
            qm.sync.add_job("ping", {{}})
            qm.sync.close()
        """)
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", producer)
        assert await proc.wait() == 0
        await asyncio.wait_for(started.wait(), timeout=5)
    finally:
        await qm.stop()
