"""What operators and their machines ask the API: ``/livez``, ``/readyz``, ``/metrics``.

``/metrics`` is behind the operator's bearer token (``OPERATOR_TOKEN``, as the other
operator routes): the reader site does not publish its internals. Prometheus sends
it with ``authorization: {credentials_file: ...}`` in its scrape config.
"""

from __future__ import annotations

import logging

from litestar import get
from litestar.datastructures import State
from litestar.response import Response
from litestar.status_codes import HTTP_200_OK, HTTP_503_SERVICE_UNAVAILABLE

from services.core.health import PROBE_TIMEOUT, Readiness, check_ready
from services.core.metrics import exposition
from services.core.status import StatusCollector, SystemStatus, read_status

from .operator import operator_only
from .security import NO_READER

log = logging.getLogger(__name__)

TEXT_FORMAT = "text/plain; version=0.0.4"
"""What ``generate_latest`` writes: the classic text format every Prometheus reads
(Litestar adds the charset)."""


@get("/livez", include_in_schema=False, opt={NO_READER: True})
async def livez() -> dict[str, str]:
    """The process is up and its event loop answers; asks nothing else."""
    return {"status": "live"}


@get("/readyz", include_in_schema=False, opt={NO_READER: True})
async def readyz(state: State) -> Response[Readiness]:
    """Database reachable and migrated to this code's schema (503 if not); Redis reported."""
    ready = await check_ready(state.pool, state.redis)
    return Response(ready, status_code=HTTP_200_OK if ready.ok else HTTP_503_SERVICE_UNAVAILABLE)


async def _status(state: State) -> SystemStatus | None:
    try:
        async with state.pool.acquire(timeout=PROBE_TIMEOUT) as conn:
            return await read_status(conn)
    except Exception as exc:  # the scrape still answers, with verdicts_database_up 0
        log.warning("metrics: database status unavailable: %s", exc.__class__.__name__)
        return None


@get("/metrics", guards=[operator_only], include_in_schema=False, opt={NO_READER: True})
async def metrics(state: State) -> Response[bytes]:
    """Prometheus text: this process's counters (every worker's in multiprocess mode),
    then gauges read from the database now."""
    body = exposition(StatusCollector(await _status(state)))
    return Response(body, media_type=TEXT_FORMAT, headers={"Cache-Control": "no-store"})


PROBES = [livez, readyz, metrics]
