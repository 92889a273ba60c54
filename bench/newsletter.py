"""Newsletter throughput against its size: the cost of saving progress after every message.

    .venv/bin/python -m bench.newsletter            # 1,000 and 16,000 recipients
    .venv/bin/python -m bench.newsletter --sizes 500,4000

Each run is one ``newsletter`` job through the real worker on a fresh SQLite file, with the
``file`` transport writing into a temp outbox (``EMAIL_TRANSPORT=file``). It prints
messages per second for each size, the ratio of the largest to the smallest (flat cost per
message gives 1.0), and the size of the database plus its WAL when the job has completed.
See docs/benchmarks.md ("Newsletter progress").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from noormme_queue import QueueConfig, QueueManager

POLL = 0.05


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


async def one_newsletter(recipients: int, workdir: Path) -> tuple[float, int]:
    """Messages per second and database+WAL bytes for one newsletter of ``recipients``."""
    os.environ["EMAIL_TRANSPORT"] = "file"
    os.environ["EMAIL_OUTBOX_DIR"] = str(workdir / "outbox")
    os.environ.pop("EMAIL_RATE_LIMIT", None)
    db = workdir / "queue.db"
    qm = QueueManager(QueueConfig(database_url=f"sqlite:///{db}", cleanup_interval=0))
    await qm.start()
    try:
        payload = {
            "to": [f"reader{i:05d}@example.com" for i in range(recipients)],
            "subject": "Weekly Newsletter",
            "html": "<h1>This week's updates</h1><p>Hello.</p>",
        }
        started = time.perf_counter()
        job_id = await qm.add_job("newsletter", payload)
        # Poll the counts, not the job: reading a 16k-address payload 20 times a second
        # would be part of what is measured.
        while True:
            stats = await qm.get_stats()
            if stats.completed or stats.failed:
                break
            await asyncio.sleep(POLL)
        elapsed = time.perf_counter() - started
        job = await qm.get_job(job_id)
        assert job is not None
        if job.status != "completed":
            raise SystemExit(f"newsletter of {recipients} failed: {job.error}")
        stored = file_size(db) + file_size(db.with_name(db.name + "-wal"))
    finally:
        await qm.stop(timeout=30)
    sent = len(list((workdir / "outbox").glob("*.eml")))
    if sent != recipients:
        raise SystemExit(f"expected {recipients} messages in the outbox, found {sent}")
    return recipients / elapsed, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,16000", help="recipient counts, comma-separated")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    rates: dict[int, float] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="nq-newsletter-") as tmp:
            rate, stored = asyncio.run(one_newsletter(size, Path(tmp)))
        rates[size] = rate
        print(
            f"newsletter to {size:>6,} recipients  {rate:8,.0f} msg/s   "
            f"database+WAL after {stored / 1e6:8.1f} MB",
            flush=True,
        )
    small, large = min(sizes), max(sizes)
    if small != large:
        print(f"ratio {large:,}/{small:,} recipients: {rates[large] / rates[small]:.2f}x msg/s")


if __name__ == "__main__":
    main()
