"""When recurring jobs tick (core/cron.py): cron in IANA zones across both DST changes,
epoch-aligned intervals, the missed-tick policies, and the checks of bad input. Pure
functions of Unix time: every case is a pinned instant, nothing sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from cronsim import CronSim

from noormme_queue import InvalidSchedule
from noormme_queue.core.cron import (
    Timing,
    check_missed,
    check_name,
    check_timing,
    format_seconds,
    plan,
)

PARIS = ZoneInfo("Europe/Paris")
SPRING = "2026-03-29"  # 02:00 CET -> 03:00 CEST: 02:30 does not exist
AUTUMN = "2026-10-25"  # 03:00 CEST -> 02:00 CET: 02:30 happens twice


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def utc(value: float) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def local_days(ticks: list[float]) -> list[str]:
    return [datetime.fromtimestamp(t, PARIS).date().isoformat() for t in ticks]


def ticks_between(timing: Timing, start: float, end: float) -> list[float]:
    found = []
    tick = timing.next_after(start)
    while tick is not None and tick < end:
        found.append(tick)
        tick = timing.next_after(tick)
    return found


# -- the library, picked by this behaviour ---------------------------------------------------


@pytest.mark.parametrize("day", [SPRING, AUTUMN])
def test_a_daily_0230_paris_job_runs_once_on_each_2026_transition_day(day: str) -> None:
    timing = Timing("30 2 * * *", None, "Europe/Paris")
    before, after = ts(f"{day}T00:00:00+00:00") - 86_400, ts(f"{day}T00:00:00+00:00") + 86_400 * 2
    ticks = ticks_between(timing, before, after)
    days = local_days(ticks)
    assert days.count(day) == 1, [utc(t) for t in ticks]
    (tick,) = [t for t in ticks if local_days([t]) == [day]]
    if day == SPRING:  # the skipped 02:30 runs when the clocks jump to 03:00 CEST
        assert utc(tick) == "2026-03-29 01:00:00"
    else:  # the repeated 02:30 runs once, at its first occurrence (CEST)
        assert utc(tick) == "2026-10-25 00:30:00"
    # The days around run at 02:30 local, once each.
    assert len(ticks) == len(set(days)) == 3


def test_the_two_libraries_on_the_autumn_day_why_cronsim_was_picked() -> None:
    start = datetime.fromisoformat(f"{AUTUMN}T00:00:00+00:00").astimezone(PARIS) - timedelta(days=1)
    sim = CronSim("30 2 * * *", start)
    iter_ = croniter("30 2 * * *", start)
    by_cronsim = [next(sim).timestamp() for _ in range(3)]
    by_croniter = [iter_.get_next(datetime).timestamp() for _ in range(3)]
    assert local_days(by_cronsim).count(AUTUMN) == 1
    # croniter fires the 02:30 job twice on the autumn day (CEST and again CET): picking it
    # would run a nightly report twice.
    assert local_days(by_croniter).count(AUTUMN) == 2


def test_entries_with_a_star_hour_follow_elapsed_time_across_dst() -> None:
    hourly = Timing("0 * * * *", None, "Europe/Paris")
    autumn = ticks_between(hourly, ts(f"{AUTUMN}T00:00:00+02:00"), ts(f"{AUTUMN}T04:00:00+01:00"))
    assert [t - autumn[0] for t in autumn] == [3600.0 * n for n in range(len(autumn))]
    assert len(autumn) == 4  # 01:00, 02:00 CEST, 02:00 CET, 03:00: the repeated hour too
    spring = ticks_between(hourly, ts(f"{SPRING}T00:00:00+01:00"), ts(f"{SPRING}T04:00:00+02:00"))
    assert len(spring) == 2  # 01:00 CET, 03:00 CEST: the skipped hour does not exist


def test_the_tick_after_one_inside_the_repeated_hour_is_the_next_day() -> None:
    timing = Timing("30 2 * * *", None, "Europe/Paris")
    first = ts(f"{AUTUMN}T00:30:00+00:00")
    # from the tick, and from inside the repeated hour after it (02:10 CET)
    for after in (first, ts(f"{AUTUMN}T01:10:00+00:00")):
        assert utc(timing.next_after(after) or 0) == "2026-10-26 01:30:00"
    assert timing.last_at_or_before(ts(f"{AUTUMN}T01:10:00+00:00")) == first


# -- cron and intervals ------------------------------------------------------------------------


def test_cron_in_utc_and_macros() -> None:
    nightly = Timing("0 3 * * *", None, "UTC")
    assert utc(nightly.next_after(ts("2026-05-01T02:59:59+00:00")) or 0) == "2026-05-01 03:00:00"
    assert utc(nightly.next_after(ts("2026-05-01T03:00:00+00:00")) or 0) == "2026-05-02 03:00:00"
    assert nightly.last_at_or_before(ts("2026-05-01T03:00:00+00:00")) == ts(
        "2026-05-01T03:00:00+00:00"
    )
    daily = check_timing("@daily", None, "UTC", now=0.0)
    assert daily.cron == "0 0 * * *"
    tokyo = Timing("0 9 * * MON-FRI", None, "Asia/Tokyo")
    assert utc(tokyo.next_after(ts("2026-05-01T00:00:01+00:00")) or 0) == "2026-05-04 00:00:00"


def test_intervals_tick_at_multiples_of_the_interval_since_the_epoch() -> None:
    every = Timing(None, 30.0)
    assert every.next_after(100.0) == 120.0
    assert every.next_after(120.0) == 150.0  # strictly after
    assert every.last_at_or_before(149.9) == 120.0
    assert every.last_at_or_before(150.0) == 150.0
    hourly = Timing(None, 3600.0)
    assert utc(hourly.next_after(ts("2026-05-01T10:17:00+00:00")) or 0) == "2026-05-01 11:00:00"
    assert every.upcoming(120.0, 3) == [120.0, 150.0, 180.0]


def test_descriptions_and_durations() -> None:
    assert Timing(None, 90.0).describe() == "every 1m30s"
    assert Timing("0 3 * * *", None, "Europe/Paris").describe() == "0 3 * * * (Europe/Paris)"
    assert [format_seconds(s) for s in (1.5, 45, 3600, 86_400 + 60)] == [
        "1.5s",
        "45s",
        "1h",
        "1d1m",
    ]


# -- missed ticks ------------------------------------------------------------------------------

EVERY_MINUTE = Timing(None, 60.0)
T = 1_800_000_000.0  # a multiple of 60


def test_on_time_ticks_run_whatever_the_policy() -> None:
    for policy in ("latest", "all", "none"):
        got = plan(EVERY_MINUTE, T, T + 0.2, missed=policy, grace=10, limit=100)
        assert (got.ticks, got.next_run_at, got.skipped) == ((T,), T + 60, False), policy
    # a worker a little late still runs every tick it finds within the grace
    late = plan(Timing(None, 1.0), T, T + 3.5, missed="latest", grace=10, limit=100)
    assert late.ticks == (T, T + 1, T + 2, T + 3) and not late.skipped


def test_latest_runs_the_latest_missed_tick_once() -> None:
    # No worker ran for an hour and a half: 90 ticks came and went.
    got = plan(EVERY_MINUTE, T, T + 5400 + 30, missed="latest", grace=10, limit=100)
    assert got.ticks == (T + 5400,) and got.next_run_at == T + 5460 and got.skipped


def test_latest_with_an_on_time_tick_runs_that_one_only() -> None:
    got = plan(EVERY_MINUTE, T, T + 5400 + 5, missed="latest", grace=10, limit=100)
    assert got.ticks == (T + 5400,) and got.skipped


def test_all_runs_every_missed_tick_in_passes() -> None:
    first = plan(EVERY_MINUTE, T, T + 5400 + 30, missed="all", grace=10, limit=50)
    assert first.ticks == tuple(T + 60 * n for n in range(50)) and not first.skipped
    second = plan(EVERY_MINUTE, first.next_run_at, T + 5400 + 30, missed="all", grace=10, limit=50)
    assert second.ticks == tuple(T + 60 * n for n in range(50, 91))
    assert second.next_run_at == T + 5460


def test_none_drops_the_missed_ticks() -> None:
    got = plan(EVERY_MINUTE, T, T + 5400 + 30, missed="none", grace=10, limit=100)
    assert got.ticks == () and got.next_run_at == T + 5460 and got.skipped


def test_a_daily_job_missed_by_hours() -> None:
    nightly = Timing("0 3 * * *", None, "UTC")
    due = ts("2026-05-01T03:00:00+00:00")
    noon = ts("2026-05-01T12:00:00+00:00")
    assert plan(nightly, due, noon, missed="latest", grace=10, limit=100).ticks == (due,)
    assert plan(nightly, due, noon, missed="all", grace=10, limit=100).ticks == (due,)
    dropped = plan(nightly, due, noon, missed="none", grace=10, limit=100)
    assert dropped.ticks == () and utc(dropped.next_run_at) == "2026-05-02 03:00:00"
    # three days down: latest runs the last of the three once, all runs the three
    later = due + 3 * 86_400 - 3600
    assert plan(nightly, due, later, missed="latest", grace=10, limit=9).ticks == (
        due + 2 * 86_400,
    )
    assert len(plan(nightly, due, later, missed="all", grace=10, limit=9).ticks) == 3


def test_not_due_yet_plans_nothing() -> None:
    got = plan(EVERY_MINUTE, T + 60, T, missed="latest", grace=10, limit=100)
    assert got.ticks == () and got.next_run_at == T + 60 and not got.skipped


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cron", "every", "timezone", "field", "words"),
    [
        ("61 * * * *", None, "UTC", "cron", "not a valid cron expression"),
        ("* * *", None, "UTC", "cron", "five fields"),
        ("0 0 30 2 *", None, "UTC", "cron", "not a valid cron"),
        ("", None, "UTC", "cron", "cron expression"),
        (None, None, "UTC", "cron", "exactly one of"),
        ("0 3 * * *", 60, "UTC", "every", "exactly one of"),
        (None, 0, "UTC", "every", "at least 1 second"),
        (None, -5, "UTC", "every", "at least 1 second"),
        (None, timedelta(0), "UTC", "every", "at least 1 second"),
        (None, float("nan"), "UTC", "every", "at least 1 second"),
        (None, True, "UTC", "every", "at least 1 second"),
        (None, "60", "UTC", "every", "at least 1 second"),
        ("0 3 * * *", None, "Mars/Olympus", "timezone", "unknown time zone"),
        ("0 3 * * *", None, "../etc/passwd", "timezone", "unknown time zone"),
        ("0 3 * * *", None, "", "timezone", "IANA"),
        (None, 60, "Europe/Paris", "timezone", "cron schedules only"),
    ],
)
def test_bad_timing_names_the_problem(
    cron: object, every: object, timezone: object, field: str, words: str
) -> None:
    with pytest.raises(InvalidSchedule, match=words) as caught:
        check_timing(cron, every, timezone, now=T)
    assert caught.value.field == field


def test_bad_names_and_policies() -> None:
    for name in ("", " x", "x ", 7, None, "x" * 201, "a\nb", "tab\there"):
        with pytest.raises(InvalidSchedule) as caught:
            check_name(name)
        assert caught.value.field == "name"
    assert check_name("<b>nightly</b>") == "<b>nightly</b>"  # any text: faces escape it
    with pytest.raises(InvalidSchedule, match="'latest', 'all', 'none'") as missed:
        check_missed("some")
    assert missed.value.field == "missed"
