"""Composing MIME messages fast: build once, personalise per recipient.

Building an ``EmailMessage`` per recipient costs milliseconds; a digest goes to
thousands. ``MailTemplate`` encodes the fixed headers once and, per recipient, only
substitutes the placeholders, quoted-printable-encodes the lines that hold them (C
speed, via ``binascii``; the other lines were encoded once) and adds the
per-recipient headers. The result is a
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

from services.core.mail_render import RenderedMail

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

Segments = tuple[bytes | str, ...]
"""A body as quoted-printable runs of fixed lines, and the lines with placeholders."""


def _segments(body: str, placeholders: Sequence[str]) -> Segments:
    """Cut ``body`` at line ends: runs of lines without a placeholder are encoded now,
    lines with one stay text. Quoted-printable encodes line by line, so encoding the
    pieces apart gives the same lines as encoding the whole body."""
    out: list[bytes | str] = []
    fixed: list[str] = []
    lines = body.split("\n")
    for n, line in enumerate(lines):
        if n < len(lines) - 1:
            line += "\n"
        if not any(p in line for p in placeholders):
            fixed.append(line)
            continue
        if fixed:
            out.append(_qp("".join(fixed)))
            fixed = []
        out.append(line)
    if fixed:
        out.append(_qp("".join(fixed)))
    return tuple(out)


def _qp(text: str) -> bytes:
    return binascii.b2a_qp(text.encode(), istext=True)


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
        self._bodies: dict[tuple[str, ...], tuple[Segments, Segments]] = {}

    def _split(self, placeholders: tuple[str, ...]) -> tuple[Segments, Segments]:
        """The text and HTML bodies cut for these placeholders, cut once per set."""
        bodies = self._bodies.get(placeholders)
        if bodies is None:
            bodies = self._bodies[placeholders] = (
                _segments(self.mail.text, placeholders),
                _segments(self.mail.html, placeholders),
            )
        return bodies

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
        text, html = self._split(tuple(fields))
        escaped = {placeholder: escape(value) for placeholder, value in fields.items()}
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
                *_fill(text, fields),
                self._html_head,
                *_fill(html, escaped),
                self._close,
            )
        )
        return Outgoing(recipient=to, message_id=message_id, data=data)


def _fill(body: Segments, fields: Mapping[str, str]) -> list[bytes]:
    """``body``'s encoded pieces, its placeholder lines filled in and encoded."""
    out = []
    for piece in body:
        if isinstance(piece, str):
            for placeholder, value in fields.items():
                piece = piece.replace(placeholder, value)
            piece = _qp(piece)
        out.append(piece)
    return out
