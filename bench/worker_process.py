"""A worker in its own process, for the cross-process and memory measurements.

    python -m bench.worker_process DB_PATH --jobs N [--concurrency C]

Runs "ping" jobs until N have run, then prints one JSON line: enqueue→start
latencies (from the monotonic timestamp in each payload; CLOCK_MONOTONIC is
shared by every process on the machine), and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from noormme_queue import Job, QueueConfig, QueueManager

from .measure import peak_rss_mb


async def main(path: str, jobs: int, concurrency: int) -> None:
    qm = QueueManager(
        QueueConfig(
            database_url=f"sqlite:///{path}",
            concurrency=concurrency,
            batch_size=max(10, concurrency),
            cleanup_interval=0,
        ),
        builtins=False,
    )
    latencies: list[int] = []
    done = asyncio.Event()

    async def ping(job: Job) -> None:
        sent = job.payload.get("sent_ns")
        if sent:
            latencies.append(time.monotonic_ns() - sent)
        if len(latencies) >= jobs or job.payload.get("last"):
            done.set()

    qm.register_handler("ping", ping)
    await qm.start()
    print("ready", flush=True)
    await done.wait()
    await qm.stop()
    imported = sorted(
        m for m in ("pydantic", "httpx", "PIL", "fastapi", "psycopg") if m in sys.modules
    )
    print(
        json.dumps(
            {"latencies_ns": latencies, "peak_rss_mb": peak_rss_mb(), "optional_imported": imported}
        ),
        flush=True,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--jobs", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.path, args.jobs, args.concurrency))
