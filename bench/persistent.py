"""Tier 2 benchmark: the SQLite queue against raw sqlite3 doing the same work, in one run.

    python3 scripts/dev.py bench          # or: .venv/bin/python -m bench.persistent

Prints each figure beside its raw-sqlite3 baseline and the ratio. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from noormme_queue import Job, QueueConfig, QueueManager

from . import library_runs, raw_sqlite
from .fresh import fresh_db
from .measure import percentile

ROOT = Path(__file__).resolve().parent.parent


def manager(path: Path, **overrides: object) -> QueueManager:
    config = QueueConfig(database_url=f"sqlite:///{path}", cleanup_interval=0, **overrides)  # type: ignore[arg-type]
    return QueueManager(config, builtins=False)


RESULTS: dict[str, float] = {}


def line(name: str, ours: float, raw: float, unit: str, target: str) -> None:
    RESULTS[name] = ours
    print(
        f"{name:<38} {ours:>12,.0f} {unit:<7} raw {raw:>12,.0f} {unit:<7} "
        f"ratio {ours / raw:5.2f}x  (target {target})"
    )


# -- enqueue ---------------------------------------------------------------------------------------


def bench_sequential(jobs: int) -> None:
    with fresh_db() as path:
        raw = jobs / raw_sqlite.single_row_commits(path, jobs)
    with fresh_db() as path:
        ours = jobs / asyncio.run(library_runs.sequential(manager(path), jobs))
    line("enqueue, sequential awaits", ours, raw, "jobs/s", ">= 0.5x raw single-row commits")


def bench_concurrent(producers: int, each: int) -> None:
    jobs = producers * each
    with fresh_db() as path:
        raw = jobs / raw_sqlite.single_row_commits(path, jobs)
    with fresh_db() as path:
        ours = jobs / asyncio.run(library_runs.concurrent(manager(path), producers, each))
    line(
        f"enqueue, {producers} concurrent producers",
        ours,
        raw,
        "jobs/s",
        ">= 1.0x raw single-row commits",
    )


def bench_bulk(jobs: int) -> None:
    with fresh_db() as path:
        raw = jobs / raw_sqlite.executemany(path, jobs)
    with fresh_db() as path:
        ours = jobs / asyncio.run(library_runs.bulk(manager(path), jobs))
    line("enqueue, add_jobs bulk", ours, raw, "jobs/s", ">= 0.5x raw executemany")


# -- drain -----------------------------------------------------------------------------------------


def fill(path: Path, jobs: int) -> None:
    raw_sqlite.executemany(path, jobs)


def bench_drain(jobs: int, concurrency: int) -> None:
    with fresh_db() as path:
        fill(path, jobs)
        done, elapsed = raw_sqlite.claim_run_settle(path, concurrency)
        assert done == jobs
        raw = jobs / elapsed
    with fresh_db() as path:
        fill(path, jobs)

        ours = jobs / asyncio.run(
            library_runs.drain(manager(path, concurrency=concurrency, batch_size=concurrency), jobs)
        )
    line(
        f"drain no-op jobs, concurrency {concurrency}",
        ours,
        raw,
        "jobs/s",
        ">= 0.33x raw claim-run-settle, >= 20,000/s",
    )


# -- latency ---------------------------------------------------------------------------------------


def report_latency(name: str, latencies_ms: list[float], target: str) -> None:
    print(
        f"{name:<38} p50 {percentile(latencies_ms, 50):6.3f} ms  "
        f"p99 {percentile(latencies_ms, 99):6.3f} ms  max {max(latencies_ms):6.3f} ms  "
        f"n={len(latencies_ms)}  (target {target})"
    )


def bench_in_process_latency(samples: int) -> None:
    with fresh_db() as path:

        async def run() -> list[float]:
            qm = manager(path, interval=1.0)
            started: list[float] = []
            arrived = asyncio.Event()

            async def ping(job: Job) -> None:
                started.append((time.monotonic_ns() - job.payload["sent_ns"]) / 1e6)
                arrived.set()

            qm.register_handler("ping", ping)
            await qm.start()
            for _ in range(samples):
                arrived.clear()
                await asyncio.sleep(0.002)  # let the worker go idle
                await qm.add_job("ping", {"sent_ns": time.monotonic_ns()})
                await arrived.wait()
            await qm.stop()
            return started

        report_latency(
            "enqueue -> start, same process, idle", asyncio.run(run()), "p50 <= 1 ms, p99 <= 5 ms"
        )


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_worker(path: Path, jobs: int, concurrency: int = 5) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.worker_process",
            str(path),
            "--jobs",
            str(jobs),
            "--concurrency",
            str(concurrency),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def finish_worker(proc: subprocess.Popen[str]) -> dict[str, object]:
    assert proc.stdout is not None
    result: dict[str, object] = json.loads(proc.stdout.readline())
    proc.wait(timeout=30)
    return result


def bench_cross_process(samples: int, idle_seconds: float) -> None:
    with fresh_db() as path:
        worker = start_worker(path, samples)
        time.sleep(0.5)
        cpu_before = cpu_seconds(worker.pid)
        time.sleep(idle_seconds)
        idle_cpu = (cpu_seconds(worker.pid) - cpu_before) / idle_seconds * 100

        async def produce() -> None:
            qm = manager(path)
            await qm.add_job("warm-up", {})  # open our store outside the timing
            for _ in range(samples):
                await asyncio.sleep(0.02)  # the worker is idle when each job arrives
                await qm.add_job("ping", {"sent_ns": time.monotonic_ns()})
            await qm.stop()

        asyncio.run(produce())
        result = finish_worker(worker)
    latencies = [ns / 1e6 for ns in result["latencies_ns"]]  # type: ignore[attr-defined]
    report_latency("enqueue -> start, other process, idle", latencies, "p50 <= 2 ms, p99 <= 10 ms")
    print(
        f"{'idle worker CPU':<38} {idle_cpu:6.2f} % of one core over {idle_seconds:.0f} s "
        "(QUEUE_INTERVAL=1000 ms)"
    )


def bench_worker_rss(jobs: int) -> None:
    with fresh_db() as path:
        raw_sqlite.executemany(path, jobs - 1)

        async def last() -> None:
            qm = manager(path)
            await qm.add_job("ping", {"last": True})
            await qm.stop()

        worker = start_worker(path, jobs)
        asyncio.run(last())
        result = finish_worker(worker)
    print(
        f"{'worker peak RSS, draining ' + format(jobs, ',') + ' jobs':<38} "
        f"{result['peak_rss_mb']:6.1f} MB  optional deps imported: "
        f"{result['optional_imported'] or 'none'}  (target <= 40 MB)"
    )


def bench_peers(jobs: int) -> None:
    from .peers import celery_redis, huey_sqlite, rq_redis

    print("\npeers, same run (ours / theirs):")
    ours_enqueue = RESULTS["enqueue, sequential awaits"]
    ours_drain = RESULTS["drain no-op jobs, concurrency 5"]
    peers: list[tuple[str, Callable[[], tuple[float, float]], str]] = [
        ("huey SqliteHuey", lambda: huey_sqlite(jobs, workers=5), "5 threads"),
        ("RQ on Redis", lambda: rq_redis(jobs // 2), "SimpleWorker"),
        ("Celery on Redis", lambda: celery_redis(jobs, ROOT), "5 threads"),
    ]
    for name, run, how in peers:
        try:
            enqueue, drain = run()
        except Exception as exc:  # a peer that cannot run here is reported, not fatal
            print(f"{name:<38} not measured: {type(exc).__name__}: {exc}")
            continue
        print(
            f"{name + ' enqueue, one by one':<38} {enqueue:>12,.0f} jobs/s  "
            f"ours {ours_enqueue:>10,.0f}  ratio {ours_enqueue / enqueue:5.2f}x"
        )
        print(
            f"{name + ' drain, ' + how:<38} {drain:>12,.0f} jobs/s  "
            f"ours {ours_drain:>10,.0f}  ratio {ours_drain / drain:5.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke test")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    print(
        f"noormme-queue persistent-tier benchmark; python {sys.version.split()[0]}, "
        f"sqlite {__import__('sqlite3').sqlite_version}, {os.cpu_count()} cores\n"
    )
    bench_sequential(2_000 // scale)
    bench_concurrent(50, 200 // scale)
    bench_bulk(20_000 // scale)
    bench_drain(20_000 // scale, 5)
    bench_drain(20_000 // scale, 50)
    bench_in_process_latency(500 // scale)
    bench_cross_process(300 // scale, 5.0 / scale)
    bench_worker_rss(20_000 // scale)
    bench_peers(5_000 // scale)


if __name__ == "__main__":
    main()
