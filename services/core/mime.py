"""Composing MIME messages fast: build once, personalise per recipient.

Building an ``EmailMessage`` per recipient costs milliseconds; a digest goes to
thousands. ``MailTemplate`` encodes the fixed headers once and, per recipient, only
substitutes the placeholders, quoted-printable-encodes the two bodies (C speed, via
``binascii``) and adds the per-recipient headers. The result is a
``multipart/alternative`` message (plain text, then HTML) that Python's ``email``
package parses back to the same text.
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from html import escape

from .mailrender import RenderedMail

_CRLF = "\r\n"


def mail_domain(sender: str) -> str:
    """The domain of a ``From`` value such as ``Name <digest@example.com>``."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


def _header(name: str, value: str) -> bytes:
    try:
        folded: bytes = SMTP.fold_binary(name, value)
    except UnicodeEncodeError:
        # CPython's header folder leaves some non-ASCII whitespace (a lone U+00A0, say)
        # unencoded and fails; RFC 2047-encode the whole value instead.
        encoded = Header(value, "utf-8", header_name=name).encode(linesep=_CRLF)
        return f"{name}: {encoded}{_CRLF}".encode()
    return folded


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message ready for SMTP."""

    recipient: str
    message_id: str
    data: bytes

    @property
    def needs_smtputf8(self) -> bool:
        return not self.recipient.isascii()


_FOLD = ",\r\n "


class MailTemplate:
    """A rendered mail plus its fixed headers; ``personalise`` makes each message."""

    def __init__(
        self, *, sender: str, mail: RenderedMail, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        self.sender = sender
        self.mail = mail
        # "=_" cannot occur in quoted-printable text, so the boundary never collides.
        boundary = f"=_verdicts_{secrets.token_hex(12)}"
        fixed = (
            ("From", sender),
            ("Subject", mail.subject),
            ("MIME-Version", "1.0"),
            ("Auto-Submitted", "auto-generated"),
            *headers,
        )
        self._head = (
            b"".join(_header(name, value) for name, value in fixed)
            + f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode()
            + b"This is a multipart message in MIME format.\r\n"
        )
        self._text_head, self._html_head = (
            (
                f'\r\n--{boundary}\r\nContent-Type: text/{kind}; charset="utf-8"\r\n'
                "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            ).encode()
            for kind in ("plain", "html")
        )
        self._close = f"\r\n--{boundary}--\r\n".encode()

    def personalise(
        self,
        *,
        to: str,
        message_id: str,
        date: datetime,
        fields: Mapping[str, str],
        headers: Sequence[tuple[str, str]] = (),
    ) -> Outgoing:
        """The message for one recipient: placeholders in ``fields`` replaced (escaped
        in the HTML part), plus per-recipient ``headers`` (ASCII values; a list is
        folded after each ", ")."""
        text, html = self.mail.text, self.mail.html
        for placeholder, value in fields.items():
            text = text.replace(placeholder, value)
            html = html.replace(placeholder, escape(value))
        own = "".join(
            [
                f"To: {to}\r\n",
                f"Date: {format_datetime(date)}\r\n",
                f"Message-ID: {message_id}\r\n",
                *(f"{name}: {value.replace(', ', _FOLD)}\r\n" for name, value in headers),
            ]
        )
        data = b"".join(
            (
                own.encode(),
                self._head,
                self._text_head,
                binascii.b2a_qp(text.encode(), istext=True),
                self._html_head,
                binascii.b2a_qp(html.encode(), istext=True),
                self._close,
            )
        )
        return Outgoing(recipient=to, message_id=message_id, data=data)
