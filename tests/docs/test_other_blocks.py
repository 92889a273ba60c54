"""Every code block of README.md and docs/ is checked in the way its language allows (Python
blocks: test_code_blocks.py): shell blocks run for real (tests/docs/shell.py), data blocks
are parsed (tests/docs/data.py), and a block of no or an unknown language fails, so no page
can slip by. A block that cannot run says why in ``<!-- not-run: reason -->``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .blocks import DATA, LANGUAGES, PYTHON, SHELL, TEXT, Block, DocError, pages, parse
from .data import check
from .shell import ShellPage, compare, console_commands, opt_out

BLOCKS = [block for page in pages() for block in parse(page)]
SHELL_PAGES = [p for p in pages() if any(b.lang in SHELL and not opt_out(b) for b in parse(p))]
DATA_BLOCKS = [b for b in BLOCKS if b.lang in DATA and opt_out(b) is None]
# Blocks that cannot run: README's first two commands (CI runs them), `pip install`,
# benchmarks (minutes each), the other libraries' code in docs/migrating, and pictures or
# sample output in text blocks. Raise it only for a block that truly cannot be checked.
MOST_OPT_OUTS = 34  # 31 today, 12 of them benchmark commands (minutes each; they measure)


def test_every_block_has_a_known_language() -> None:
    assert len(BLOCKS) >= 80  # the pages were found
    unknown = [f"{b.where} ({b.lang or 'no language'})" for b in BLOCKS if b.lang not in LANGUAGES]
    assert unknown == [], f"give each block one of {sorted(LANGUAGES)}"


def test_every_opt_out_says_why_and_they_stay_few() -> None:
    reasons = {b.where: opt_out(b) for b in BLOCKS}
    skipped = {where: reason for where, reason in reasons.items() if reason is not None}
    assert all(len(reason) >= 10 for reason in skipped.values()), skipped
    assert len(skipped) <= MOST_OPT_OUTS, sorted(skipped)
    unchecked_text = [b.where for b in BLOCKS if b.lang in TEXT and reasons[b.where] is None]
    assert unchecked_text == [], "a text block is not checked: say why with not-run"


def test_python_blocks_that_do_not_run_still_parse() -> None:
    for block in BLOCKS:
        if block.lang in PYTHON and opt_out(block) is not None:
            ast.parse(block.code, filename=block.where)


@pytest.mark.parametrize("block", DATA_BLOCKS, ids=lambda b: b.where)
def test_the_data_block_parses(block: Block, tmp_path: Path) -> None:
    check(block, tmp_path)


@pytest.mark.parametrize("page", SHELL_PAGES, ids=lambda p: p.name)
def test_the_shell_blocks_run(page: Path, tmp_path: Path) -> None:
    ShellPage(page, tmp_path).run()


# -- the checks themselves ------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "page.md"
    path.write_text(text)
    return path


def test_a_block_without_a_language_is_found(tmp_path: Path) -> None:
    (block,) = parse(write(tmp_path, "# t\n\n```\nnoormme-queue stats\n```\n"))
    assert block.lang == "" and block.lang not in LANGUAGES


def test_a_failing_command_or_http_error_fails_the_page(tmp_path: Path) -> None:
    page = write(tmp_path, "```bash\ncurl http://127.0.0.1:8000/nope\n```\n")
    with pytest.raises(AssertionError, match=r"page\.md:2 exited 22"):
        ShellPage(page, tmp_path / "a").run()
    page = write(tmp_path, "```bash\nnoormme-queue jobs show job_nope\n```\n")
    with pytest.raises(AssertionError, match=r"exited 1"):
        ShellPage(page, tmp_path / "b").run()


def test_a_console_command_may_fail_where_the_page_shows_it(tmp_path: Path) -> None:
    shows_it = "```console\n$ noormme-queue jobs show job_nope\nerror: ...\n$ echo $?\n1\n```\n"
    ShellPage(write(tmp_path, shows_it), tmp_path / "a").run()
    hidden = "```console\n$ noormme-queue jobs show job_nope\nerror: ...\n```\n"
    with pytest.raises(AssertionError, match=r"exited 1"):
        ShellPage(write(tmp_path, hidden), tmp_path / "b").run()
    wrong = "```console\n$ noormme-queue --version\n...\n$ echo $?\n1\n```\n"
    with pytest.raises(AssertionError, match=r"exited 0 \(the page shows it fail\)"):
        ShellPage(write(tmp_path, wrong), tmp_path / "c").run()


def test_console_output_is_compared_loosely(tmp_path: Path) -> None:
    shown = ["name  total", "jobs   12  at 2030-01-01 ...", "...", "end"]
    assert compare(shown, "name    total\njobs 3 at 1999-12-31 09:00 UTC\nx\ny\nend\n")
    assert not compare(shown, "name total\njobs 3 at 1999-12-31\n")  # no end
    assert not compare(["total 1"], "count 1\n")
    page = write(tmp_path, "```console\n$ noormme-queue --version\nnoormme-queue 9\n```\n")
    (block,) = parse(page)
    assert [c.shown for c in console_commands(block)] == [["noormme-queue 9"]]
    with pytest.raises(AssertionError, match=r"--- the page shows\nnoormme-queue 9"):
        ShellPage(page, tmp_path / "c").run()


def test_a_bad_json_block_fails(tmp_path: Path) -> None:
    (block,) = parse(
        write(tmp_path, '<!-- schema: EnqueueRequest -->\n```json\n{"payload": {}}\n```\n')
    )
    with pytest.raises(ValueError, match="type"):
        check(block, tmp_path)
    doc = '{"success": true, "data": {"queues": [{"nmae": "x", "...": 0}]}}'
    (block,) = parse(write(tmp_path, f"<!-- schema: Ok[QueueList] -->\n```json\n{doc}\n```\n"))
    with pytest.raises(AssertionError, match=r"nmae: not a field of QueueOut"):
        check(block, tmp_path)
    (block,) = parse(write(tmp_path, '```json\n{"a": {...}}\n```\n'))
    with pytest.raises(AssertionError, match="not JSON"):
        check(block, tmp_path)


def test_sql_runs_on_the_queue_schema(tmp_path: Path) -> None:
    (block,) = parse(
        write(tmp_path, "```sql\nSELECT id FROM noormme_jobs WHERE status = 'x';\n```\n")
    )
    check(block, tmp_path / "a")
    (block,) = parse(write(tmp_path, "```sql\nSELECT nowhere FROM noormme_jobs;\n```\n"))
    with pytest.raises(AssertionError, match="no such column"):
        check(block, tmp_path / "b")
    (block,) = parse(write(tmp_path, "<!-- run: nowhere -->\n```sql\nSELECT 1;\n```\n"))
    with pytest.raises(DocError):
        check(block, tmp_path / "c")
