"""``noormme-queue`` as a documentation shell block runs it: ``python -m tests.docs.command ARGS``.

Commands that end by themselves run the real command line in this process. ``worker`` and
``serve`` run until a signal, so they run in a child process until ready (worker: it logged
``queue started``; serve: its ``/health`` answers 200, on a free port whatever ``--port``
says), then get SIGTERM and must exit 0. Their log is printed to stderr.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from tests import waiting

DEADLINE = 30.0
LONG_RUNNING = ("worker", "serve")


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"serve exited {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/api/queue/health", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    waiting.wait_for(healthy, DEADLINE, f"serve at {url} to answer /health", poll=0.05)


def served_url(process: subprocess.Popen[bytes], log: Path) -> str:
    """The address a ``serve`` on ``--port 0`` logged (``API at http://...``)."""
    pattern = re.compile(r"API at (http://\S+?)/api/queue")

    def logged() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"serve exited {process.returncode}:\n{log.read_text()}")
        return pattern.search(log.read_text(errors="replace")) is not None

    waiting.wait_for(logged, DEADLINE, "serve to log its address", poll=0.05)
    found = pattern.search(log.read_text(errors="replace"))
    assert found is not None
    return found.group(1)


def command_name(args: list[str]) -> str | None:
    """The subcommand: the first word that is not an option or an option's value."""
    takes_value = {"--app", "--database-url"}
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in takes_value:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def free_port_args(args: list[str]) -> list[str]:
    """``serve`` on any free port: ``--port N`` becomes ``--port 0`` (the log names it)."""
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--port":
            skip = True
            continue
        if arg.startswith("--port="):
            continue
        out.append(arg)
    return [*out, "--port", "0"]


def run_until_ready(name: str, args: list[str]) -> int:
    env = dict(os.environ)
    env.pop("QUEUE_PORT", None)
    if name == "serve":
        args = free_port_args(args)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "noormme_queue", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:

            def ready() -> bool:
                if process.poll() is not None:
                    return True
                return "queue started" in log.read_text(errors="replace")

            waiting.wait_for(ready, DEADLINE, f"{name} to start", poll=0.05)
            if process.poll() is None and name == "serve":
                wait_healthy(served_url(process, log), process, log)
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=DEADLINE)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            sys.stderr.write(log.read_text(errors="replace"))
    if code != 0:
        sys.stderr.write(f"noormme-queue {name} exited {code}\n")
    return code


def main() -> None:
    args = sys.argv[1:]
    name = command_name(args)
    if name in LONG_RUNNING:
        sys.exit(run_until_ready(name, args))
    from noormme_queue.cli import cli

    cli.main(args, prog_name="noormme-queue")


if __name__ == "__main__":
    main()
