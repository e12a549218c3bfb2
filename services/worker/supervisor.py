"""``verdicts worker``: the arq worker, kept alive across Redis outages and stopped
gracefully.

Why arq's own runner (``arq services.worker.settings.WorkerSettings``) dies with Redis:
``Worker.main`` polls in a loop (``_poll_iteration``: read the queue, start jobs,
``t.result()`` of finished job tasks, ``heart_beat``) with no error handling, so the
first Redis error in a poll, or in a job task writing its result, ends ``main``; the
runner then closes and exits (within a second of Redis going away). Its connection
retries (``RedisSettings.conn_retries``) cover only creating the pool at start.

Here the worker runs under a loop that outlives that: when ``main`` ends on a Redis
error, the jobs in flight are let finish (their work is in PostgreSQL; only writing
their arq results fails), that worker is dropped, and a fresh one (fresh counters,
fresh Redis pool) starts once Redis answers again; the PostgreSQL pool and the rest of
the job context are kept. The outage is logged once and its end once.

SIGTERM or SIGINT stops it like arq's graceful shutdown (no new jobs, running ones get
``job_completion_wait``) and more: the context's ``stopping`` event makes every send end
between messages, recording the message in flight and giving claimed rows back. A
second signal stops at once. Exit code 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from arq.worker import Worker, create_worker
from redis.exceptions import RedisError

from services.core.outage import OutageLog

from .jobs import Ctx
from .settings import WorkerSettings, shutdown, startup
from .stopping import stop_on_signals

log = logging.getLogger(__name__)

REDIS_DOWN = (RedisError, OSError)

RETRY_EVERY = 1.0
"""Seconds between attempts to reach Redis again (each attempt asks once:
``WorkerSettings.redis_settings`` has ``conn_retries=0``)."""


class Supervisor:
    """Runs arq workers one after another until stopped; see the module docstring."""

    def __init__(self, settings_cls: Any = WorkerSettings, *, retry_every: float = RETRY_EVERY):
        self.settings_cls = settings_cls
        self.retry_every = retry_every
        self.ctx: Ctx = {}
        self.worker: Worker | None = None
        self.redis = OutageLog("Redis (the arq queue)", log)
        self.stopping = asyncio.Event()

    def _on_signal(self, sig: signal.Signals) -> None:
        log.info("%s: no new jobs; sends stop after their messages in flight", sig.name)
        if self.worker is not None and self.worker.main_task is not None:
            self.worker.handle_sig_wait_for_completion(sig)

    async def run(self) -> None:
        """Until SIGTERM/SIGINT: a worker, and after a Redis outage another one."""
        self.stopping = self.ctx["stopping"] = stop_on_signals(self._on_signal)
        try:
            while not self.stopping.is_set():
                failure = await self._run_worker()
                if failure is None:
                    return
                self.redis.failed(failure, "the worker waits for it and goes on")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.retry_every)
        finally:
            await shutdown(self.ctx)

    async def _run_worker(self) -> BaseException | None:
        """Run one arq worker to its end: ``None`` if it was stopped, the Redis error
        if Redis went away; any other error is raised."""
        worker = create_worker(
            self.settings_cls,
            ctx=self.ctx,
            handle_signals=False,  # ours (run) pass them on to the worker of the moment
            on_startup=self._started,
            on_shutdown=None,  # the context outlives each worker: run closes it
        )
        self.worker = worker
        worker.main_task = task = asyncio.create_task(worker.main())
        try:
            await asyncio.wait([task])
        finally:
            self.worker = None
            await self._close(worker)
        if task.cancelled():
            return None
        failure = task.exception()
        if failure is not None and not isinstance(failure, REDIS_DOWN):
            raise failure
        return failure

    async def _started(self, ctx: Ctx) -> None:
        await startup(ctx)
        self.redis.recovered()

    async def _close(self, worker: Worker) -> None:
        """Let the jobs in flight end (within ``job_completion_wait``), then drop the
        worker's Redis pool; Redis may be gone, so nothing here may need it."""
        jobs = list(worker.tasks.values())
        if jobs:
            grace = getattr(self.settings_cls, "job_completion_wait", 0) or None
            _, late = await asyncio.wait(jobs, timeout=grace)
            for job in late:
                job.cancel()
            # Their arq bookkeeping may have failed with Redis: nothing to report twice.
            await asyncio.gather(*jobs, return_exceptions=True)
        pool = worker.pool
        if pool is not None:
            with contextlib.suppress(*REDIS_DOWN):
                await pool.delete(worker.health_check_key)
            await pool.aclose()


async def run_worker() -> None:
    """``verdicts worker``: run until SIGTERM or SIGINT."""
    await Supervisor().run()
