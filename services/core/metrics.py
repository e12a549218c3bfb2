"""Prometheus metrics: what a process counts, and the text a scrape gets.

Two kinds, kept apart on purpose:

- **Counted in the process that saw it** (requests, appends, mails): counters and
  histograms defined here. Under ``uvicorn --workers N`` every worker counts its own
  share, and a scrape reaches one worker only. With ``PROMETHEUS_MULTIPROC_DIR`` set
  (an empty directory, wiped before each start), prometheus_client's multiprocess
  mode keeps each process's values in a file there and a scrape sums them all, so
  ``/metrics`` tells the truth whichever worker answers. Without it, one process
  is assumed.
- **Read from PostgreSQL at scrape time** (log head, lag, oldest open writer, digest
  progress): ``status.py`` reads them and ``StatusCollector`` turns them into gauges.
  They are the same whichever process reads them, so nothing sums them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

# A ``_created`` sample beside every counter doubles a scrape and says little here.
disable_created_metrics()  # type: ignore[no-untyped-call]

HTTP_REQUESTS = Counter(
    "verdicts_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "verdicts_http_request_duration_seconds",
    "Time from a routed request's arrival to its last response byte.",
    ["method", "route"],
)
RATE_LIMIT_REFUSALS = Counter(
    "verdicts_rate_limit_refusals",
    "Requests refused with 429 by a rate limit, by limit.",
    ["limit"],
)
RATE_LIMIT_FALLBACK_HITS = Counter(
    "verdicts_rate_limit_fallback_hits",
    "Limit hits counted in the API process instead of Redis, because Redis was down"
    " (limits then hold per process).",
)
APPEND_SECONDS = Histogram(
    "verdicts_append_duration_seconds",
    "Append latency. single: append and inline projections, inside the writer's"
    " transaction; group: from handing an append to the group committer to its commit.",
    ["path"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
EVENTS_APPENDED = Counter(
    "verdicts_events_appended",
    "Events committed to the log, by type.",
    ["type"],
)
GROUP_COMMIT_REQUESTS = Histogram(
    "verdicts_group_commit_requests",
    "Appends written together by one group-commit transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
MAILS = Counter(
    "verdicts_mails",
    "Mail outcomes by kind (confirmation, digest): sent, bounced, failed, retried,"
    " unknown, skipped, suppressed.",
    ["kind", "outcome"],
)
WORKER_HEARTBEAT = Gauge(
    "verdicts_worker_heartbeat_timestamp_seconds",
    "When this worker last beat (Unix time).",
    multiprocess_mode="max",
)

_MAIL_KINDS = {"confirmation_mails": "confirmation", "digest_recipients": "digest"}


def count_mails(queue_table: str, outcome: str, n: int = 1) -> None:
    """Count ``n`` mails of the queue ``queue_table`` that came to ``outcome``."""
    if n:
        MAILS.labels(_MAIL_KINDS.get(queue_table, queue_table), outcome).inc(n)


_uncommitted: ContextVar[list[str] | None] = ContextVar("verdicts_uncommitted", default=None)


@contextlib.contextmanager
def events_counted_on_commit() -> Iterator[None]:
    """Around a writing transaction: events appended inside count once it commits,
    and not at all if it rolls back (a conflict retried, an error)."""
    pending: list[str] = []
    token = _uncommitted.set(pending)
    try:
        yield
    finally:
        _uncommitted.reset(token)
    events_committed(pending)


def events_appended(types: Iterable[str]) -> None:
    """Count appended events: at commit inside ``events_counted_on_commit``, else now
    (a caller holding its own transaction, where a rollback is the rare case)."""
    pending = _uncommitted.get()
    if pending is None:
        events_committed(types)
    else:
        pending.extend(types)


def events_committed(types: Iterable[str]) -> None:
    """Count events whose transaction has committed."""
    for name in types:
        EVENTS_APPENDED.labels(name).inc()


def exposition(extra: Collector | None = None) -> bytes:
    """The text a scrape gets: this process's (or, in multiprocess mode, every
    process's) metrics, then ``extra``'s."""
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    if extra is not None:
        own = CollectorRegistry(auto_describe=False)
        own.register(extra)
        body += generate_latest(own)
    return body
