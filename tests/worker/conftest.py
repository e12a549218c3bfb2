"""A real SMTP server in the test process (aiosmtpd), and settings pointing at it."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from arq import Worker, create_pool
from arq.connections import RedisSettings

from services.core.catalog_import import DEMO_CATALOG, import_catalog, load_catalog
from services.core.clock import Clock, fixed_clock
from services.core.config import Settings
from services.core.store import Pool
from services.core.subscriptions import confirm_subscription, request_subscription
from services.core.weeks import IsoWeek
from services.embedded import free_port
from services.worker.confirmations import ConfirmationMails
from services.worker.digest_delivery import send_week
from services.worker.schedule import Schedule
from services.worker.settings import WorkerSettings
from tests.conftest import NOW

WEEK = "2026-W47"
"""The demo catalog publishes two comparisons in this week."""


@dataclass(frozen=True)
class Received:
    rcpt: str
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Sink:
    """Records every accepted message; can refuse addresses, defer them, or be slow."""

    port: int
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> reply ("550 ...")
    defer: dict[str, int] = field(default_factory=dict)  # address -> 451 replies left
    delay: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        with self._lock:
            if address in self.refuse:
                return self.refuse[address]
            if self.defer.get(address, 0) > 0:
                self.defer[address] -= 1
                return "451 4.7.1 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        data = envelope.original_content or b""
        with self._lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append(Received(rcpt, data))
        return "250 OK queued"

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.rcpt == address]

    def count(self) -> int:
        with self._lock:
            return len(self.received)

    def wait_for(self, n: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.count() < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.count()} of {n} messages arrived in {timeout}s")
            time.sleep(0.01)


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink(port=free_port())
    s.start()
    yield s
    s.stop()


@pytest.fixture
def settings(dsn: str, redis_url: str, sink: Sink) -> Settings:
    return Settings(
        database_url=dsn,
        redis_url=redis_url,
        smtp_url=sink.url,
        secret_key="test-secret",
        public_url="https://verdicts.test",
        mail_from="Weekly AI Tool Verdicts <digest@verdicts.test>",
        mail_retry_seconds=0.05,
        mail_lease_seconds=30.0,
        smtp_connections=3,
        mail_batch_size=20,
    )


@pytest.fixture
async def catalog(pool: Pool) -> None:
    await import_catalog(pool, load_catalog(DEMO_CATALOG))


async def confirmed(pool: Pool, n: int, prefix: str = "reader") -> dict[str, str]:
    """``n`` confirmed subscribers: address -> subscriber id."""
    out = {}
    for i in range(n):
        address = f"{prefix}{i}@example.com"
        sid = await request_subscription(pool, address)
        await confirm_subscription(pool, sid)
        out[address] = sid
    return out


Job = tuple[str, tuple[object, ...]]
"""An arq job by name, with its arguments."""

CLOCK = fixed_clock(NOW)
"""The clock the worker runs on in these tests (the suite's fixed time)."""


async def run_jobs(
    settings: Settings, pool: Pool, *jobs: Job, together: bool = False, clock: Clock = CLOCK
) -> None:
    """Run ``jobs`` with a real arq worker on real Redis (burst mode).

    By default one after another, in the order given, each to its end. With
    ``together`` they are enqueued at once and run concurrently: arq promises no order
    then, so a test that uses it must hold whichever job finishes first."""
    batches = [list(jobs)] if together else [[job] for job in jobs]
    assert settings.redis_url
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    try:
        for batch in batches:
            queue = f"verdicts-test-{uuid.uuid4().hex}"
            for name, args in batch:
                assert await redis.enqueue_job(name, *args, _queue_name=queue) is not None
            worker = Worker(
                functions=WorkerSettings.functions,
                redis_pool=redis,
                queue_name=queue,
                burst=True,
                handle_signals=False,
                max_jobs=len(batch),
                poll_delay=0.05,
                ctx={
                    "pool": pool,
                    "settings": settings,
                    "clock": clock,
                    "schedule": Schedule.parse(settings.digest_cron),
                    "confirmation_mails": ConfirmationMails(settings, clock=clock),
                },
            )
            # Not worker.close(): arq calls redis' deprecated close() there.
            await worker.async_run()
            assert worker.jobs_failed == 0
    finally:
        await redis.aclose()


async def send_all(pool: Pool, settings: Settings, week: str = WEEK) -> None:
    """Run digest passes as the worker's ticks would, until the week is complete."""
    async with asyncio.timeout(60):
        while True:
            run = await send_week(pool, settings, IsoWeek.parse(week), clock=CLOCK)
            if run.complete:
                return
            await asyncio.sleep(settings.mail_retry_seconds)


async def outcome(pool: Pool, sink: Sink, week: str = WEEK) -> dict[str, tuple[str, int, int]]:
    """Per recipient address: (queue state, messages received, ledger deliveries)."""
    rows = await pool.fetch(
        "select e.email, r.state, coalesce(d.deliveries, 0) from digest_recipients r"
        " join subscriber_emails e using (subscriber_id)"
        " left join digest_deliveries d on d.week = r.week and d.subscriber_id = r.subscriber_id"
        " where r.week = $1",
        week,
    )
    digests = [r for r in sink.received if b"Message-ID: <digest-" + week.encode() in r.data]
    got: dict[str, int] = {}
    for r in digests:
        got[r.rcpt] = got.get(r.rcpt, 0) + 1
    return {r[0]: (r[1], got.get(r[0], 0), r[2]) for r in rows}


def assert_once_each(result: dict[str, tuple[str, int, int]], *, max_unknown: int = 0) -> None:
    """Every recipient served exactly once, except ``unknown`` rows (at most once, and
    at most ``max_unknown`` of them); nobody silently skipped."""
    unknown = {a: v for a, v in result.items() if v[0] == "unknown"}
    assert len(unknown) <= max_unknown, unknown
    for address, (state, received, delivered) in result.items():
        if state == "unknown":
            assert received <= 1 and delivered == 0, (address, state, received)
        else:
            assert (state, received, delivered) == ("sent", 1, 1), (address, state, received)


async def until(pool: Pool, query: str, *args: object, within: float = 60) -> None:
    """Wait until ``query`` returns a true value."""
    async with asyncio.timeout(within):
        while True:
            if await pool.fetchval(query, *args):
                return
            await asyncio.sleep(0.05)
