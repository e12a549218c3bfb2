"""A proof of the digest: one real message of a week's issue to one address, marked
as a test, outside the ledger.

It is the message a subscriber would get (same bodies, same list headers), with the
subject prefixed ``[TEST]``, an ``X-Verdicts-Test`` header, a sample unsubscribe link
and a ``Message-ID`` of its own. Nothing is appended to the log and no recipient row
is written: the address need not be a subscriber, and a proof is never counted as a
delivery.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from email.utils import parseaddr

import msgspec

from services.core import digest_issues
from services.core.clock import Clock
from services.core.config import Settings
from services.core.errors import VerdictsError
from services.core.mail_render import UNSUBSCRIBE_URL
from services.core.store import Pool
from services.core.subscriptions import normalise_email
from services.core.weeks import IsoWeek

from .digest_delivery import list_headers
from .mime import MailTemplate, mail_domain
from .smtp import Result, SmtpLink, SmtpUnavailableError

SUBJECT_PREFIX = "[TEST] "
TEST_HEADER = ("X-Verdicts-Test", "yes: a test message, not sent to subscribers")


class NothingToProveError(VerdictsError):
    def __init__(self, week: IsoWeek) -> None:
        super().__init__(f"nothing published in {week}: there is no digest to test")
        self.week = week


class ProofNotSentError(VerdictsError):
    """The SMTP server could not be reached, or refused the message."""


@dataclass(frozen=True, slots=True)
class Proof:
    week: IsoWeek
    to: str
    subject: str
    message_id: str


async def send_proof(
    pool: Pool, settings: Settings, week: IsoWeek, to: str, *, clock: Clock
) -> Proof:
    """Send ``week``'s digest (as issued, or as it would be issued now) to ``to``."""
    address = normalise_email(to)
    async with pool.acquire() as conn:
        mail = await digest_issues.preview(conn, settings, week)
    if mail is None:
        raise NothingToProveError(week)
    template = MailTemplate(
        sender=settings.mail_from,
        mail=msgspec.structs.replace(mail, subject=SUBJECT_PREFIX + mail.subject),
        headers=(*list_headers(settings), TEST_HEADER),
    )
    domain = mail_domain(settings.mail_from)
    sample = f"{settings.public_url.rstrip('/')}/unsubscribe?token=test"
    message = template.personalise(
        to=address,
        message_id=f"<digest-test-{week}-{secrets.token_hex(8)}@{domain}>",
        date=clock(),
        fields={UNSUBSCRIBE_URL: sample},
        headers=(("List-Unsubscribe", f"<{sample}>"),),
    )
    link = SmtpLink(settings.smtp, local_hostname=domain)
    try:
        attempt = await link.send(parseaddr(settings.mail_from)[1], message)
    except SmtpUnavailableError as exc:
        raise ProofNotSentError(str(exc)) from None
    finally:
        await link.close()
    if attempt.result is not Result.SENT:
        reply = f"{attempt.code} " if attempt.code else ""
        raise ProofNotSentError(f"the SMTP server did not take it: {reply}{attempt.detail}")
    return Proof(week, address, SUBJECT_PREFIX + mail.subject, message.message_id)
