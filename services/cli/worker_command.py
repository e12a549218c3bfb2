"""`verdicts worker`: the mail and digest worker (arq), supervised."""

from __future__ import annotations

import asyncio

import click

from services.core.config import Settings
from services.core.logs import configure_logging

from .runner import fail


@click.command()
@click.pass_obj
def worker(settings: Settings) -> None:
    """Run the worker until SIGTERM or SIGINT; it outlives Redis outages.

    A signal stops it gracefully: no new jobs, each send ends after its message in
    flight, claimed rows go back; a second signal stops it at once."""
    if not settings.database_url or not settings.redis_url:
        fail("DATABASE_URL and REDIS_URL must be set for the worker (or use `verdicts dev`)")
    configure_logging(settings.log_format, settings.log_level)
    # Imported here: the worker's settings module reads the environment when imported.
    from services.worker.supervisor import run_worker

    asyncio.run(run_worker())
