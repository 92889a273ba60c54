"""Run every benchmark: ``python -m bench`` (what ``python3 scripts/dev.py bench`` runs)."""

from __future__ import annotations

import subprocess
import sys


def main() -> int:
    status = 0
    # --quick (smaller runs) applies to the persistent-tier benchmarks.
    runs = [
        ["bench.persistent", *sys.argv[1:]],
        ["bench.postgres", *sys.argv[1:]],  # and the PostgreSQL peers
        ["bench.limits"],
        ["bench.bench_memory"],
    ]
    for module, *args in runs:
        print(f"\n=== {module} ===", flush=True)
        status |= subprocess.run([sys.executable, "-m", module, *args], check=False).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
