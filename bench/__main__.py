"""Run every benchmark: ``python -m bench`` (what ``python3 scripts/dev.py bench`` runs)."""

from __future__ import annotations

import subprocess
import sys


def main() -> int:
    status = 0
    # --quick (smaller runs) applies to the persistent-tier benchmarks (bench.files: 1 minute).
    runs = [
        ["bench.persistent", *sys.argv[1:]],
        ["bench.postgres", *sys.argv[1:]],  # and the PostgreSQL peers
        ["bench.scale", *sys.argv[1:]],
        ["bench.monitoring", *sys.argv[1:]],
        ["bench.cleanup", *sys.argv[1:]],
        ["bench.files", *sys.argv[1:]],
        ["bench.limits"],
        ["bench.bench_memory"],
        ["bench.metrics"],  # one scrape over 1,000,000 jobs
    ]
    for module, *args in runs:
        print(f"\n=== {module} ===", flush=True)
        status |= subprocess.run([sys.executable, "-m", module, *args], check=False).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
