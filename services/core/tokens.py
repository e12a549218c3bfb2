"""Signed, expiring tokens for links in mail: they name a subscriber id, never an email.

Key rotation: ``SECRET_KEY`` lists keys newest first. A token is signed with the
newest and checked against each, so links mailed before a rotation keep working until
their key is removed from the list.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from .clock import Clock, system_clock
from .config import keys_oldest_first
from .errors import InvalidTokenError


class Purpose(StrEnum):
    """What a token may be used for, and for how long (seconds)."""

    CONFIRM = "confirm"
    UNSUBSCRIBE = "unsubscribe"

    @property
    def max_age(self) -> int:
        # Confirm links are short-lived; unsubscribe links must keep working in old
        # mails (RFC 8058 senders honour them long after sending).
        return 3 * 86_400 if self is Purpose.CONFIRM else 400 * 86_400


def _signer_on(clock: Clock) -> type[TimestampSigner]:
    """itsdangerous' timestamp signer, reading the time from ``clock`` (issue and expiry)."""

    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock().timestamp())

    return ClockedSigner


class Tokens:
    """Issues and checks tokens signed with ``SECRET_KEY`` (one key, or a comma-separated
    list newest first); ``clock`` dates and ages them."""

    def __init__(self, secret_key: str, *, clock: Clock = system_clock) -> None:
        keys = keys_oldest_first(secret_key)
        # One serializer per purpose, built once: a digest issues a token per recipient.
        signer = _signer_on(clock)
        self._serializers = {
            p: URLSafeTimedSerializer(keys, salt=f"verdicts-{p.value}", signer=signer)
            for p in Purpose
        }

    def issue(self, purpose: Purpose, subscriber_id: str) -> str:
        return self._serializers[purpose].dumps(subscriber_id)

    def read(self, purpose: Purpose, token: str) -> str:
        """The subscriber id in ``token``; ``InvalidTokenError`` if forged, mangled or expired."""
        try:
            value = self._serializers[purpose].loads(token, max_age=purpose.max_age)
        except SignatureExpired:
            raise InvalidTokenError(purpose.value, expired=True) from None
        except BadSignature:
            raise InvalidTokenError(purpose.value, expired=False) from None
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise InvalidTokenError(purpose.value, expired=False) from None
