"""Fixtures every test that mails or needs the demo catalog shares: a real SMTP server
in the test process (aiosmtpd), settings pointing at it, the demo catalog, confirmed
subscribers. A conftest imports the fixtures it wants from here."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.core.catalog_import import DEMO_CATALOG, import_catalog, load_catalog
from services.core.clock import fixed_clock
from services.core.config import Settings
from services.core.store import Pool
from services.core.subscriptions import confirm_subscription, request_subscription
from services.embedded import free_port
from tests.conftest import NOW

CLOCK = fixed_clock(NOW)
"""The suite's fixed time as a clock, for code that takes one outside a fixture."""

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


# aiosmtpd logs every SMTP command at INFO from its own thread, outside any test's
# captured output: the suite's log would be mostly its chatter.
logging.getLogger("mail.log").setLevel(logging.WARNING)


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
        secret_key="test-secret-key-for-fixtures-32-bytes+",
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
