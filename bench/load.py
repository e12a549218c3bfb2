"""Closed-loop load: ``total`` operations shared by ``writers`` concurrent callers."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor


async def run_tasks(writers: int, total: int, op: Callable[[int], Awaitable[None]]) -> float:
    """Run ``op(writer)`` ``total`` times from ``writers`` asyncio tasks; calls per second."""
    left = iter(range(total))

    async def writer(w: int) -> None:
        for _ in left:
            await op(w)

    start = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    return total / (time.perf_counter() - start)


def run_threads(writers: int, total: int, op: Callable[[int], None]) -> float:
    """Run ``op(writer)`` ``total`` times from ``writers`` threads; calls per second."""
    left = iter(range(total))
    lock = threading.Lock()

    def writer(w: int) -> None:
        while True:
            with lock:
                if next(left, None) is None:
                    return
            op(w)

    start = time.perf_counter()
    with ThreadPoolExecutor(writers) as pool:
        list(pool.map(writer, range(writers)))
    return total / (time.perf_counter() - start)
