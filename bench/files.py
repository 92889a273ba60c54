"""Bounded files: sustained enqueue and drain on SQLite for ``--minutes``, cleanup keeping
pace, with the WAL and the database file sampled every few seconds.

    .venv/bin/python -m bench.files [--minutes 10] [--rate 1000] [--retention 60]

One ``QueueManager`` enqueues ``--rate`` jobs per second (``add_jobs`` of ``BATCH`` every
``BATCH / rate`` seconds, payloads of ~``PAYLOAD_BYTES``) and drains them with its worker
(concurrency 50); its cleanup loop runs every ``CLEANUP_INTERVAL`` seconds and removes jobs
finished more than ``--retention`` seconds ago (``QUEUE_CLEANUP_DAYS`` as a fraction of a
day). Every ``SAMPLE_SECONDS`` it reads the sizes of ``queue.db-wal`` and ``queue.db`` and
the file's free pages (``PRAGMA freelist_count``). Prints the samples, the largest WAL
against the documented bound (``journal_size_limit``, store/sqlite/connect.py, and
docs/reliability.md "The files on disk"), and the file's growth after the warm-up (one
retention and two cleanup passes). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from noormme_queue import Job, QueueConfig, QueueManager
from noormme_queue.store.sqlite.connect import JOURNAL_SIZE_LIMIT
from noormme_queue.store.sqlite.writer import CHECKPOINT_EVERY

from . import big

BATCH = 50
PAYLOAD_BYTES = 200
CLEANUP_INTERVAL = 10.0
SAMPLE_SECONDS = 5.0
MB = 1024 * 1024


@dataclass(frozen=True)
class Sample:
    at: float
    wal: int
    db: int
    free_pages: int
    enqueued: int
    done: int
    kept: int
    """Jobs in the table."""


def sizes(path: Path) -> tuple[int, int, int]:
    wal = path.with_name(path.name + "-wal")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    finally:
        conn.close()
    return (wal.stat().st_size if wal.exists() else 0), path.stat().st_size, free


async def sustain(url: str, minutes: float, rate: float, retention: float) -> list[Sample]:
    config = QueueConfig(
        database_url=url,
        concurrency=50,
        batch_size=50,
        cleanup_days=retention / big.DAY,
        cleanup_interval=CLEANUP_INTERVAL,
    )
    qm = QueueManager(config, builtins=False)
    path = big.sqlite_path(url)
    done = 0

    async def noop(job: Job) -> None:
        nonlocal done
        done += 1

    qm.register_handler("noop", noop)
    await qm.start()
    filler = "x" * PAYLOAD_BYTES
    enqueued, samples = 0, []
    started = time.monotonic()
    next_sample = started
    end = started + minutes * 60
    while (now := time.monotonic()) < end:
        due = int((now - started) * rate)  # a steady rate, whatever each batch took
        while enqueued < due:
            await qm.add_jobs([("noop", {"i": enqueued + i, "f": filler}) for i in range(BATCH)])
            enqueued += BATCH
        if now >= next_sample:
            stats = await qm.get_stats()
            kept = stats.total
            wal, db, free = sizes(path)
            samples.append(Sample(now - started, wal, db, free, enqueued, done, kept))
            next_sample += SAMPLE_SECONDS
        await asyncio.sleep(BATCH / rate / 2)
    await qm.stop()
    return samples


def report(samples: list[Sample], warm_up: float, rate: float, retention: float) -> None:
    print(f"{'t (s)':>7} {'WAL MB':>8} {'db MB':>8} {'free pages':>10} {'jobs kept':>10} done")
    every = max(1, round(30 / SAMPLE_SECONDS))
    for s in samples[::every] + samples[-1:]:
        print(
            f"{s.at:7.0f} {s.wal / MB:8.2f} {s.db / MB:8.2f} {s.free_pages:>10,} "
            f"{s.kept:>10,} {s.done:,}"
        )
    last = samples[-1]
    warm = [s for s in samples if s.at >= warm_up]
    biggest = max(samples, key=lambda s: s.wal)
    within = "ok" if biggest.wal <= JOURNAL_SIZE_LIMIT else "OVER"
    print(
        f"\nenqueued {last.enqueued:,}, done {last.done:,} ({last.done / last.at:,.0f} jobs/s "
        f"against {rate:,.0f}/s asked); cleanup keeps {retention:.0f} s of finished jobs"
    )
    print(
        f"largest WAL: {biggest.wal / MB:.2f} MB at {biggest.at:.0f} s (bound: "
        f"journal_size_limit {JOURNAL_SIZE_LIMIT / MB:.0f} MiB; checkpoint every "
        f"{CHECKPOINT_EVERY} loop commits) [{within}]"
    )
    if warm:
        first, top = warm[0], max(s.db for s in warm)
        print(
            f"database file after the warm-up ({warm_up:.0f} s): {first.db / MB:.2f} MB at "
            f"{first.at:.0f} s, largest {top / MB:.2f} MB, at the end {last.db / MB:.2f} MB "
            f"(growth {(last.db - first.db) / MB:+.2f} MB over {last.at - first.at:.0f} s); "
            f"jobs in the table: {first.kept:,} then at most {max(s.kept for s in warm):,}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=1_000.0, help="jobs enqueued per second")
    parser.add_argument(
        "--retention", type=float, default=60.0, help="seconds finished jobs are kept"
    )
    parser.add_argument("--quick", action="store_true", help="1 minute, 20 s retention")
    args = parser.parse_args()
    big.exit_on_sigterm()
    if args.quick:
        args.minutes, args.retention = 1.0, 20.0
    print(
        f"noormme-queue files under {args.minutes:g} minutes of sustained enqueue+drain at "
        f"{args.rate:,.0f} jobs/s; python {sys.version.split()[0]}, sqlite "
        f"{sqlite3.sqlite_version}\n"
    )
    warm_up = args.retention + 2 * CLEANUP_INTERVAL
    with big.fresh("sqlite") as url:
        samples = asyncio.run(sustain(url, args.minutes, args.rate, args.retention))
    report(samples, warm_up, args.rate, args.retention)


if __name__ == "__main__":
    main()
