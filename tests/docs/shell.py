"""Run the shell blocks (``bash``, ``sh``, ``shell``, ``console``) of one page, for real.

All shell blocks of a page run in order in one temporary directory, against one SQLite queue
database (``QUEUE_DATABASE_URL``) and with ``QUEUE_API_TOKEN`` set. Each block is a bash
script run with ``set -eo pipefail``: any failing command fails the test. Two commands are
wrapped (shell functions defined before the block):

``curl``
    ``curl --fail-with-body -sS``: an HTTP error answer fails the block too.
``noormme-queue``
    the real command line (tests/docs/command.py). ``worker`` and ``serve`` run until ready
    (serve: on a free port, its ``/health`` answers 200), then get SIGTERM and must exit 0.

A ``console`` block is a list of ``$ command`` lines, each followed by the output it shows
(stdout and stderr, tables as on a 160-column terminal); each command runs, and its output
must match the shown one loosely: runs of digits match any digits, job and worker ids any id,
runs of spaces any spaces, ``...`` or ``…`` any text (a line of only ``...`` any lines). A
command shown without output is not compared. A command must exit 0, unless the page shows
it fail: ``$ echo $?`` right below it, showing the non-zero status.

``<!-- run: ... -->`` above a shell block names what it needs first (once per page):

``serve``
    a ``noormme-queue serve`` (the demo) for the rest of the page; ``http://127.0.0.1:8000``
    in the blocks becomes its address. A block that names that address gets it unasked.
``job=pending|cancelled``
    a job of type ``docs-example`` (no handler runs it) in that state; the placeholder
    ``job_01J...`` (any ``job_01J`` followed by ``...``) in the blocks becomes its id.
``app=module:attr``
    writes ``module.py`` in the directory with ``attr``, a manager configured from the
    environment, for ``--app``.
``schedule=NAME``
    a schedule NAME of type ``digest`` (cron ``30 2 * * *``, Europe/Paris) that ran once.
``state=refused-email``
    a state made by tests/docs/states.py (there: an e-mail a real SMTP server refused, then a
    report due in an hour).
``database=NAME``
    from this block on, a new database (``data/NAME.db``) for the blocks and the setups
    after it (a ``serve`` started before keeps the first one).
``queues``
    three queues with a job each: ``default`` (type ``echo``), ``emails`` (paused) and
    ``reports`` (type ``report``, ``concurrency_limit=2, rate_limit="30/minute"``), their
    types stored by a worker.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from noormme_queue import QueueConfig, QueueManager

from .blocks import ROOT, SHELL, Block, DocError, parse, parse_setups

TIMEOUT = 60.0
PLACEHOLDER_JOB = re.compile(r"job_01J\w*\.\.\.")
DOCUMENTED_URL = "http://127.0.0.1:8000"
TOKEN = "docs-token-5bd1a7"
PRELUDE = """\
set -eo pipefail
curl() { command curl --fail-with-body -sS "$@"; }
noormme-queue() { "$DOCS_PYTHON" -m tests.docs.command "$@"; }
"""
WORKER_ID = r"[\w.-]+:\d+:[0-9a-f]{6}"  # host:pid:random, as workers name themselves
STATUS = "echo $?"  # in a console block, shows the exit status of the command above
COLUMNS = 160  # tables print as on a wide terminal, as the pages show them
CLEAN = ("QUEUE_", "EMAIL_", "IMAGE_")
SETUP_NAMES = {"serve", "job", "app", "schedule", "queues", "state", "database"}


def opt_out(block: Block) -> str | None:
    """The block's ``not-run`` reason, or None; a not-run without a reason is an error."""
    kinds = {k for k, _ in block.directives}
    if "not-run" not in kinds:
        return None
    (reason,) = block.directive("not-run")
    if kinds != {"not-run"} or not reason:
        raise DocError(f"{block.where}: not-run needs a reason and nothing else")
    return reason


def shell_blocks(page: Path) -> list[Block]:
    return [b for b in parse(page) if b.lang in SHELL and opt_out(b) is None]


@dataclass
class Command:
    line: int
    text: str
    shown: list[str] = field(default_factory=list)


def console_commands(block: Block) -> list[Command]:
    """A console block's ``$ `` commands, each with the output shown under it."""
    commands: list[Command] = []
    for offset, text in enumerate(block.code.splitlines()):
        if text.startswith("$ "):
            commands.append(Command(block.line + offset, text[2:]))
        elif not commands:
            raise DocError(f"{block.where}: a console block starts with a '$ ' command")
        else:
            commands[-1].shown.append(text)
    return commands


def line_pattern(shown: str) -> re.Pattern[str]:
    out = []
    for piece in re.split(rf"(\.\.\.|…|job_\w+|{WORKER_ID}|\d+|\s+)", shown.rstrip()):
        if piece in ("...", "…"):
            out.append(".*?")
        elif piece.startswith("job_"):
            out.append(r"job_\w+")
        elif re.fullmatch(WORKER_ID, piece):
            out.append(WORKER_ID)
        elif piece.isdigit():
            out.append(r"\d+")
        elif piece.isspace():
            out.append(r"\s+")
        else:
            out.append(re.escape(piece))
    return re.compile("".join(out))


def compare(shown: list[str], actual: str) -> bool:
    lines = [line for line in actual.splitlines() if line.strip()]
    wanted = [line for line in shown if line.strip()]
    return _match(wanted, lines)


def _match(shown: list[str], actual: list[str]) -> bool:
    if not shown:
        return not actual
    head = shown[0]
    if head.strip() in ("...", "…"):
        return any(_match(shown[1:], actual[i:]) for i in range(len(actual) + 1))
    return (
        bool(actual)
        and bool(line_pattern(head).fullmatch(actual[0].rstrip()))
        and _match(shown[1:], actual[1:])
    )


class ShellPage:
    """One page's shell blocks, run in order in ``tmp``."""

    def __init__(self, page: Path, tmp: Path) -> None:
        self.page = page
        self.workdir = tmp / "work"
        self.workdir.mkdir(parents=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(CLEAN)}
        self.env |= {
            "QUEUE_DATABASE_URL": f"sqlite:///{self.workdir / 'data' / 'queue.db'}",
            "QUEUE_API_TOKEN": TOKEN,
            "DOCS_PYTHON": sys.executable,
            "COLUMNS": str(COLUMNS),
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(self.workdir)]),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self.replace: dict[str, str] = {}
        self.server: subprocess.Popen[bytes] | None = None
        self.server_log = tmp / "serve.log"
        self.done: set[str] = set()

    # -- setups ---------------------------------------------------------------------------

    def manager(self) -> QueueManager:
        return QueueManager(
            QueueConfig(database_url=self.env["QUEUE_DATABASE_URL"]), builtins=False
        )

    def setup(self, name: str, arg: str, where: str) -> None:
        if f"{name}={arg}" in self.done:
            return
        self.done.add(f"{name}={arg}")
        if name == "serve":
            self.start_server()
        elif name == "job":
            if arg not in ("pending", "cancelled"):
                raise DocError(f"{where}: job=pending or job=cancelled, not {arg!r}")
            qm = self.manager()
            try:
                job_id = qm.sync.add_job("docs-example", {"n": 1})
                if arg == "cancelled":
                    assert qm.sync.cancel_job(job_id)
            finally:
                qm.sync.close()
            self.replace["job"] = job_id
        elif name == "app":
            module, _, attr = arg.partition(":")
            if not re.fullmatch(r"[\w.]+", module) or not attr.isidentifier():
                raise DocError(f"{where}: app=module:attr, not {arg!r}")
            target = self.workdir / (module.replace(".", "/") + ".py")
            target.parent.mkdir(parents=True, exist_ok=True)
            for package in target.relative_to(self.workdir).parents:
                if package != Path("."):
                    (self.workdir / package / "__init__.py").touch()
            target.write_text(
                "from noormme_queue import QueueConfig, QueueManager\n"
                f"{attr} = QueueManager(QueueConfig.from_env())\n"
            )
        elif name == "schedule":
            self.make_schedule(arg)
        elif name == "queues":
            self.make_queues()
        elif name == "database":
            if not re.fullmatch(r"[\w-]+", arg):
                raise DocError(f"{where}: database=NAME, a plain name, not {arg!r}")
            self.env["QUEUE_DATABASE_URL"] = f"sqlite:///{self.workdir / 'data' / arg}.db"
        elif name == "state":
            subprocess.run(
                [sys.executable, "-m", "tests.docs.states", arg],
                cwd=self.workdir,
                env=self.env,
                timeout=TIMEOUT,
                check=True,
            )
        else:
            raise DocError(f"{where}: no shell setup named {name!r}: {sorted(SETUP_NAMES)}")

    def make_queues(self) -> None:
        async def go() -> None:
            worker = self.manager()
            worker.register_handler("echo", lambda job: None)
            worker.register_handler(
                "report",
                lambda job: None,
                queue="reports",
                concurrency_limit=2,
                rate_limit="30/minute",
            )
            async with worker:  # a started worker stores the types it registered
                pass
            qm = self.manager()
            try:
                await qm.add_job("echo", {}, delay=3600)
                await qm.add_job("email", {}, queue="emails")
                await qm.add_job("report", {}, queue="reports", delay=3600)
                assert await qm.pause_queue("emails")
            finally:
                await qm.stop()

        asyncio.run(go())

    def make_schedule(self, name: str) -> None:
        from .support import drain

        async def go() -> None:
            qm = self.manager()
            qm.register_handler("digest", lambda job: None)
            async with qm:
                await qm.schedule(name, "digest", cron="30 2 * * *", timezone="Europe/Paris")
                assert await qm.run_schedule_now(name)
                await drain(qm)

        asyncio.run(go())

    def start_server(self) -> None:
        from .command import served_url, wait_healthy

        with self.server_log.open("wb") as log:
            self.server = subprocess.Popen(
                [sys.executable, "-m", "noormme_queue", "serve", "--port", "0"],
                cwd=self.workdir,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        url = served_url(self.server, self.server_log)
        wait_healthy(url, self.server, self.server_log)
        self.replace[DOCUMENTED_URL] = url

    def stop_server(self) -> None:
        if self.server is None:
            return
        self.server.send_signal(signal.SIGTERM)
        try:
            code = self.server.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
            raise AssertionError(f"{self.page}: serve did not stop on SIGTERM") from None
        log = self.server_log.read_text(errors="replace")
        assert code == 0, f"{self.page}: serve exited {code}\n{log}"

    # -- running --------------------------------------------------------------------------

    def swap(self, code: str) -> str:
        if "job" in self.replace:
            code = PLACEHOLDER_JOB.sub(self.replace["job"], code)
        for old, new in self.replace.items():
            if old != "job":
                code = code.replace(old, new)
        return code

    def bash(self, code: str, where: str, *, merged: bool = False, fails: bool = False) -> str:
        """Run ``code``; return its output (stdout, or stdout and stderr as a terminal shows
        them when ``merged``). It must exit 0, or non-zero when ``fails``: then the output
        ends with its exit status."""
        try:
            done = subprocess.run(
                ["bash", "-c", PRELUDE + self.swap(code)],
                cwd=self.workdir,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if merged else subprocess.PIPE,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{where} did not finish in {TIMEOUT}s") from None
        if (done.returncode != 0) != fails:
            raise AssertionError(
                f"{where} exited {done.returncode}"
                f"{' (the page shows it fail)' if fails else ''}\n--- script\n{self.swap(code)}\n"
                f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
            )
        return f"{done.stdout}{done.returncode}\n" if fails else done.stdout

    def run_block(self, block: Block) -> None:
        for text in block.directive("run"):
            for wanted in parse_setups(text, block.where):
                self.setup(wanted.name, wanted.arg, block.where)
        if DOCUMENTED_URL in block.code:
            self.setup("serve", "", block.where)
        if set(k for k, _ in block.directives) - {"run"}:
            raise DocError(f"{block.where}: shell blocks take run: or not-run: only")
        if block.lang != "console":
            self.bash(block.code, block.where)
            return
        commands = console_commands(block)
        for i, command in enumerate(commands):
            if command.text.strip() == STATUS:
                continue  # shown with the command before it
            where = f"{block.page.name}:{command.line}"
            status = commands[i + 1] if i + 1 < len(commands) else None
            fails = status is not None and status.text.strip() == STATUS and status.shown != ["0"]
            out = self.bash(command.text, where, merged=True, fails=fails)
            shown = command.shown + (status.shown if fails and status is not None else [])
            if shown and not compare(shown, out):
                raise AssertionError(
                    f"{where}: `{command.text}` printed\n{out}\n--- the page shows\n"
                    + "\n".join(shown)
                )

    def run(self) -> None:
        try:
            for block in shell_blocks(self.page):
                self.run_block(block)
        except BaseException:
            self.kill_server()
            raise
        self.stop_server()

    def kill_server(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.kill()
            self.server.wait()
