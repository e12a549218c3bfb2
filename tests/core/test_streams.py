"""Stream names: each kind names its streams by key and reads the key back, and no kind
claims another kind's streams."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.streams import COMPARISON, DIGEST, READER, SUBSCRIBER, TOOL, StreamKind

KINDS = (READER, SUBSCRIBER, TOOL, COMPARISON, DIGEST)

keys = st.text(max_size=40)
kinds = st.sampled_from(KINDS)


@given(kind=kinds, key=keys)
def test_name_and_key_round_trip(kind: StreamKind, key: str) -> None:
    stream = kind.name(key)
    assert kind.holds(stream)
    assert kind.key(stream) == key
    assert kind.name(kind.key(stream)) == stream


@given(kind=kinds, other=kinds, key=keys)
def test_kinds_do_not_claim_each_others_streams(
    kind: StreamKind, other: StreamKind, key: str
) -> None:
    assert other.holds(kind.name(key)) == (other == kind)


@given(kind=kinds, stream=st.text(max_size=40))
def test_a_stream_is_held_only_with_its_prefix_and_a_dash(kind: StreamKind, stream: str) -> None:
    assert kind.holds(stream) == stream.startswith(kind.prefix + "-")
    if kind.holds(stream):
        assert kind.name(kind.key(stream)) == stream


@pytest.mark.parametrize(
    ("kind", "key", "stream"),
    [
        (
            READER,
            "7d9f4c1e-3b1a-4c55-9d0e-1f2a3b4c5d6e",
            "reader-7d9f4c1e-3b1a-4c55-9d0e-1f2a3b4c5d6e",
        ),
        (
            SUBSCRIBER,
            "00000000-0000-0000-0000-000000000001",
            "subscriber-00000000-0000-0000-0000-000000000001",
        ),
        (TOOL, "claude-files-api", "tool-claude-files-api"),
        (COMPARISON, "a-vs-b", "comparison-a-vs-b"),
        (DIGEST, "2026-W47", "digest-2026-W47"),
    ],
)
def test_documented_names(kind: StreamKind, key: str, stream: str) -> None:
    assert kind.name(key) == stream
    assert kind.key(stream) == key


def test_prefix_without_dash_is_not_a_stream_of_the_kind() -> None:
    # "readers-…" or a bare "reader" must not be read as a reader stream.
    assert not READER.holds("readers-" + str(uuid.uuid4()))
    assert not READER.holds("reader")
    assert not TOOL.holds("tools-x")
    assert READER.holds("reader-")
    assert READER.key("reader-") == ""
