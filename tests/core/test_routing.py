"""Queue names, QUEUE_QUEUES and rate limits: parsed once, refused with a clear reason."""

from __future__ import annotations

import pytest

from noormme_queue import ConfigError, InvalidJob
from noormme_queue.core.routing import (
    RateLimit,
    check_concurrency_limit,
    check_limit_key,
    check_queue_name,
    format_queues,
    parse_queues,
    parse_rate_limit,
)


@pytest.mark.parametrize("name", ["default", "emails", "reports.eu", "tenant:42", "a-b_c", "9"])
def test_good_queue_names(name: str) -> None:
    assert check_queue_name(name) == name


@pytest.mark.parametrize("name", ["", " emails", "e mails", "-x", "é", "x" * 65, None, 3])
def test_bad_queue_names_name_the_field(name: object) -> None:
    with pytest.raises(InvalidJob) as caught:
        check_queue_name(name)
    assert caught.value.field == "queue"


def test_limit_keys() -> None:
    assert check_limit_key(None) is None
    assert check_limit_key("tenant:42") == "tenant:42"
    for bad in ("", "x" * 201, 42):
        with pytest.raises(InvalidJob, match="limit_key"):
            check_limit_key(bad)


def test_queues_spec() -> None:
    assert parse_queues(None) is None
    assert parse_queues("  ") is None
    assert parse_queues("default,emails=10") == {"default": None, "emails": 10}
    assert parse_queues(" default , emails = 3 ") == {"default": None, "emails": 3}
    assert parse_queues({"a": None, "b": 2}) == {"a": None, "b": 2}
    assert format_queues({"default": None, "emails": 10}) == "default,emails=10"


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("default,", "non-empty"),
        ("emails=ten", "whole number"),
        ("emails=0", ">= 1"),
        ("a,a", "twice"),
        ("bad name", "letters"),
        (",", "non-empty"),
    ],
)
def test_bad_queue_specs(spec: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_queues(spec)


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("5/second", RateLimit(5, 1.0)),
        ("30/minute", RateLimit(30, 60.0)),
        ("100/hour", RateLimit(100, 3600.0)),
        ("10/s", RateLimit(10, 1.0)),
        ("10 / min", RateLimit(10, 60.0)),
        ("7/30s", RateLimit(7, 30.0)),
        ("1/2h", RateLimit(1, 7200.0)),
    ],
)
def test_rate_limits(text: str, limit: RateLimit) -> None:
    assert parse_rate_limit(text) == limit
    assert parse_rate_limit(str(limit)) == limit


@pytest.mark.parametrize("text", ["fast", "0/minute", "5/fortnight", "5", "/minute", "-1/s"])
def test_bad_rate_limits(text: str) -> None:
    with pytest.raises(ConfigError, match="rate_limit"):
        parse_rate_limit(text)


def test_concurrency_limits() -> None:
    assert check_concurrency_limit(None) is None
    assert check_concurrency_limit(2) == 2
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError, match="concurrency_limit"):
            check_concurrency_limit(bad)
