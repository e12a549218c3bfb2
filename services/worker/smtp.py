"""One reusable SMTP connection, and what each send attempt came to.

aiosmtplib has no pool and runs one message at a time per connection, so a sender
holds a few ``SmtpLink``s. What a failure means depends on how far the SMTP transaction
got, so each stage is run and judged on its own (RFC 5321 4.1.1.4, RFC 1047):

| stage | network failure (lost, timeout) | negative reply |
|---|---|---|
| connect, EHLO | ``SmtpUnavailableError``: pending, not counted | the same |
| MAIL, RCPT | ``RETRY``: nothing was sent | 4xx ``RETRY``, 5xx ``BOUNCE`` |
| DATA command, before 354 | ``RETRY``: the message was not sent | 4xx ``RETRY``, 5xx ``BOUNCE`` |
| message and final dot sent, no reply | ``UNKNOWN``: the server may have taken it | |
| reply to the final dot | | 2xx ``SENT``, 4xx ``RETRY``, 5xx ``BOUNCE`` |

Only the fourth row is ``UNKNOWN``: a server that got the final dot may have accepted
the message and lost the connection before saying so. Replies are classified by code,
since aiosmtplib has no separate 4xx/5xx exceptions. aiosmtplib's ``data()`` runs the
DATA command and the message in one call, so a failure before 354 looked like one
after the dot; here the two are separate (``_data``).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from enum import StrEnum

import aiosmtplib
from aiosmtplib import SMTPResponseException, SMTPStatus

from services.core.config import SmtpTarget
from services.worker.mime import Outgoing


class Result(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # 4xx, or the connection broke before the message went: try again
    BOUNCE = "bounce"  # 5xx: permanent refusal
    UNKNOWN = "unknown"  # no reply after the final dot: may have been delivered


@dataclass(frozen=True, slots=True)
class Attempt:
    result: Result
    code: int | None = None
    detail: str = ""


class SmtpUnavailableError(Exception):
    """No connection to the SMTP server could be made (down, refusing, TLS failure)."""

    def __init__(self, target: SmtpTarget, cause: BaseException) -> None:
        super().__init__(f"SMTP server {target.host}:{target.port} unavailable: {cause}")
        self.cause = cause


def classify(code: int, message: str) -> Attempt:
    """A negative reply: 5xx is permanent, anything else is worth retrying."""
    result = Result.BOUNCE if 500 <= code < 600 else Result.RETRY
    return Attempt(result, code, message[:500])


_NETWORK = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError)

_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_DOT = re.compile(rb"(?m)^\.")


def on_the_wire(data: bytes) -> bytes:
    """The message as DATA sends it: CRLF line ends, leading dots doubled, and the
    final ``.`` line (RFC 5321 4.5.2)."""
    data = _LINE_END.sub(b"\r\n", data)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return _LEADING_DOT.sub(b"..", data) + b".\r\n"


class SmtpLink:
    """A lazily (re)connected SMTP session, reused across messages."""

    def __init__(self, target: SmtpTarget, *, local_hostname: str) -> None:
        self._target = target
        self._local_hostname = local_hostname
        self._smtp: aiosmtplib.SMTP | None = None

    async def _session(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        t = self._target
        smtp = aiosmtplib.SMTP(
            hostname=t.host,
            port=t.port,
            username=t.username,
            password=t.password,
            use_tls=t.use_tls,
            # Explicit: aiosmtplib upgrades opportunistically when left as None.
            start_tls=t.start_tls,
            timeout=t.timeout,
            local_hostname=self._local_hostname,
        )
        try:
            await smtp.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise SmtpUnavailableError(t, exc) from exc
        self._smtp = smtp
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    async def send(self, sender: str, message: Outgoing) -> Attempt:
        """Send one message; ``SmtpUnavailableError`` if no connection can be made."""
        smtp = await self._session()
        options = ["SMTPUTF8"] if message.needs_smtputf8 else []
        encoding = "utf-8" if message.needs_smtputf8 else "ascii"
        try:
            await smtp.mail(sender, options=options, encoding=encoding)
            await smtp.rcpt(message.recipient, encoding=encoding)
        except SMTPResponseException as exc:
            await self._reset()
            return classify(exc.code, exc.message)
        except _NETWORK as exc:
            self._drop()
            return Attempt(Result.RETRY, None, f"connection lost before DATA: {exc}")
        return await self._data(smtp, on_the_wire(message.data))

    async def _data(self, smtp: aiosmtplib.SMTP, wire: bytes) -> Attempt:
        """DATA in its two stages: the command (nothing of the message has left yet),
        then the message with its final dot (from here the server may take it)."""
        try:
            start = await smtp.execute_command(b"DATA")
        except _NETWORK as exc:
            self._drop()
            return Attempt(Result.RETRY, None, f"connection lost before the message: {exc}")
        protocol = smtp.protocol
        if start.code != SMTPStatus.start_input or protocol is None:
            await self._reset()
            return classify(start.code, start.message)
        try:
            protocol.write(wire)
        except _NETWORK as exc:  # not written: the transport was already closed
            self._drop()
            return Attempt(Result.RETRY, None, f"connection lost before the message: {exc}")
        try:
            reply = await protocol.read_response(timeout=self._target.timeout)
        except _NETWORK as exc:
            self._drop()
            return Attempt(Result.UNKNOWN, None, f"no reply after the message was sent: {exc}")
        if not 200 <= reply.code < 300:
            return classify(reply.code, reply.message)
        return Attempt(Result.SENT)

    async def _reset(self) -> None:
        if self._smtp is None:
            return
        try:
            await self._smtp.rset()
        except (aiosmtplib.SMTPException, OSError):
            self._drop()

    async def close(self) -> None:
        """QUIT politely; a connection already gone is fine."""
        if self._smtp is None:
            return
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await self._smtp.quit()
        self._drop()
