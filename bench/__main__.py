"""Run every benchmark: ``python -m bench`` (what ``python3 scripts/dev.py bench`` runs)."""

from __future__ import annotations

import subprocess
import sys


def main() -> int:
    status = 0
    for module in ("bench.persistent", "bench.postgres", "bench.bench_memory"):
        print(f"\n=== {module} ===", flush=True)
        status |= subprocess.run(
            [sys.executable, "-m", module, *sys.argv[1:]], check=False
        ).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
