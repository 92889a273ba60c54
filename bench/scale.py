"""Drain and enqueue rate against the size of a backlog the worker does not take from.

    .venv/bin/python -m bench.scale [--quick] [--repeats 3] [--backends sqlite,postgres]

For each backend and each backlog shape, a database per backlog size (10,000, 100,000,
1,000,000 jobs, filled through the store's bulk insert, not measured); beside each, one
worker (concurrency 50) drains 10,000 due no-op jobs, and 2,000 jobs are enqueued one
``await add_job`` at a time. Each point is the median of ``--repeats`` rounds; a round
measures every size in turn. Shapes:

- other type: pending jobs of a type this worker has no handler for;
- other queue: pending jobs of its own type in a queue it does not consume
  (``QUEUE_QUEUES=default``);
- due tomorrow: jobs of its own type due in a day, at a higher priority.

Prints each figure with its ratio to the smallest backlog (target >= 0.8x), beside this
process's CPU time per job (load from elsewhere on the machine moves the wall-clock rates,
not that), and plots the rates to docs/images/scale.png (``--plot``). See
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import big, fresh, library_runs, postgres

SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000, 10_000, 100_000)
DRAIN_JOBS, ENQUEUE_JOBS, CONCURRENCY = 10_000, 2_000, 50
PLOT = Path(__file__).resolve().parent.parent / "docs" / "images" / "scale.png"


@dataclass(frozen=True)
class Shape:
    name: str
    backlog: dict[str, Any]
    """``big.new_jobs`` keywords of the backlog's jobs (``run_at`` relative to now)."""
    worker: dict[str, Any]
    """The draining worker's config."""

    def jobs(self) -> dict[str, Any]:
        shape = dict(self.backlog)
        if "run_at" in shape:
            shape["run_at"] = time.time() + shape["run_at"]
        return shape


SHAPES = (
    Shape("other type", {"type": "other"}, {}),
    Shape("other queue", {"queue": "bulk"}, {"queues": "default"}),
    Shape("due tomorrow", {"priority": 5, "run_at": big.DAY}, {}),
)


@dataclass(frozen=True)
class Run:
    """One drain and one sequential enqueue: jobs/s (wall clock), and this process's CPU
    per job in microseconds (all of it on SQLite; on PostgreSQL the client's side only)."""

    drain: float
    enqueue: float
    drain_cpu: float
    enqueue_cpu: float


@dataclass(frozen=True)
class Point:
    backend: str
    shape: str
    backlog: int
    runs: list[Run]

    def median(self, what: str) -> float:
        return float(statistics.median(getattr(r, what) for r in self.runs))


@dataclass(frozen=True)
class Sizes:
    backlogs: tuple[int, ...]
    drain: int
    enqueue: int


FULL = Sizes(SIZES, DRAIN_JOBS, ENQUEUE_JOBS)
QUICK = Sizes(QUICK_SIZES, DRAIN_JOBS // 5, ENQUEUE_JOBS // 4)


def measure_once(url: str, shape: Shape, sizes: Sizes, left: int) -> Run:
    """One drain and one sequential enqueue beside the backlog in ``url``. ``left``: due
    no-op jobs already pending (the previous run's sequential enqueue)."""
    asyncio.run(big.add_pending(url, sizes.drain - left))  # top up to sizes.drain due jobs
    worker = postgres.manager(url, concurrency=CONCURRENCY, batch_size=CONCURRENCY, **shape.worker)
    cpu = time.process_time()
    drain = asyncio.run(library_runs.drain(worker, sizes.drain))
    drain_cpu, cpu = time.process_time() - cpu, time.process_time()
    enqueue = asyncio.run(library_runs.sequential(postgres.manager(url), sizes.enqueue))
    enqueue_cpu = time.process_time() - cpu
    return Run(
        sizes.drain / drain,
        sizes.enqueue / enqueue,
        drain_cpu / sizes.drain * 1e6,
        enqueue_cpu / sizes.enqueue * 1e6,
    )


def run_shape(backend: str, pg_url: str, shape: Shape, sizes: Sizes, repeats: int) -> list[Point]:
    """One database per backlog size, all filled first; then each round measures every
    size in turn, so a change in the machine's other load hits every size alike."""
    with ExitStack() as stack:
        urls = [stack.enter_context(big.fresh(backend, pg_url)) for _ in sizes.backlogs]
        for url, size in zip(urls, sizes.backlogs, strict=True):
            asyncio.run(big.add_pending(url, size, **shape.jobs()))
        points = [Point(backend, shape.name, size, []) for size in sizes.backlogs]
        for _ in range(repeats):
            for url, point in zip(urls, points, strict=True):
                left = sizes.enqueue + 1 if point.runs else 0  # sequential() adds one untimed
                point.runs.append(measure_once(url, shape, sizes, left))
    for point in points:
        report(point, points[0])
    return points


def report(point: Point, first: Point) -> None:
    def ratio(what: str) -> float:
        return point.median(what) / first.median(what)

    print(
        f"{point.backend:<9} {point.shape:<13} {point.backlog:>10,}  "
        f"drain {point.median('drain'):>7,.0f}/s {ratio('drain'):5.2f}x "
        f"({point.median('drain_cpu'):4.0f} us CPU/job {ratio('drain_cpu'):4.2f}x)  "
        f"enqueue {point.median('enqueue'):>6,.0f}/s {ratio('enqueue'):5.2f}x "
        f"({point.median('enqueue_cpu'):4.0f} us CPU/job {ratio('enqueue_cpu'):4.2f}x)  "
        f"runs: {', '.join(f'{r.drain:,.0f}' for r in point.runs)} / "
        f"{', '.join(f'{r.enqueue:,.0f}' for r in point.runs)}",
        flush=True,
    )


def plot(points: list[Point], path: Path, sizes: Sizes) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = [b for b in big.BACKENDS if any(p.backend == b for p in points)]
    fig, axes = plt.subplots(
        2, len(backends), figsize=(5.5 * len(backends), 7), constrained_layout=True, squeeze=False
    )
    markers = {s.name: m for s, m in zip(SHAPES, "osD", strict=True)}
    metrics = (
        ("drain", f"drain {sizes.drain:,} no-op jobs, concurrency {CONCURRENCY}"),
        ("enqueue", f"enqueue {sizes.enqueue:,} jobs, one await add_job at a time"),
    )
    for col, backend in enumerate(backends):
        for row, (what, title) in enumerate(metrics):
            ax = axes[row][col]
            for shape in SHAPES:
                mine = sorted(
                    (p for p in points if (p.backend, p.shape) == (backend, shape.name)),
                    key=lambda p: p.backlog,
                )
                if mine:
                    ax.plot(
                        [p.backlog for p in mine],
                        [p.median(what) for p in mine],
                        marker=markers[shape.name],
                        label=f"beside jobs of {shape.name}",
                    )
            ax.set_xscale("log")
            ax.set_ylim(bottom=0)
            ax.set_xlabel("backlog beside it (jobs)")
            ax.set_ylabel("jobs/s")
            ax.set_title(f"{backend}: {title}", fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8, loc="lower left")
    fig.suptitle(
        f"noormme-queue beside a backlog it does not take from ({big.MACHINE})", fontsize=10
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"\nplot: {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=fresh.DEFAULT_URL, help="PostgreSQL server")
    parser.add_argument("--quick", action="store_true", help="backlogs of 1k, 10k, 100k")
    parser.add_argument("--repeats", type=int, default=3, help="runs per point (median)")
    parser.add_argument("--backends", default=",".join(big.BACKENDS))
    parser.add_argument("--shapes", default=",".join(s.name for s in SHAPES))
    parser.add_argument(
        "--plot",
        type=Path,
        help=f"PNG to write (default: {PLOT.name} in docs/images, none with --quick)",
    )
    args = parser.parse_args()
    big.exit_on_sigterm()
    sizes = QUICK if args.quick else FULL
    shapes = [s for s in SHAPES if s.name in args.shapes.split(",")]
    print(
        f"noormme-queue beside a backlog; python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores; median of {args.repeats}; ratio to the "
        f"{sizes.backlogs[0]:,} backlog (target >= 0.8x)\n"
    )
    points: list[Point] = []
    for backend in args.backends.split(","):
        for shape in shapes:
            points += run_shape(backend, args.url, shape, sizes, args.repeats)
    path = args.plot or (None if args.quick else PLOT)
    if path is not None:
        plot(points, path, sizes)


if __name__ == "__main__":
    main()
