"""One reusable SMTP connection, and what each send attempt came to.

aiosmtplib has no pool and runs one message at a time per connection, so a sender
holds a few ``SmtpLink``s. Each send runs MAIL, RCPT and DATA itself, so a failure is
known to be before DATA (nothing can have been delivered: retry) or during/after it
(the server may have accepted it: ``UNKNOWN``). Replies are classified by code, since
aiosmtplib has no separate 4xx/5xx exceptions.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from enum import StrEnum

import aiosmtplib
from aiosmtplib import SMTPResponseException

from services.core.config import SmtpTarget
from services.worker.mime import Outgoing


class Result(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # 4xx, or the connection broke before DATA: not delivered, try again
    BOUNCE = "bounce"  # 5xx: permanent refusal
    UNKNOWN = "unknown"  # broke during or after DATA: may have been delivered


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
        try:
            await smtp.data(message.data)
        except SMTPResponseException as exc:
            # The server answered: a refusal after DATA means it did not take the message.
            return classify(exc.code, exc.message)
        except _NETWORK as exc:
            self._drop()
            return Attempt(Result.UNKNOWN, None, f"connection lost during DATA: {exc}")
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
