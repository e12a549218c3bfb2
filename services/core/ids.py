"""Identifiers for new streams: time-ordered UUIDs (RFC 9562 version 7).

A reader's or a subscriber's id leads its stream id (``reader-<id>``). Random (v4) ids
spread the inserts of new streams over the whole ``(stream_id, stream_version)`` index
once it outgrows the buffer cache; version 7 ids begin with the time they were made, so
new streams append at the right edge of the index, as the log itself does.
"""

from __future__ import annotations

import os
import time
import uuid

_MS_BITS = 48


def time_ordered_uuid(unix_ms: int | None = None, *, entropy: int | None = None) -> uuid.UUID:
    """A version 7 UUID: ``unix_ms`` (default: now) in the top 48 bits, then the
    version, 74 bits of ``entropy`` (default: random) and the variant."""
    ms = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    bits = int.from_bytes(os.urandom(10), "big") if entropy is None else entropy
    value = (ms & ((1 << _MS_BITS) - 1)) << 80 | (bits & ((1 << 80) - 1))
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return uuid.UUID(int=value)
