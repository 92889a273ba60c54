"""What monitoring reads, with 1,000,000 jobs in the table: ``get_stats()``, the first page
of ``GET /api/queue/jobs?status=...`` and every request of the dashboard's poll.

    .venv/bin/python -m bench.monitoring [--jobs 1000000] [--samples 200] [--backends ...]

The table holds pending, scheduled (shown as pending), completed, failed and cancelled
jobs (``MIX``). ``noormme-queue serve``'s app (API, dashboard, a worker) runs on uvicorn
on 127.0.0.1 in a thread; requests come from an ``httpx.AsyncClient`` in the main thread, over
keep-alive. The dashboard's poll is what ``api/static/dashboard.js: refresh`` sends every
2 s: ``/stats``, ``/queues``, ``/jobs?limit=20`` and ``/schedules`` at once. Prints the
median, p99 and max of each, in ms (target <= 20 ms), and the CPU time this process spent per
call (client and server together: what the read costs, whatever else loads the machine).
See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from noormme_queue import QueueManager
from noormme_queue.api.server import bind, http_server

from . import big, fresh, postgres

TARGET_MS = 20.0
# shares of the table: pending now, due tomorrow, and finished in the last hour
MIX = {"pending": 0.3, "scheduled": 0.1, "finished": 0.6}
FINISHED = ("completed", "completed", "completed", "completed", "failed", "cancelled")
POLL = ("/stats", "/queues", "/jobs?limit=20", "/schedules")
PAGES = tuple(f"/jobs?status={s}" for s in ("pending", "processing", "failed", "completed"))
# Not in the poll unless a filter is set on the dashboard: a type or queue filter, where
# newer jobs of other types (or none of that type at all) lie in the walk of the index.
FILTERS = ("/jobs?type=report&limit=20", "/jobs?status=failed&type=report&limit=20")
API = "/api/queue"


def fill(url: str, jobs: int) -> None:
    pending, scheduled = int(jobs * MIX["pending"]), int(jobs * MIX["scheduled"])
    asyncio.run(big.add_pending(url, pending // 2, type="email"))
    asyncio.run(big.add_pending(url, pending - pending // 2, type="report", queue="reports"))
    asyncio.run(big.add_pending(url, scheduled, type="email", run_at=time.time() + big.DAY))
    big.add_finished(url, jobs - pending - scheduled, FINISHED, time.time())


@contextmanager
def serving(qm: QueueManager) -> Iterator[str]:
    """``noormme-queue serve``'s server (uvicorn on 127.0.0.1, the manager started by the
    app's lifespan) on its own event loop in a thread of this process: its base URL."""
    sock = bind("127.0.0.1", 0)
    loop = asyncio.new_event_loop()
    serve = http_server(qm, sock, log_level="warning", access_log=False)

    async def main() -> None:
        await serve()

    task = loop.create_task(main())

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(base + API + "/health").json()["data"]["started"]:
                break
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield base
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(timeout=60)
        sock.close()


@dataclass(frozen=True)
class Timed:
    seconds: list[float]
    """Wall clock of each call."""
    cpu: float
    """This process's CPU time per call (client and server, every thread), in seconds."""


def row(name: str, timed: Timed) -> None:
    median, p99, worst = big.timings_ms(timed.seconds)
    verdict = "ok" if p99 <= TARGET_MS else "OVER"
    print(
        f"  {name:<44} median {median:7.2f} ms  p99 {p99:7.2f} ms  max {worst:7.2f} ms  "
        f"CPU {timed.cpu * 1000:6.2f} ms/call  [{verdict}]",
        flush=True,
    )


async def timed(samples: int, call: Callable[[], Awaitable[object]]) -> Timed:
    for _ in range(5):  # warm-up: connections, caches
        await call()
    seconds = []
    cpu = time.process_time()
    for _ in range(samples):
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return Timed(seconds, (time.process_time() - cpu) / samples)


def measure(url: str, samples: int) -> None:
    qm = postgres.manager(url)
    with serving(qm) as base:
        loop = qm.loop
        assert loop is not None
        # get_stats() itself, on the manager's own loop
        stats = asyncio.run_coroutine_threadsafe(timed(samples, qm.get_stats), loop).result()
        counts = asyncio.run_coroutine_threadsafe(qm.get_stats(), loop).result()
        print(f"  table: {counts}")
        row("get_stats()", stats)

        async def client() -> None:
            async with httpx.AsyncClient(base_url=base + API, timeout=30) as http:

                async def get(path: str) -> None:
                    response = await http.get(path)
                    assert response.status_code == 200, (path, response.text[:200])

                for path in PAGES + POLL:
                    row(f"GET {path}", await timed(samples, lambda p=path: get(p)))  # type: ignore[misc]

                async def poll() -> None:
                    await asyncio.gather(*(get(p) for p in POLL))

                row("dashboard poll (the 4 at once)", await timed(samples, poll))
                print("  filters (not polled unless set on the dashboard):", flush=True)
                for path in FILTERS:
                    row(f"GET {path}", await timed(max(5, samples // 10), lambda p=path: get(p)))  # type: ignore[misc]

        asyncio.run(client())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=fresh.DEFAULT_URL, help="PostgreSQL server")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--backends", default=",".join(big.BACKENDS))
    parser.add_argument("--quick", action="store_true", help="100,000 jobs, 50 samples")
    args = parser.parse_args()
    big.exit_on_sigterm()
    jobs, samples = (100_000, 50) if args.quick else (args.jobs, args.samples)
    print(
        f"noormme-queue monitoring reads with {jobs:,} jobs; python {sys.version.split()[0]}; "
        f"{samples} samples each (target p99 <= {TARGET_MS:.0f} ms)"
    )
    for backend in args.backends.split(","):
        with big.fresh(backend, args.url) as url:
            started = time.perf_counter()
            fill(url, jobs)
            print(f"\n{backend} (filled in {time.perf_counter() - started:.0f} s):", flush=True)
            measure(url, samples)


if __name__ == "__main__":
    main()
