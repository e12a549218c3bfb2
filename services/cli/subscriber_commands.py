"""`verdicts subscriber`: the digest's subscribers."""

from __future__ import annotations

import click

from services.core import subscriptions
from services.core.config import Settings
from services.core.store import Pool

from .runner import console, with_pool


@click.group("subscriber")
def subscriber_group() -> None:
    """Subscribers of the weekly digest."""


@subscriber_group.command("erase")
@click.argument("who")
@click.pass_obj
def erase(settings: Settings, who: str) -> None:
    """Erase WHO (an email address or a subscriber id): delete the address, keep the log."""

    async def erase_one(pool: Pool) -> str:
        sid = await subscriptions.find_subscriber(pool, who)
        await subscriptions.erase_subscriber(pool, sid)
        return sid

    sid = with_pool(settings, erase_one)
    console.print(f"erased subscriber {sid}: address deleted, SubscriberErased appended")
