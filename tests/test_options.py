"""Job options are defined once (core/options.py JobOptions); every face is checked here
against that definition, so a new option cannot be forgotten anywhere."""

from __future__ import annotations

import inspect
import re
import typing
from dataclasses import MISSING, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

from noormme_queue import QueueConfig, QueueManager, RetryPolicy
from noormme_queue.core.options import AddJobOptions, JobOptions, option_docs, option_names
from noormme_queue.sync import SyncQueueManager

ROOT = Path(__file__).resolve().parent.parent


def _defaults() -> dict[str, object]:
    return {f.name: f.default for f in fields(JobOptions) if f.default is not MISSING}


def test_every_option_has_a_default_and_a_doc() -> None:
    assert set(_defaults()) == set(option_names())
    assert all(option_docs()[name] for name in option_names())


# add_job's keywords that are not job options: how to write, and who enqueues (the first
# event of its timeline).
NOT_OPTIONS = ("connection", "by")


def test_add_job_takes_exactly_the_options_with_their_types_and_defaults() -> None:
    params = inspect.signature(QueueManager.add_job).parameters
    keywords = {n: p for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert tuple(keywords) == (*option_names(), *NOT_OPTIONS)
    for name in NOT_OPTIONS:
        assert keywords.pop(name).default is None
        assert name not in option_names()
    types = {f.name: f.type for f in fields(JobOptions)}
    for name, param in keywords.items():
        assert param.default == _defaults()[name], name
        assert param.annotation == types[name], name


def test_the_sync_twin_passes_the_same_options_on() -> None:
    hints = typing.get_type_hints(AddJobOptions)
    assert tuple(hints) == option_names()
    params = inspect.signature(SyncQueueManager.add_job).parameters
    assert params["options"].kind is inspect.Parameter.VAR_KEYWORD
    for name in NOT_OPTIONS:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert "Unpack[AddJobOptions]" in str(params["options"].annotation)


def test_the_sync_twin_really_applies_each_option(tmp_path: Path) -> None:
    qm = QueueManager(QueueConfig(database_url=f"sqlite:///{tmp_path / 'q.db'}"))
    when = datetime.now(UTC) + timedelta(hours=1)
    try:
        job_id = qm.sync.add_job(
            "t",
            {},
            priority=7,
            run_at=when,
            retry_policy=RetryPolicy(max_retries=4),
            unique_key="k",
            timeout=9.0,
        )
        job = qm.sync.get_job(job_id)
        assert job is not None
        assert (job.priority, job.max_attempts, job.unique_key, job.timeout) == (7, 5, "k", 9.0)
        assert abs(job.run_at.timestamp() - when.timestamp()) < 1e-5
        other = qm.sync.add_job("t", {}, delay=60.0, max_attempts=2)
        again = qm.sync.get_job(other)
        assert again is not None and again.max_attempts == 2
        assert again.run_at > again.created_at + timedelta(seconds=59)
    finally:
        qm.sync.close()


def test_the_api_docs_table_lists_exactly_the_options() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    table = text.split("Options, every one optional", 1)[1].split("\n\n", 2)[1]
    names = re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE)
    assert tuple(names) == option_names()


def test_from_mapping_knows_the_same_names() -> None:
    everything = dict.fromkeys(option_names())
    everything["priority"] = 0
    assert JobOptions.from_mapping(everything) == JobOptions()


def test_schedule_takes_the_same_options_in_both_faces() -> None:
    # A schedule's jobs get add_job's options: a new option reaches schedule() on its own.
    for method in (QueueManager.schedule, SyncQueueManager.schedule):
        params = inspect.signature(method).parameters
        assert params["options"].kind is inspect.Parameter.VAR_KEYWORD
        assert "Unpack[AddJobOptions]" in str(params["options"].annotation)
