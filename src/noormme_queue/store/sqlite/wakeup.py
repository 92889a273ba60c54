"""Cross-process wake-ups for workers sharing one SQLite file.

SQLite has no LISTEN/NOTIFY, and polling fast enough for millisecond
latency would burn CPU in every idle worker. Instead each worker binds a
datagram socket in Linux's abstract namespace (no file to clean up) and
registers its name in the ``noormme_listeners`` table; after committing new
work, a producer sends one byte to each registered name. An idle worker
sleeps in the event loop's ``select`` and costs nothing. A name whose worker
died answers ``ECONNREFUSED`` at once and is dropped from the table.

Elsewhere than Linux the bus is off and workers find other processes' jobs
by polling every ``QUEUE_INTERVAL``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import threading
import uuid
from collections.abc import Callable

log = logging.getLogger("noormme_queue.store")


def supported() -> bool:
    return sys.platform.startswith("linux")


class WakeupBus:
    def __init__(self) -> None:
        self._sender: socket.socket | None = None
        self._targets: list[str] = []
        self._dead: set[str] = set()
        self._own: set[str] = set()
        self._lock = threading.Lock()

    # -- producer side (the writer thread) -------------------------------------------------------

    def set_targets(self, names: list[str]) -> None:
        with self._lock:
            self._targets = [n for n in names if n not in self._own]

    def take_dead(self) -> list[str]:
        with self._lock:
            dead, self._dead = list(self._dead), set()
        return dead

    def nudge(self) -> None:
        """Send one byte to every other listener; never blocks."""
        if not supported():
            return
        with self._lock:  # the writer thread and an event loop may both be committing
            targets = list(self._targets)
            if not targets:
                return
            if self._sender is None:
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
            sender = self._sender
        for name in targets:
            try:
                sender.sendto(b"!", _address(name))
            except BlockingIOError:
                pass  # its queue is full of nudges already: it is awake
            except (ConnectionRefusedError, FileNotFoundError):
                with self._lock:
                    self._dead.add(name)
                    if name in self._targets:
                        self._targets.remove(name)
            except OSError as exc:
                log.debug("wake-up to %s failed: %s", name, exc)

    def close(self) -> None:
        with self._lock:
            sender, self._sender = self._sender, None
        if sender is not None:
            sender.close()

    # -- listener side (a worker's event loop) ---------------------------------------------------

    def listen(self, callback: Callable[[], None]) -> Listener | None:
        if not supported():
            return None
        listener = Listener(callback)
        with self._lock:
            self._own.add(listener.name)
        return listener

    def forget(self, listener: Listener) -> None:
        with self._lock:
            self._own.discard(listener.name)


class Listener:
    """One bound socket; wakes ``callback`` on the loop that created it."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self.name = f"noormme-queue-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(_address(self.name))
        self._sock.setblocking(False)
        self._loop = asyncio.get_running_loop()
        self._callback = callback
        self._loop.add_reader(self._sock.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        # Drain every pending nudge: many enqueues while busy mean one claim, not many.
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while True:
                self._sock.recv(64)
        self._callback()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()


def _address(name: str) -> str:
    return "\0" + name  # Linux abstract namespace
