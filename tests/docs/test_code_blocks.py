"""Every Python code block of README.md and docs/ runs as written (see tests/docs/blocks.py for
the comments that tell a block what it needs), so the docs cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest

from .blocks import PYTHON, Program, all_programs, pages, parse, programs
from .runner import run_program

PROGRAMS, OPTED_OUT = all_programs()
MOST_OPT_OUTS = 6  # 4: the code the migration guides replace (other libraries)


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.id)
def test_the_block_runs(program: Program, tmp_path: Path) -> None:
    run_program(program, tmp_path)


def test_every_python_block_runs_or_says_why_not() -> None:
    blocks = [b for page in pages() for b in parse(page) if b.lang in PYTHON]
    assert len(blocks) >= 25  # the pages were found
    accounted = {b.where for program in PROGRAMS for b in program.blocks}
    accounted |= {b.where for b in OPTED_OUT}
    assert [b.where for b in blocks if b.where not in accounted] == []
    assert len(OPTED_OUT) <= MOST_OPT_OUTS, [b.where for b in OPTED_OUT]
    assert all(b.directive("not-run")[0] for b in OPTED_OUT)


def page(tmp_path: Path, text: str) -> list[Program]:
    path = tmp_path / "page.md"
    path.write_text(text)
    found, _ = programs(path)
    return found


def test_a_block_that_raises_fails_with_its_line(tmp_path: Path) -> None:
    (program,) = page(tmp_path, "# t\n\n```python\nx = 1\nraise RuntimeError('boom')\n```\n")
    with pytest.raises(AssertionError, match=r"(?s)page\.md\", line 5.*RuntimeError: boom"):
        run_program(program, tmp_path)


def test_a_block_that_leaves_due_jobs_fails(tmp_path: Path) -> None:
    text = """\
```python
import asyncio
from noormme_queue import QueueConfig, QueueManager

async def main() -> None:
    qm = QueueManager(QueueConfig.from_env())
    qm.register_handler("thing", lambda job: None)
    await qm.add_job("thing", {})  # never started: the job is still due when it exits
    await qm.stop()

asyncio.run(main())
```
"""
    (program,) = page(tmp_path, text)
    with pytest.raises(AssertionError, match=r"left jobs undone: .*thing pending"):
        run_program(program, tmp_path)


def test_top_level_await_runs_and_continues_joins(tmp_path: Path) -> None:
    text = """\
<!-- run: qm unhandled=thing -->
```python
job_id = await qm.add_job("thing", {"n": 1})
```

<!-- continues -->
```python
print("added", job_id.startswith("job_"))
```
"""
    (program,) = page(tmp_path, text)
    assert "added True" in run_program(program, tmp_path / "a")
    # `thing` has no handler: its job waits, which the check refuses unless told.
    (strict,) = page(tmp_path, text.replace(" unhandled=thing", ""))
    with pytest.raises(AssertionError, match=r"left jobs undone: .*thing pending"):
        run_program(strict, tmp_path / "b")
