#!/usr/bin/env python3
"""Set up the project's virtualenv and run one of its jobs. Needs only Python 3.11+.

python3 scripts/dev.py serve   # the queue service on the SQLite default
python3 scripts/dev.py test    # lint, types and the whole test suite
python3 scripts/dev.py bench   # the benchmarks (see docs/benchmarks.md)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def run(*cmd: str | Path, check: bool = True) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], cwd=ROOT, check=check).returncode


def ensure_venv(extras: str) -> None:
    """Create .venv and install the project, again only when pyproject.toml changes."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be run by an old python3
        sys.exit("noormme-queue needs Python 3.11 or newer")
    if not PY.exists():
        run(sys.executable, "-m", "venv", VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    stamp = VENV / f".installed-{extras.replace(',', '-')}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PY, "-m", "pip", "install", "--quiet", "-e", f".[{extras}]")
    stamp.write_text(digest)


def ensure_chromium() -> None:
    """The browser test drives Debian's chromium (Playwright's own download is unavailable)."""
    if shutil.which("chromium"):
        return
    if not shutil.which("apt-get"):
        sys.exit("the dashboard test needs chromium on PATH; install it with your package manager")
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if getattr(os, "geteuid", lambda: 0)() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "update"], cwd=ROOT, check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "chromium"], cwd=ROOT, check=True, env=env)


def start_services() -> None:
    """Start (or install) what the tests talk to when this machine lacks it or it is down."""
    ensure_chromium()
    if shutil.which("pg_ctlcluster") and Path("/etc/postgresql").is_dir():
        probe = subprocess.run(
            ["pg_isready", "-h", "127.0.0.1", "-p", "5432"], capture_output=True, check=False
        )
        if probe.returncode != 0:
            for version in sorted(os.listdir("/etc/postgresql")):
                run(
                    "pg_ctlcluster",
                    "--skip-systemctl-redirect",
                    version,
                    "main",
                    "start",
                    check=False,
                )


def main(argv: list[str]) -> int:
    job = argv[0] if argv else "help"
    rest = argv[1:]
    if job == "serve":
        ensure_venv("all")
        os.execv(BIN / "noormme-queue", [str(BIN / "noormme-queue"), "serve", *rest])
    if job == "test":
        ensure_venv("dev")
        start_services()
        run(BIN / "ruff", "check", "src", "tests", "bench", "scripts", "examples")
        run(BIN / "ruff", "format", "--check", "src", "tests", "bench", "scripts", "examples")
        run(BIN / "mypy")
        return run(PY, "-m", "pytest", *rest, check=False)
    if job == "bench":
        ensure_venv("dev,bench")
        start_services()  # the PostgreSQL figures need the server
        return run(PY, "-m", "bench", *rest, check=False)
    print(__doc__)
    return 0 if job == "help" else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
