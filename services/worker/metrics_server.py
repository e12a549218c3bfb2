"""The worker's own ``/metrics``: an HTTP port of its own (``WORKER_METRICS_PORT``).

Why a port and not the API's registry: the worker is another process, often on
another host or container, and its counters (mails by kind and outcome, the
heartbeat) live in its memory; the API cannot read them, and pushing them through
the API would need a shared store. Prometheus scrapes each process where it runs.
The gauges read from the database (lag, digest progress) are the API's ``/metrics``
only, so they are not scraped twice. The port has no authentication: it listens on
``WORKER_METRICS_HOST`` (loopback unless set) and is never the reader site's.
"""

from __future__ import annotations

import logging

from prometheus_client import start_http_server

from services.core.config import Settings

log = logging.getLogger(__name__)


def serve_metrics(settings: Settings) -> None:
    """Start the metrics port in a thread if ``WORKER_METRICS_PORT`` is set."""
    if settings.worker_metrics_port is None:
        return
    try:
        start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_host)
    except OSError as exc:
        raise SystemExit(
            f"WORKER_METRICS_PORT {settings.worker_metrics_host}:{settings.worker_metrics_port}"
            f" cannot be used: {exc.strerror}"
        ) from None
    log.info(
        "metrics listening",
        extra={"host": settings.worker_metrics_host, "port": settings.worker_metrics_port},
    )
