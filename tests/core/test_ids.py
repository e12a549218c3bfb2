"""Time-ordered ids: RFC 9562 version 7, ordered by the millisecond they were made."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from services.core.ids import time_ordered_uuid

MS = st.integers(0, (1 << 48) - 2)  # room for one millisecond more
ENTROPY = st.integers(0, (1 << 80) - 1)


@given(MS, ENTROPY)
def test_version_7_with_its_millisecond_in_front(ms: int, entropy: int) -> None:
    made = time_ordered_uuid(ms, entropy=entropy)
    assert made.version == 7 and made.variant == uuid.RFC_4122
    assert made.int >> 80 == ms
    assert uuid.UUID(str(made)) == made


@given(MS, MS, ENTROPY, ENTROPY)
def test_a_later_millisecond_sorts_later_as_text_too(a: int, b: int, ea: int, eb: int) -> None:
    first, second = time_ordered_uuid(min(a, b), entropy=ea), time_ordered_uuid(max(a, b) + 1)
    assert first < second and str(first) < str(second)


def test_fresh_ids_differ() -> None:
    assert len({time_ordered_uuid() for _ in range(1000)}) == 1000
