"""`verdicts config check`: would the API and the worker start with this configuration?

uvicorn's ``--workers`` supervisor restarts a worker process that exits, so an API
that refuses its configuration would be restarted forever: a deployment runs this
first (``verdicts config check && exec uvicorn ...``) to stop at once instead.
"""

from __future__ import annotations

import click

from services.core.config import Settings

from .runner import console, fail


@click.group("config")
def config_group() -> None:
    """The configuration the API and the worker run with."""


@config_group.command("check")
@click.pass_obj
def check(settings: Settings) -> None:
    """Exit 2 with the reason if the API or the worker would refuse to start; else 0."""
    # Imported here: every other command would pay for loading the API at startup.
    from services.api.client_address import TrustedProxies
    from services.api.security import api_config_problem
    from services.worker.schedule import InvalidScheduleError, Schedule

    if problem := api_config_problem(settings):
        fail(problem)
    try:
        Schedule.parse(settings.digest_cron)
    except InvalidScheduleError as exc:
        fail(f"configuration error: {exc}")
    proxies = TrustedProxies.parse(settings.trusted_proxies)
    console.print(
        f"configuration ok: {len(settings.signing_keys)} signing key(s), "
        f"trusted proxies: {settings.trusted_proxies if proxies else 'none'}"
        f"{' (development)' if settings.development else ''}"
    )
