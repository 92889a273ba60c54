"""The attempt-spending rules of ``core/retry.py``, as pure functions: the failure path, lease
recovery and manual retry all take their decision from these (no store, no clock)."""

from __future__ import annotations

import random

import pytest

from noormme_queue import RetryLater, RetryPolicy, UnrecoverableError
from noormme_queue.core.retry import (
    after_failure,
    after_lost_lease,
    after_manual_retry,
    out_of_attempts,
)

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("made", "budget", "out"),
    [(0, 1, False), (1, 1, True), (2, 3, False), (3, 3, True), (4, 3, True)],
)
def test_max_attempts_counts_runs(made: int, budget: int, out: bool) -> None:
    assert out_of_attempts(made, budget) is out


def test_a_failure_backs_off_by_the_policy_until_the_attempts_are_spent() -> None:
    policy = RetryPolicy(max_retries=2, base_delay=10.0, jitter=0.0)
    error = ValueError("boom")
    first = after_failure(error, attempts_made=1, max_attempts=3, policy=policy, now=NOW)
    second = after_failure(error, attempts_made=2, max_attempts=3, policy=policy, now=NOW)
    assert first == NOW + policy.delay(1) and second == NOW + policy.delay(2)
    assert second - NOW > first - NOW > 0  # backoff grows
    assert after_failure(error, attempts_made=3, max_attempts=3, policy=policy, now=NOW) is None


def test_without_a_policy_the_default_one_for_max_attempts_applies() -> None:
    rng = random.Random(7)
    expected = RetryPolicy(max_retries=4).delay(1, random.Random(7))
    got = after_failure(KeyError(), attempts_made=1, max_attempts=5, policy=None, now=NOW, rng=rng)
    assert got == round(NOW + expected, 6)


def test_retry_later_sets_its_own_delay_and_still_spends_the_attempt() -> None:
    later = RetryLater(42.5)
    policy = RetryPolicy(max_retries=9, base_delay=1.0)
    assert after_failure(later, attempts_made=1, max_attempts=3, policy=policy, now=NOW) == (
        NOW + 42.5
    )
    assert after_failure(later, attempts_made=3, max_attempts=3, policy=policy, now=NOW) is None


def test_an_unrecoverable_error_fails_at_once() -> None:
    error = UnrecoverableError("bad input")
    assert after_failure(error, attempts_made=1, max_attempts=10, policy=None, now=NOW) is None


def test_times_are_rounded_to_what_a_datetime_holds() -> None:
    got = after_failure(
        RetryLater(0.1234567891), attempts_made=1, max_attempts=2, policy=None, now=NOW
    )
    assert got == round(NOW + 0.1234567891, 6)


def test_a_lost_lease_spends_its_run_and_is_due_at_once_unless_it_was_the_last() -> None:
    assert after_lost_lease(attempts_made=1, max_attempts=3, now=NOW) == NOW
    assert after_lost_lease(attempts_made=3, max_attempts=3, now=NOW) is None


def test_a_manual_retry_numbers_runs_on_with_the_original_budget() -> None:
    assert after_manual_retry(attempts_made=3, budget=3) == 6
    assert not out_of_attempts(3, after_manual_retry(attempts_made=3, budget=3))
