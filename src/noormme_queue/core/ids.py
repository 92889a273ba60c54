"""Job ids: ``job_`` + 26 Crockford base32 characters, unique across processes and backends,
sortable by creation time."""

from __future__ import annotations

import os
import threading
import time

# "job_" + 26 Crockford base32 characters: 48 bits of milliseconds, then 80 bits that start at a
# random value drawn once per process and count up by one per id. Within one process ids are
# strictly increasing, so they sort by creation time; across processes the random starts keep
# them apart (two processes would need to land within 2**40 counts of each other in the same
# millisecond). Drawing randomness once keeps new_job_id() off the syscall path.

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]  # 10 bits -> two characters
_RANDOM_MASK = (1 << 80) - 1
_id_lock = threading.Lock()
_last_ms = 0
_counter = int.from_bytes(os.urandom(10), "big")
_prefix = ""  # "job_" and the characters of _last_ms


def new_job_id() -> str:
    global _last_ms, _counter, _prefix
    with _id_lock:
        ms = max(time.time_ns() // 1_000_000, _last_ms)  # never backwards, even if the clock is
        if ms != _last_ms or not _prefix:
            _prefix = "job_" + _encode(ms, 50)  # 2 zero bits, then 48 of milliseconds
            _last_ms = ms
        _counter = (_counter + 1) & _RANDOM_MASK
        counter, prefix = _counter, _prefix
    return prefix + _encode(counter, 80)


def _encode(value: int, bits: int) -> str:
    """``bits`` (a multiple of 10) of ``value``, two characters per 10 bits, highest first."""
    pairs = _PAIRS
    return "".join(pairs[(value >> shift) & 1023] for shift in range(bits - 10, -10, -10))


def _reseed_after_fork() -> None:
    global _counter
    _counter = int.from_bytes(os.urandom(10), "big")  # a forked child must not repeat ids


os.register_at_fork(after_in_child=_reseed_after_fork)
