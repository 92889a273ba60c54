"""Run a worker process until SIGTERM or SIGINT.

The first signal stops gracefully (nothing new is claimed, in-flight jobs get
``QUEUE_SHUTDOWN_TIMEOUT``); a second one ends the grace period at once: the
unfinished jobs go back to ``pending`` and the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

from .manager import QueueManager, StopReport

log = logging.getLogger("noormme_queue.runner")


async def run_until_signalled(
    qm: QueueManager, *, also: Callable[[], Coroutine[Any, Any, None]] | None = None
) -> StopReport:
    """Start ``qm``, run (and ``also``, e.g. an HTTP server) until a signal, then stop."""
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    signals_seen = 0

    def on_signal(signum: int) -> None:
        nonlocal signals_seen
        signals_seen += 1
        name = signal.Signals(signum).name
        if signals_seen == 1:
            log.warning("%s received: stopping gracefully (send it again to stop now)", name)
            stop_requested.set()
        else:
            log.warning("%s received again: putting unfinished jobs back and exiting", name)
            qm.force_stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    await qm.start()
    extra = asyncio.create_task(also()) if also is not None else None
    try:
        waiters: list[asyncio.Task[Any]] = [asyncio.create_task(stop_requested.wait())]
        if extra is not None:
            waiters.append(extra)
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        waiters[0].cancel()
    finally:
        # Stop taking HTTP requests first, so none reopens the store after the manager stops.
        if extra is not None and not extra.done():
            extra.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await extra
        report = await qm.stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info(
        "stopped: %d job(s) put back to pending, %d in-memory item(s) dropped",
        report.released,
        report.memory_dropped,
    )
    return report
