"""What a send attempt comes to, by the SMTP stage where it failed, against a real
aiosmtpd server that misbehaves at that stage: ``unknown`` only when the message and
its final dot were sent and no reply came; before that, it is retried."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from services.core.config import SmtpTarget
from services.embedded import free_port
from services.worker.mime import Outgoing
from services.worker.smtp import Result, SmtpLink, SmtpUnavailableError, on_the_wire

CLIENT_TIMEOUT = 1.0
MESSAGE = Outgoing(
    recipient="reader@example.com",
    message_id="<m@verdicts.test>",
    data=b"Subject: hi\r\n\r\n.a line that starts with a dot\r\nbye\r\n",
)


class DataCommandFault(SMTP):
    """Answers the DATA command itself: closes the connection, or refuses it."""

    reply: str | None = None

    async def smtp_DATA(self, arg: str) -> None:
        if self.reply is None:
            assert self.transport is not None
            self.transport.close()
        else:
            await self.push(self.reply)


class Staged(Controller):
    """A real SMTP server (aiosmtpd) with one fault, keeping every message it took in."""

    def __init__(self, fault: str) -> None:
        self.fault = fault
        self.received: list[bytes] = []
        super().__init__(self, hostname="127.0.0.1", port=free_port())

    def factory(self) -> SMTP:
        if not self.fault.startswith("data-command"):
            return SMTP(self.handler, **self.SMTP_kwargs)
        server = DataCommandFault(self.handler, **self.SMTP_kwargs)
        server.reply = {"data-command-451": "451 4.3.0 later", "data-command-554": "554 no"}.get(
            self.fault
        )
        return server

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(bytes(envelope.original_content or b""))
        if self.fault == "no-reply-after-dot":
            await asyncio.sleep(CLIENT_TIMEOUT * 3)
        if self.fault == "closed-after-dot":
            assert server.transport is not None
            server.transport.close()
        if self.fault == "final-451":
            return "451 4.3.0 try later"
        if self.fault == "final-550":
            return "550 5.1.1 no such user"
        return "250 OK queued"


def link_to(port: int) -> SmtpLink:
    target = SmtpTarget(host="127.0.0.1", port=port, timeout=CLIENT_TIMEOUT)
    return SmtpLink(target, local_hostname="verdicts.test")


def serve(fault: str) -> Iterator[Staged]:
    server = Staged(fault)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("fault", "result", "code", "delivered"),
    [
        ("none", Result.SENT, None, True),
        ("data-command-drop", Result.RETRY, None, False),
        ("data-command-451", Result.RETRY, 451, False),
        ("data-command-554", Result.BOUNCE, 554, False),
        ("no-reply-after-dot", Result.UNKNOWN, None, True),
        ("closed-after-dot", Result.UNKNOWN, None, True),
        ("final-451", Result.RETRY, 451, True),
        ("final-550", Result.BOUNCE, 550, True),
    ],
)
async def test_each_stage_has_its_outcome(
    fault: str, result: Result, code: int | None, delivered: bool
) -> None:
    for server in serve(fault):
        link = link_to(server.port)
        attempt = await link.send("digest@verdicts.test", MESSAGE)
        await link.close()
        assert (attempt.result, attempt.code) == (result, code), attempt
        # "delivered" here: the server got the whole message (it may still refuse it).
        assert bool(server.received) == delivered
        if server.received:
            assert server.received[0].endswith(b"bye\r\n")
            assert b"\r\n.a line that starts with a dot\r\n" in server.received[0]


async def test_a_refused_connection_is_not_an_attempt() -> None:
    """Nothing was sent: the dispatcher puts the row back to ``pending``, uncounted."""
    with pytest.raises(SmtpUnavailableError):
        await link_to(free_port()).send("digest@verdicts.test", MESSAGE)


def test_the_wire_form_doubles_leading_dots_and_ends_with_the_final_dot() -> None:
    assert on_the_wire(b"a\n.b\r.c") == b"a\r\n..b\r\n..c\r\n.\r\n"
    assert on_the_wire(b"a\r\n") == b"a\r\n.\r\n"
