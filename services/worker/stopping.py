"""Graceful stops for long-running sends: the first SIGTERM or SIGINT asks the work to
stop between messages; a second one gets the default handling and stops at once.

``asyncio.run`` installs no SIGTERM handler, so without this a process dies mid-send:
its claimed rows wait for the lease to expire, and the message in flight is left
``unknown`` although its outcome was about to be known.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_on_signals(on_signal: Callable[[signal.Signals], None] | None = None) -> asyncio.Event:
    """An event the first SIGTERM or SIGINT sets (then ``on_signal(sig)`` runs); the
    handlers are removed at that moment, so a second signal stops the process at once.
    Call it from inside the running event loop."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()

    def first(sig: signal.Signals) -> None:
        stopping.set()
        for each in SIGNALS:
            loop.remove_signal_handler(each)
        if on_signal is not None:
            on_signal(sig)

    for sig in SIGNALS:
        loop.add_signal_handler(sig, first, sig)
    return stopping
