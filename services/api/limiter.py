"""Per-client limits: one counter per (limit, client), incremented atomically in Redis.

Every limit (votes, bookmarks, subscriptions, one-click unsubscribes, new readers) goes
through ``RateLimiter`` and a ``HitCounter``. Litestar's ``RateLimitMiddleware`` is not
used: it reads its counter and writes it back in two round trips under a per-process
lock, so two API processes overshoot a limit under a burst while one process serialises
all its limited requests behind that lock; and it is configured per route, while the
new-reader cap applies only to the requests that would mint a reader, whatever the
route. Here one Lua script increments the counter and starts its window in one round
trip: exact across processes, one small key per client and limit.

Windows are fixed and start at a client's first hit: at most ``limit`` hits in any
window, at most twice that across the boundary of two windows.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, Protocol

from litestar.exceptions import TooManyRequestsException
from redis.asyncio import Redis

DurationUnit = Literal["second", "minute", "hour", "day"]
Rate = tuple[DurationUnit, int]
"""A limit as ``(unit, hits per unit)``, e.g. ``("minute", 60)``."""

SECONDS: dict[DurationUnit, int] = {"second": 1, "minute": 60, "hour": 3600, "day": 86_400}


class Hit(NamedTuple):
    """One counted request: the hits in its window so far (this one included), and
    the seconds until that window ends."""

    hits: int
    resets_in: int


class HitCounter(Protocol):
    """Where hits are counted. Swap it to change what a Redis outage does to limits."""

    async def hit(self, key: str, window: int) -> Hit:
        """Count a hit on ``key``; a key's window of ``window`` seconds starts at its first hit."""
        ...


_HIT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class RedisHitCounter:
    """Hits counted in Redis under ``namespace``: every API process shares the counts."""

    def __init__(self, redis: Redis, namespace: str) -> None:
        self._script = redis.register_script(_HIT)
        self._namespace = namespace

    async def hit(self, key: str, window: int) -> Hit:
        count, ttl = await self._script(keys=[f"{self._namespace}:{key}"], args=[window])
        return Hit(int(count), max(1, int(ttl)))


class RateLimitedError(TooManyRequestsException):
    """A client went over a limit; ``Retry-After`` says when its window ends."""

    def __init__(self, rate: Rate, hit: Hit) -> None:
        super().__init__(
            headers={
                "RateLimit-Limit": str(rate[1]),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(hit.resets_in),
            }
        )


class NewReaderLimitError(RateLimitedError):
    """A vote or bookmark from a client without a reader cookie, when that client has
    started as many new readers as the hour allows."""


def over(rate: Rate, hit: Hit) -> bool:
    """Whether ``hit`` went over ``rate``."""
    return hit.hits > rate[1]


async def count_hit(counter: HitCounter, name: str, client: str, rate: Rate) -> Hit:
    """Count one hit of ``client`` against the limit called ``name``."""
    return await counter.hit(f"{name}:{client}", SECONDS[rate[0]])
