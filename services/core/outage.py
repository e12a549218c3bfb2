"""Saying that a service went away, once per outage, and when it is back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class OutageLog:
    """Tracks one service's outages for the log: the first failure of an outage is a
    warning, later ones are silent, and the first success after it says how long it
    lasted. A failing service is logged once, not once per request."""

    def __init__(
        self, service: str, log: logging.Logger, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.service = service
        self._log = log
        self._clock = clock
        self.down_since: float | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, exc: BaseException, consequence: str = "") -> None:
        """Note a failure; the first of an outage is logged, with ``consequence``."""
        if self.down_since is None:
            self.down_since = self._clock()
            what = f"{type(exc).__name__}: {exc}"
            self._log.warning(
                "%s unavailable (%s)%s",
                self.service,
                what,
                f"; {consequence}" if consequence else "",
            )

    def recovered(self) -> None:
        """Note a success; logged if it ends an outage."""
        if self.down_since is not None:
            lasted = self._clock() - self.down_since
            self.down_since = None
            self._log.warning("%s back after %.1f s", self.service, lasted)
