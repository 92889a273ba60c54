"""Run one program of documentation blocks in a fresh process and check what it left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from noormme_queue import JobStatus, QueueConfig, QueueManager

from .blocks import ROOT, Block, DocError, Program
from .setups import SETUPS, Run

DRIVER = Path(__file__).with_name("driver.py")
TIMEOUT = 90.0
CLEAN = ("QUEUE_", "EMAIL_", "IMAGE_")  # the block sees the documented defaults


def chunk(name: str, source: str, line: int = 1) -> dict[str, object]:
    return {"filename": name, "line": line, "source": source}


def swap(source: str, replace: dict[str, str]) -> str:
    for old, new in replace.items():
        source = source.replace(old, new)
    return source


def block_chunk(block: Block, replace: dict[str, str]) -> dict[str, object]:
    return chunk(str(block.page), swap(block.code, replace), block.line)


def leftover_jobs(url: str, unhandled: set[str]) -> list[str]:
    """What the program left undone: failed or processing jobs, jobs pending after a failed
    attempt, and jobs due now (unless their type has no handler in the example)."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite" and not Path(parsed.path).exists():
        return []  # the program used no queue database
    qm = QueueManager(QueueConfig(database_url=url, cleanup_interval=0), builtins=False)
    try:
        jobs = qm.sync.list_jobs(limit=10_000)
    finally:
        qm.sync.close()
    now = datetime.now(UTC)
    bad = []
    for job in jobs:
        retrying = job.status == JobStatus.PENDING and job.attempts > 0
        due = job.status == JobStatus.PENDING and job.run_at <= now
        if (
            job.status in (JobStatus.FAILED, JobStatus.PROCESSING)
            or retrying
            or (due and job.type not in unhandled)
        ):
            bad.append(f"{job.id} {job.type} {job.status.value} (error: {job.error})")
    return bad


def run_program(program: Program, tmp: Path) -> str:
    """Run ``program`` in a fresh interpreter in ``tmp/work``; return its output, or raise
    AssertionError saying what failed."""
    workdir = tmp / "work"
    workdir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEAN)}
    env["QUEUE_DATABASE_URL"] = f"sqlite:///{workdir / 'data' / 'queue.db'}"
    run = Run(workdir, env)
    with ExitStack() as stack:
        for wanted in program.setups:
            factory = SETUPS.get(wanted.name)
            if factory is None:
                raise DocError(f"{program.id}: no setup named {wanted.name!r}: {sorted(SETUPS)}")
            stack.enter_context(factory(run, wanted.arg))
        for path, block in program.files:
            target = workdir / path
            target.parent.mkdir(parents=True, exist_ok=True)
            for package in target.relative_to(workdir).parents:
                if package != Path(".") and not (workdir / package / "__init__.py").exists():
                    (workdir / package / "__init__.py").write_text("")
            target.write_text("\n" * (block.line - 1) + swap(block.code, run.replace))
        chunks = [chunk(f"<setup {name}>", source) for name, source in run.prelude]
        blocks = program.blocks
        if program.module is not None:
            chunks.append(chunk(f"<import {program.module}>", f"import {program.module}\n"))
            blocks = blocks[1:]
        chunks += [block_chunk(block, run.replace) for block in blocks]
        chunks += [chunk(f"<setup {name}>", source) for name, source in reversed(run.postlude)]
        spec = tmp / "program.json"
        sys_path = [str(workdir), str(ROOT)]
        spec.write_text(json.dumps({"chunks": chunks, "sys_path": sys_path}))
        try:
            done = subprocess.run(
                [sys.executable, "-W", "error", str(DRIVER), str(spec)],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            said = [
                s.decode(errors="replace") if isinstance(s, bytes) else s or ""
                for s in (exc.stdout, exc.stderr)
            ]
            raise AssertionError(
                f"{program.id} did not finish in {TIMEOUT}s\n--- stdout\n{said[0]}\n"
                f"--- stderr\n{said[1]}"
            ) from None
        output = f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        if done.returncode != 0:
            raise AssertionError(f"{program.id} failed (exit {done.returncode})\n{output}")
        left = leftover_jobs(run.env["QUEUE_DATABASE_URL"], run.unhandled)
        if left:
            raise AssertionError(f"{program.id} left jobs undone: {left}\n{output}")
    return output
