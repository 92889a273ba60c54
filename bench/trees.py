"""Before and after a change, in one sitting: the same figures from two checkouts, in turn.

    .venv/bin/python -m bench.trees NAME=PYTHON ... [--rounds 3] [--backends sqlite,postgres]

Each ``PYTHON`` is the interpreter of a checkout's own virtualenv (its ``noormme_queue``);
this folder's ``bench`` runs in every one of them (it uses only the public API, through
bench/peers.py's ``Ours``), one process per figure set, the checkouts taking turns round
after round. Prints each figure's runs, median and the ratio of each checkout's median to
the first's. A single set: ``python -m bench.trees --one sqlite|postgres`` (one JSON line).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Coroutine
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from . import peers
from .fresh import DEFAULT_URL, empty_schema, fresh_db
from .measure import percentile

ROOT = Path(__file__).resolve().parent.parent
JOBS, PRODUCERS, EACH, BULK, DRAINED, SAMPLES = 2_000, 50, 100, 20_000, 10_000, 200
SET_TIMEOUT = 300  # seconds; a whole set takes under 30
FIGURES = (
    "enqueue, one by one",
    f"enqueue, {PRODUCERS} producers",
    f"enqueue, bulk {BULK:,}",
    "drain, concurrency 5",
    "drain, concurrency 50",
    "idle latency p50 (ms)",
    "idle latency p99 (ms)",
)


def run_set(python: str, backend: str, url: str) -> dict[str, float]:
    """One figure set in its own process under ``python``; a set that has not ended after
    :data:`SET_TIMEOUT` seconds (an old tree's hang, seen once in a whole sitting) is run
    again, once, and said so."""

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [python, "-m", "bench.trees", "--one", backend, "--url", url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=SET_TIMEOUT,
        )

    try:
        child = run()
    except subprocess.TimeoutExpired:
        print(f"{python} on {backend}: no result in {SET_TIMEOUT} s, again", file=sys.stderr)
        child = run()
    result: dict[str, float] = json.loads(child.stdout.splitlines()[-1])
    return result


def one_set(backend: str, server: str) -> dict[str, float]:
    """Every figure once on ``backend``, each in a fresh database."""

    def fresh() -> peers.Ours:
        stack = ExitStack()
        if backend == "postgres":
            lib = peers.Ours(server, stack.enter_context(empty_schema(server)))
        else:
            lib = peers.Ours(f"sqlite:///{stack.enter_context(fresh_db(tables=False))}", "")
        stacks.append(stack)
        return lib

    cpu: list[float] = []

    def run(work: Coroutine[Any, Any, float]) -> float:
        """``work``'s result; its CPU seconds (this process's, every thread) go to ``cpu``."""
        started = time.process_time()
        result = asyncio.run(work)
        cpu.append(time.process_time() - started)
        return result

    stacks: list[ExitStack] = []
    try:
        seconds = [
            run(peers.one_by_one(fresh(), JOBS)),
            run(peers.producers(fresh(), PRODUCERS, EACH)),
            run(peers.bulk(fresh(), BULK)),
            run(peers.drain(fresh(), DRAINED, 5)),
            run(peers.drain(fresh(), DRAINED, 50)),
        ]
        worker = fresh()
        producer = peers.Ours(worker.base, worker.schema)
        latencies = asyncio.run(peers.idle_latencies(worker, producer, SAMPLES))
    finally:
        for stack in stacks:
            stack.close()
    counts = (JOBS, PRODUCERS * EACH, BULK, DRAINED, DRAINED)
    rates = [n / s for n, s in zip(counts, seconds, strict=True)]
    figures = [*rates, percentile(latencies, 50), percentile(latencies, 99)]
    # CPU per job, the opening and the drains' filling included: a steadier figure than the
    # rates on a loaded machine (for PostgreSQL, the client's side only).
    timed = zip(FIGURES[: len(cpu)], cpu, counts, strict=True)
    per_job = {f"{name}: cpu us/job": c / n * 1e6 for name, c, n in timed}
    return dict(zip(FIGURES, figures, strict=True)) | per_job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("trees", nargs="*", help="NAME=PYTHON, the first is the reference")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--url", default=DEFAULT_URL)
    parser.add_argument("--one", help="run one set on this backend, print it as JSON")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_set(args.one, args.url)))
        return
    trees = dict(tree.split("=", 1) for tree in args.trees)
    for backend in args.backends.split(","):
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, python in trees.items():
                runs[name].append(run_set(python, backend, args.url))
                print(f"{backend} {name}: {runs[name][-1]}", file=sys.stderr, flush=True)
        first = next(iter(trees))
        print(f"\n{backend}: median of {args.rounds} (runs); ratio to {first}'s median")
        for figure in runs[first][0]:
            medians = {n: statistics.median(r[figure] for r in runs[n]) for n in trees}
            cells = "  ".join(
                f"{n} {medians[n]:>9,.{0 if medians[n] >= 100 else 2}f}"
                f" ({medians[n] / medians[first]:4.2f}x;"
                f" {'/'.join(f'{r[figure]:,.{0 if r[figure] >= 100 else 2}f}' for r in runs[n])})"
                for n in trees
            )
            print(f"  {figure:<40} {cells}", flush=True)


if __name__ == "__main__":
    main()
