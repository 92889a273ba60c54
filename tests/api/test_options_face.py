"""The REST face of the job options follows their one definition, ``core.options.JobOptions``.

A new option added there fails these tests until the REST model, its conversion to
``add_job`` keywords and the options table of docs/api.md have it too.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from pydantic import AliasChoices
from pydantic.alias_generators import to_camel

from noormme_queue.api.models import JobOptionsIn, RetryPolicyIn
from noormme_queue.core.options import JobOptions, option_names
from noormme_queue.core.retry import RetryPolicy

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
# The documented extras: delayMs (delay in milliseconds) and the specification's scheduledAt.
EXTRA_FIELDS = {"delayMs"}
EXTRA_SPELLINGS = {"run_at": {"scheduledAt", "scheduled_at"}}


def _spellings(model: type[JobOptionsIn] | type[RetryPolicyIn], name: str) -> set[str]:
    alias = model.model_fields[name].validation_alias
    if alias is None:
        return {name}
    assert isinstance(alias, AliasChoices), (name, alias)
    return {choice for choice in alias.choices if isinstance(choice, str)}


def test_the_rest_model_has_exactly_the_job_options() -> None:
    assert set(JobOptionsIn.model_fields) - EXTRA_FIELDS == set(option_names())


def test_every_spelling_is_the_name_its_camel_case_or_a_documented_extra() -> None:
    for name in option_names():
        spellings = _spellings(JobOptionsIn, name)
        assert name in spellings, name
        assert spellings <= {name, to_camel(name)} | EXTRA_SPELLINGS.get(name, set()), name


def test_to_kwargs_gives_every_option_to_add_job() -> None:
    kwargs = JobOptionsIn.model_validate({"delayMs": 1500, "retryPolicy": {"maxRetries": 1}})
    converted = kwargs.to_kwargs()
    assert list(converted) == list(option_names())
    assert converted["delay"] == 1.5
    assert converted["retry_policy"] == {"max_retries": 1}
    JobOptions(**converted)  # the one definition takes them as they are


def test_the_rest_retry_policy_has_the_policys_fields() -> None:
    policy_fields = {f.name for f in fields(RetryPolicy)}
    assert set(RetryPolicyIn.model_fields) - {"baseDelay", "maxDelay"} == policy_fields
    for name in policy_fields:
        assert _spellings(RetryPolicyIn, name) <= {name, to_camel(name)}, name


def test_the_docs_table_lists_every_option_and_spelling() -> None:
    text = API_DOC.read_text(encoding="utf-8")
    table = text.split("Options, every one optional", 1)[1].split("\n\n", 2)[1]
    documented_names: set[str] = set()
    documented_spellings: set[str] = set()
    for row in table.splitlines()[2:]:
        cells = row.split("|")
        snake, camel = cells[1], cells[2]
        documented_names |= set(re.findall(r"`([^`]+)`", snake))
        documented_spellings |= set(re.findall(r"`([^`]+)`", snake + camel))
    assert documented_names == set(option_names())
    accepted = {s for name in JobOptionsIn.model_fields for s in _spellings(JobOptionsIn, name)}
    assert documented_spellings == accepted
