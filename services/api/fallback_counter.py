"""Limit counters that outlive Redis: Redis while it answers, this process while not.

The limiter (``limiter.py``) counts every hit in Redis, so a Redis outage would turn
every limited route (votes, bookmarks, subscriptions, one-click, new readers) into a
500: Redis is a helper, not the truth, and readers must still act while it is down. A
``FallbackHitCounter`` delegates to the Redis counter; while that errors it counts in
a ``MemoryHitCounter`` instead (limits still hold, per API process rather than across
them), tries Redis again every ``retry_every`` seconds, and logs the outage once and
its end once; ``verdicts_rate_limit_fallback_hits`` counts the hits it took. It wraps
the counter, not the limits, so it covers whatever limits ``security.py`` defines.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from services.core import metrics
from services.core.outage import OutageLog

from .limiter import Hit, HitCounter

log = logging.getLogger(__name__)

REDIS_TIMEOUT = 2.0
"""Seconds a Redis connect or command may take before it counts as down: a Redis that
hangs (not one that refuses) must not hold requests for long."""

_REDIS_DOWN = (RedisError, OSError)

Clock = Callable[[], float]


class MemoryHitCounter:
    """Hits counted in this process, in fixed windows that start at a key's first hit
    (as ``RedisHitCounter`` counts). No await inside: a hit is atomic in its loop."""

    def __init__(self, *, clock: Clock = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._hits: dict[str, tuple[int, float]] = {}  # key -> (hits, window end)

    async def hit(self, key: str, window: int) -> Hit:
        now = self._clock()
        hits, ends = self._hits.get(key, (0, now))
        if ends <= now:
            hits, ends = 0, now + window
        self._hits[key] = (hits + 1, ends)
        if len(self._hits) > self._max_keys:
            self._forget_ended(now)
        return Hit(hits + 1, max(1, math.ceil(ends - now)))

    def _forget_ended(self, now: float) -> None:
        self._hits = {k: v for k, v in self._hits.items() if v[1] > now}


class FallbackHitCounter:
    """Counts in ``redis`` while it answers, in this process while it does not."""

    def __init__(
        self, redis: HitCounter, *, retry_every: float = 2.0, clock: Clock = time.monotonic
    ) -> None:
        self.redis = redis
        self.memory = MemoryHitCounter(clock=clock)
        self.retry_every = retry_every
        self._clock = clock
        self._retry_at = 0.0
        self.outage = OutageLog("Redis (limit counters)", log, clock=clock)

    async def hit(self, key: str, window: int) -> Hit:
        if not self.outage.down or self._clock() >= self._retry_at:
            try:
                hit = await self.redis.hit(key, window)
            except _REDIS_DOWN as exc:
                self.outage.failed(exc, "limits count per API process until it is back")
                self._retry_at = self._clock() + self.retry_every
            else:
                self.outage.recovered()
                return hit
        metrics.RATE_LIMIT_FALLBACK_HITS.inc()
        return await self.memory.hit(key, window)
