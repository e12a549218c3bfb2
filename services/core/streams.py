"""Stream names, built and parsed here and nowhere else.

Every event belongs to one stream named ``<kind>-<key>``: ``reader-<uuid>``,
``subscriber-<uuid>``, ``tool-<slug>``, ``comparison-<slug>``, ``digest-<ISO week>``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StreamKind:
    """One kind of stream: names its streams by key, and reads the key back."""

    prefix: str

    def name(self, key: str) -> str:
        """The stream of ``key``: ``reader-<id>`` for a reader id."""
        return f"{self.prefix}-{key}"

    def key(self, stream_id: str) -> str:
        """The key in a stream of this kind (the caller knows the kind)."""
        return stream_id[len(self.prefix) + 1 :]

    def holds(self, stream_id: str) -> bool:
        """Whether ``stream_id`` is a stream of this kind."""
        return stream_id.startswith(f"{self.prefix}-")


READER = StreamKind("reader")
SUBSCRIBER = StreamKind("subscriber")
TOOL = StreamKind("tool")
COMPARISON = StreamKind("comparison")
DIGEST = StreamKind("digest")
