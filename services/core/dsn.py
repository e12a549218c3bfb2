"""Delivery status notifications (RFC 3464): what a relay reports after it accepted
a message, read with the standard library's ``email`` package.

A DSN is ``multipart/report; report-type=delivery-status``. Its
``message/delivery-status`` part holds a block about the message, then one block per
recipient (``Action``: failed, delayed, delivered, relayed, expanded; ``Status``: an
enhanced status code, 5.x.x permanent, 4.x.x transient; ``Diagnostic-Code``: often
the remote server's reply). The original message, or only its headers, comes back in
a ``message/rfc822`` or ``text/rfc822-headers`` part: its ``Message-ID`` says which
message this is about.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message, MIMEPart
from email.parser import HeaderParser

from .errors import VerdictsError

_REPLY_CODE = re.compile(r";\s*([245]\d\d)\b")
_STATUS = re.compile(r"^([245])\.\d{1,3}\.\d{1,3}")
_ORIGINAL_TYPES = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")


class NotADsnError(VerdictsError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"not a delivery status notification: {reason}")


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What a DSN says about the one message it reports on."""

    action: str
    """failed, delayed, delivered, relayed or expanded (lower case)."""
    status: str
    """The enhanced status code, e.g. 5.1.1."""
    reply_code: int
    """The remote server's SMTP reply code from ``Diagnostic-Code``; without one, 500
    or 400 by the status's class."""
    original_message_id: str | None

    @property
    def permanent(self) -> bool:
        return self.status.startswith("5")


def parse_dsn(raw: bytes) -> DeliveryReport:
    """Read a DSN; ``NotADsnError`` for anything else (an auto-reply, a person's mail)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if (
        message.get_content_type() != "multipart/report"
        or message.get_param("report-type") != "delivery-status"
    ):
        raise NotADsnError(f"a {message.get_content_type()} message")
    assert isinstance(message, EmailMessage)  # the default policy makes EmailMessages
    parts = list(message.iter_parts())
    blocks = next(
        (p.get_payload() for p in parts if p.get_content_type() == "message/delivery-status"),
        None,
    )
    if not isinstance(blocks, list) or len(blocks) < 2:
        raise NotADsnError("no per-recipient delivery status")
    recipient = _worst([b for b in blocks[1:] if isinstance(b, Message)])
    status_match = _STATUS.match(str(recipient.get("Status", "")).strip())
    if status_match is None:
        raise NotADsnError(f"no usable Status field ({recipient.get('Status')!r})")
    code_match = _REPLY_CODE.search(str(recipient.get("Diagnostic-Code", "")))
    return DeliveryReport(
        action=str(recipient.get("Action", "")).strip().lower(),
        status=status_match[0],
        reply_code=int(code_match[1]) if code_match else int(status_match[1]) * 100,
        original_message_id=_original_message_id(parts),
    )


def _worst(recipients: list[Message]) -> Message:
    """The recipient block that matters most: a failure, else a delay, else the first."""
    for action in ("failed", "delayed"):
        for block in recipients:
            if str(block.get("Action", "")).strip().lower() == action:
                return block
    if not recipients:
        raise NotADsnError("no per-recipient delivery status")
    return recipients[0]


def _original_message_id(parts: list[MIMEPart]) -> str | None:
    for part in parts:
        if part.get_content_type() not in _ORIGINAL_TYPES:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            headers: Message = payload[0]
        else:
            headers = HeaderParser().parsestr(str(part.get_content()))
        found = headers.get("Message-ID")
        return str(found).strip() if found else None
    return None
