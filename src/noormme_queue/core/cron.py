"""When a recurring job runs: cron expressions and intervals, as pure functions of Unix time.

A schedule's :class:`Timing` is either a cron expression in an IANA time zone or an
interval. Every answer is a Unix time (float seconds, UTC), so a pinned clock drives them.

- **Cron** (``cronsim``, which follows Debian's cron): five fields (minute hour
  day-of-month month day-of-week), an optional sixth in front for seconds, ``L``, ``W``,
  ``#`` and names (``MON``, ``JAN``), and the macros of :data:`MACROS`. An entry with a
  fixed minute and hour (``30 2 * * *``) follows the wall clock of its zone: a time that a
  spring-forward gap skips runs at the first minute after the gap (02:30 -> 03:00), and a
  time that an autumn fall-back repeats runs once, at its first occurrence. An entry with
  ``*`` in the minute or hour field runs by elapsed time: every hour that passes, the
  repeated one included. ``cronsim`` was picked over ``croniter`` for this: croniter runs
  a daily 02:30 job twice on the autumn day (``tests/core/test_cron.py`` shows both).
- **Intervals** tick at the multiples of the interval since the Unix epoch (``every=1h``
  ticks on the hour, UTC), so every process computes the same ticks and defining a
  schedule again never shifts them.

:func:`plan` applies a missed-tick policy (:data:`MISSED_POLICIES`) to the ticks that came
due since a schedule last ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from .errors import InvalidSchedule
from .options import MAX_TIMESTAMP

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
MISSED_POLICIES = ("latest", "all", "none")
"""What happens to ticks no worker reached in time (see :func:`plan`)."""
MIN_EVERY = 1.0
"""The shortest interval, in seconds: faster work belongs in a worker loop, not a schedule."""
MAX_EVERY = 366 * 86_400.0 * 100
MAX_NAME_LENGTH = 200
NEVER = MAX_TIMESTAMP
"""The ``next_run_at`` of a cron entry with no tick left (9999-12-31)."""
_GUARD = 10_000  # steps of a search that must end (a cron quirk must never loop forever)


@dataclass(frozen=True, slots=True)
class Timing:
    """When a schedule ticks: ``cron`` in ``timezone``, or ``every`` seconds."""

    cron: str | None
    every: float | None
    timezone: str = "UTC"

    def next_after(self, after: float) -> float | None:
        """The first tick strictly after ``after``; ``None`` when none is left."""
        if self.every is not None:
            return _every_next(self.every, after)
        assert self.cron is not None
        return _cron_next(self.cron, self.timezone, after)

    def last_at_or_before(self, at: float) -> float | None:
        """The latest tick at or before ``at``; ``None`` when there is none."""
        if self.every is not None:
            tick = round(math.floor(at / self.every) * self.every, 6)
            while tick > at:
                tick = round(tick - self.every, 6)
            return tick
        assert self.cron is not None
        start = datetime.fromtimestamp(math.floor(at) + 1, _zone(self.timezone))
        found: float | None = None
        try:
            for _, moment in zip(
                range(_GUARD), CronSim(self.cron, start, reverse=True), strict=False
            ):
                if moment.timestamp() <= at:
                    found = moment.timestamp()
                    break
        except StopIteration:
            return None
        # Wall-clock entries can step back past a repeated hour: walk forward to the last.
        while found is not None and (later := self.next_after(found)) is not None:
            if later > at:
                break
            found = later
        return found

    def upcoming(self, start: float, count: int) -> list[float]:
        """``start`` (a tick) and the ticks after it, ``count`` in all."""
        ticks = [start]
        while len(ticks) < count and (tick := self.next_after(ticks[-1])) is not None:
            ticks.append(tick)
        return ticks[:count]

    def describe(self) -> str:
        if self.every is not None:
            return f"every {format_seconds(self.every)}"
        return f"{self.cron} ({self.timezone})"


def format_seconds(seconds: float) -> str:
    """``90`` -> ``1m30s``; ``3600`` -> ``1h``; ``1.5`` -> ``1.5s``."""
    whole = int(seconds)
    if whole != seconds or whole < 60:
        return f"{seconds:g}s"
    parts = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Plan:
    """What one scheduler pass does with a schedule whose next tick came due."""

    ticks: tuple[float, ...]
    """The ticks to make jobs for, oldest first (each job's ``run_at``)."""
    next_run_at: float
    """The schedule's next tick afterwards."""
    skipped: bool
    """Whether missed ticks were dropped (by ``latest`` or ``none``)."""


def plan(
    timing: Timing, next_run_at: float, now: float, *, missed: str, grace: float, limit: int
) -> Plan:
    """The ticks to run at ``now`` for a schedule due at ``next_run_at``.

    A tick is *on time* when a worker reaches it within ``grace`` seconds, and *missed*
    otherwise (no worker ran then). On-time ticks always run. Missed ticks follow
    ``missed``: ``"latest"`` runs the latest of them once (unless an on-time tick follows
    it), ``"all"`` runs every one, ``"none"`` drops them. At most ``limit`` ticks are
    planned at once; the rest stay due for the next pass.
    """
    if next_run_at > now:
        return Plan((), next_run_at, False)

    def after(tick: float) -> float:
        found = timing.next_after(tick)
        return NEVER if found is None else found

    if missed == "all":
        ticks = _ticks_from(timing, next_run_at, now, limit)
        return Plan(ticks, after(ticks[-1]), False)
    cutoff = now - grace
    had_missed = next_run_at < cutoff
    first = next_run_at if not had_missed else _first_at_or_after(timing, cutoff)
    if first is not None and first <= now:
        ticks = _ticks_from(timing, first, now, limit)
        return Plan(ticks, after(ticks[-1]), had_missed)
    if missed == "latest":
        latest = max(next_run_at, timing.last_at_or_before(now) or next_run_at)
        return Plan((latest,), after(latest), latest != next_run_at)
    return Plan((), after(now), True)


def _first_at_or_after(timing: Timing, at: float) -> float | None:
    return at if timing.last_at_or_before(at) == at else timing.next_after(at)


def _ticks_from(timing: Timing, first: float, end: float, limit: int) -> tuple[float, ...]:
    ticks = [first]
    while len(ticks) < limit and (tick := timing.next_after(ticks[-1])) is not None:
        if tick > end:
            break
        ticks.append(tick)
    return tuple(ticks)


# -- checks, each naming its field -----------------------------------------------------------


def check_timing(cron: object, every: object, timezone: object, *, now: float) -> Timing:
    """The timing of ``schedule(cron=... | every=..., timezone=...)``, checked; it must tick
    at least once after ``now``."""
    if (cron is None) == (every is None):
        raise InvalidSchedule(
            "give exactly one of cron='...' (a cron expression) or every=... (seconds or a "
            f"timedelta), got cron={cron!r}, every={every!r}",
            field="cron" if cron is None else "every",
        )
    zone = check_timezone(timezone)
    if every is not None:
        if zone != "UTC":
            raise InvalidSchedule(
                "timezone applies to cron schedules only: every= ticks at multiples of the "
                "interval since the Unix epoch; use cron='...' for times of day in a zone",
                field="timezone",
            )
        return Timing(None, check_every(every), "UTC")
    timing = Timing(check_cron(cron), None, zone)
    if timing.next_after(now) is None:
        raise InvalidSchedule(f"cron {cron!r} never fires", field="cron")
    return timing


def check_cron(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidSchedule(f"cron must be a cron expression, got {value!r}", field="cron")
    expr = MACROS.get(value.strip().lower(), " ".join(value.split()))
    try:
        CronSim(expr, datetime.now(UTC))
    except CronSimError as exc:
        raise InvalidSchedule(
            f"cron {value!r} is not a valid cron expression ({exc}); expected five fields: "
            "minute hour day-of-month month day-of-week, e.g. '0 3 * * *'",
            field="cron",
        ) from None
    return expr


def check_every(value: object) -> float:
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or not MIN_EVERY <= seconds <= MAX_EVERY
    ):
        raise InvalidSchedule(
            f"every must be a number of seconds or a timedelta of at least {MIN_EVERY:g} "
            f"second, got {value!r}",
            field="every",
        )
    return float(seconds)


def check_timezone(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidSchedule(
            f"timezone must be an IANA zone name such as 'Europe/Paris', got {value!r}",
            field="timezone",
        )
    try:
        _zone(value)
    except (KeyError, ValueError, OSError):
        raise InvalidSchedule(
            f"unknown time zone {value!r}; use an IANA name such as 'Europe/Paris' or 'UTC'",
            field="timezone",
        ) from None
    return value


def check_missed(value: object) -> str:
    if value not in MISSED_POLICIES:
        raise InvalidSchedule(
            f"missed must be one of {', '.join(map(repr, MISSED_POLICIES))}, got {value!r}",
            field="missed",
        )
    assert isinstance(value, str)
    return value


def check_name(value: object) -> str:
    if (
        not isinstance(value, str)
        or not value.strip()
        or value != value.strip()
        or len(value) > MAX_NAME_LENGTH
        or not value.isprintable()
    ):
        raise InvalidSchedule(
            f"a schedule name must be a non-empty string of at most {MAX_NAME_LENGTH} "
            f"printable characters with no surrounding spaces, got {value!r}",
            field="name",
        )
    return value


# -- the arithmetic ---------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


def _every_next(every: float, after: float) -> float:
    tick = round((math.floor(after / every) + 1) * every, 6)
    while tick <= after:
        tick = round(tick + every, 6)
    return tick


def _cron_next(expr: str, zone: str, after: float) -> float | None:
    start = datetime.fromtimestamp(math.floor(after), _zone(zone))
    try:
        for _, moment in zip(range(_GUARD), CronSim(expr, start), strict=False):
            # A wall-clock entry started inside a repeated hour can answer an earlier time.
            if moment.timestamp() > after:
                return min(moment.timestamp(), NEVER)
    except StopIteration:
        return None
    return None
