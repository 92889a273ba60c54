"""The peak resident memory of this process (for the worker processes' reports)."""

from __future__ import annotations


def peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")
