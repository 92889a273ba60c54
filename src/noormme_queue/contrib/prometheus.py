"""Prometheus metrics of one manager (extra ``metrics``: ``prometheus-client``).

:func:`queue_metrics` gives a manager's :class:`QueueMetrics`, made once and subscribed to
its observers (engine/observe.py), so its counters see every attempt from then on;
:meth:`QueueMetrics.render` is one scrape in Prometheus's text format. ``GET /metrics`` on
``serve`` and ``noormme_queue.api.create_metrics_app`` serve it (docs/observability.md).

- From the database, at each scrape (every process's jobs): ``noormme_queue_jobs{queue,
  status}`` and ``noormme_queue_queue_paused{queue}``, read from the kept counts
  (``noormme_counts``): the cost grows with the number of queues and types, never with
  the number of jobs.
- From this process (its worker and rescuer), since it started: the counters
  ``noormme_queue_jobs_{started,completed,failed,retried,recovered}_total{queue,type}``
  and the histograms ``noormme_queue_job_duration_seconds`` and
  ``noormme_queue_job_start_latency_seconds``; its worker's ``noormme_queue_worker_*``.
- This process's in-memory queues: ``noormme_queue_memory_*{queue}``.

Each manager has its own collectors, outside prometheus-client's global registry, so two
managers in one process never collide.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..core.job import Job, QueueInfo
from ..engine.observe import AttemptWatch, Observer
from ..engine.outcomes import Settled
from ..manager import QueueManager
from ..store import Completed, Failed

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "noormme_queue"
STATUSES = ("pending", "processing", "completed", "failed", "cancelled")
LABELS = ("queue", "type")
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600)
MEMORY_FINISHED = ("completed", "failed", "timed_out", "cancelled", "dropped")

_made: weakref.WeakKeyDictionary[QueueManager, QueueMetrics] = weakref.WeakKeyDictionary()


def queue_metrics(qm: QueueManager) -> QueueMetrics:
    """``qm``'s metrics, made and subscribed on first use (create it before jobs run: its
    counters start at zero then)."""
    metrics = _made.get(qm)
    if metrics is None:
        metrics = _made[qm] = QueueMetrics(qm)
        qm.observers.add(metrics)
    return metrics


class QueueMetrics(Observer):
    """The counters and histograms fed by ``qm``'s worker and rescuer, and the scrape."""

    def __init__(self, qm: QueueManager) -> None:
        self._qm = qm

        def counter(name: str, doc: str) -> Counter:
            return Counter(f"{PREFIX}_{name}", doc, LABELS, registry=None)

        self.started = counter("jobs_started", "Attempts started by this process's worker.")
        self.completed = counter("jobs_completed", "Attempts that completed.")
        self.failed = counter(
            "jobs_failed",
            "Attempts that failed (raised or timed out; or the rescuer failed a job whose "
            "lease expired on its last attempt), retried or not.",
        )
        self.retried = counter("jobs_retried", "Failed attempts whose job runs again.")
        self.recovered = counter(
            "jobs_recovered", "Jobs whose lease expired that the rescuer made due again."
        )
        self.duration = Histogram(
            f"{PREFIX}_job_duration_seconds",
            "Seconds an attempt ran, from its start to its handler's end.",
            LABELS,
            buckets=DURATION_BUCKETS,
            registry=None,
        )
        self.latency = Histogram(
            f"{PREFIX}_job_start_latency_seconds",
            "Seconds from when a job was due (enqueued, or its run_at: a delay, a tick, a "
            "retry) to the start of its attempt.",
            LABELS,
            buckets=LATENCY_BUCKETS,
            registry=None,
        )
        self._instruments: tuple[Collector, ...] = (
            self.started,
            self.completed,
            self.failed,
            self.retried,
            self.recovered,
            self.duration,
            self.latency,
        )

    # -- the observer (on the worker's loop) -------------------------------------------------

    def attempt(self, job: Job, now: float) -> AttemptWatch | None:
        labels = (job.queue, job.type)
        self.started.labels(*labels).inc()
        self.latency.labels(*labels).observe(max(0.0, now - job.run_at.timestamp()))
        return _Attempt(self, labels, now)

    def lease_expired(self, job: Job, recovered: bool, now: float) -> None:
        labels = (job.queue, job.type)
        (self.recovered if recovered else self.failed).labels(*labels).inc()

    # -- the scrape ----------------------------------------------------------------------------

    async def render(self) -> bytes:
        """One scrape: the database's counts read now, and this process's figures."""
        queues = await self._qm.list_queues()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Scrape(self._qm, queues, self._instruments))
        return generate_latest(registry)


class _Attempt:
    __slots__ = ("labels", "metrics", "started")

    def __init__(self, metrics: QueueMetrics, labels: tuple[str, str], started: float) -> None:
        self.metrics = metrics
        self.labels = labels
        self.started = started

    def ended(self, record: Settled | None, now: float) -> None:
        outcome = None if record is None else record.outcome
        metrics = self.metrics
        if isinstance(outcome, Completed):
            metrics.completed.labels(*self.labels).inc()
        elif isinstance(outcome, Failed):
            metrics.failed.labels(*self.labels).inc()
            if outcome.retry_at is not None:
                metrics.retried.labels(*self.labels).inc()
        else:  # released by a stop, cancelled, or no longer ours: not a run that ended
            return
        metrics.duration.labels(*self.labels).observe(max(0.0, now - self.started))


class _Scrape(Collector):
    """One scrape's families: the counts just read, then the process's own figures."""

    def __init__(
        self, qm: QueueManager, queues: Sequence[QueueInfo], instruments: Iterable[Collector]
    ) -> None:
        self._qm = qm
        self._queues = queues
        self._instruments = instruments

    def collect(self) -> Iterator[Metric]:
        yield from _database(self._queues)
        yield from _worker(self._qm)
        yield from _memory(self._qm.get_all_in_memory_stats())
        for instrument in self._instruments:
            yield from instrument.collect()


def _database(queues: Sequence[QueueInfo]) -> Iterator[Metric]:
    jobs = GaugeMetricFamily(
        f"{PREFIX}_jobs",
        "Jobs in the database by queue and status (a job waiting for its time, its queue or "
        "its limit is pending), from the kept counts.",
        labels=("queue", "status"),
    )
    paused = GaugeMetricFamily(
        f"{PREFIX}_queue_paused", "1 while the queue is paused.", labels=("queue",)
    )
    for info in queues:
        for status in STATUSES:
            jobs.add_metric((info.name, status), getattr(info, status))
        paused.add_metric((info.name,), int(info.paused))
    yield jobs
    yield paused


def _worker(qm: QueueManager) -> Iterator[Metric]:
    status = qm.get_status()
    yield GaugeMetricFamily(
        f"{PREFIX}_worker_in_flight", "Jobs this process's worker runs now.", status.in_flight
    )
    yield GaugeMetricFamily(
        f"{PREFIX}_worker_concurrency",
        "Jobs this process's worker runs at most at once (QUEUE_CONCURRENCY).",
        status.concurrency,
    )


def _memory(stats: dict[str, dict[str, Any]]) -> Iterator[Metric]:
    queue = ("queue",)
    jobs = GaugeMetricFamily(
        f"{PREFIX}_memory_jobs",
        "Jobs in this process's in-memory queues: queued or running.",
        labels=("queue", "state"),
    )
    finished = CounterMetricFamily(
        f"{PREFIX}_memory_jobs_finished",
        "In-memory jobs that ended, by outcome, since their queue was made.",
        labels=("queue", "outcome"),
    )
    concurrency = GaugeMetricFamily(
        f"{PREFIX}_memory_concurrency",
        "Jobs an in-memory queue runs at most at once.",
        labels=queue,
    )
    throughput = GaugeMetricFamily(
        f"{PREFIX}_memory_throughput",
        "In-memory jobs finished per second over the last ten seconds.",
        labels=queue,
    )
    for name, figures in stats.items():
        jobs.add_metric((name, "queued"), figures["queued"])
        jobs.add_metric((name, "running"), figures["running"])
        for outcome in MEMORY_FINISHED:
            finished.add_metric((name, outcome), figures[outcome])
        concurrency.add_metric((name,), figures["concurrency"])
        throughput.add_metric((name,), figures["throughput"])
    yield from (jobs, finished, concurrency, throughput)
