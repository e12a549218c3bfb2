"""The event catalog: every fact the system records, as versioned msgspec Structs.

An event's payload never holds personal data (email addresses live in the
`subscriber_emails` table, keyed by subscriber id), so the log stays complete and
replayable after an erasure.

Shapes change over time: each type has a current ``version``; older payloads are
brought forward by a chain of pure upcasters (``v1 -> v2 -> ...``) before decoding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec

Verdict = Literal["ship", "skip"]
Reviewer = Literal["builder", "skeptic", "founder", "futurist"]
UnsubscribeReason = Literal["link", "one-click", "bounce", "complaint", "operator"]
ErasureReason = Literal["request", "unconfirmed"]
"""``request``: erased on the person's request (``verdicts subscriber erase``);
``unconfirmed``: a subscription never confirmed, purged after its retention time."""

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
Slug = Annotated[str, msgspec.Meta(pattern=SLUG_PATTERN, max_length=100)]
"""A catalog slug: lowercase letters and digits in dash-separated words."""
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
Score = Annotated[int, msgspec.Meta(ge=0, le=100)]


class Event(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """Base of every event; ``version`` is the payload's current schema version."""

    version: ClassVar[int] = 1


# --- catalog ---------------------------------------------------------------------------
# The catalog's shapes are defined once, here: the catalog file, the events, the
# projection's columns and the read models all use them. Outside an event they refuse
# unknown fields, so a typo in a catalog file is an error rather than a lost field.


class Tool(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A tool as the catalog lists it."""

    slug: Slug
    name: Text
    vendor: Text
    category: Text
    tagline: Text
    description: Text
    pricing_entry: Text


TOOL_FIELDS: tuple[str, ...] = Tool.__struct_fields__


class ToolListed(Event, Tool, frozen=True, kw_only=True):
    pass


class ToolRevised(ToolListed, frozen=True, kw_only=True):
    """The tool's whole new description (not a patch), so replay needs no merge rules."""


class SideNotes(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a comparison says of one of its tools besides the reviews."""

    tool: Slug
    pricing_read: Text
    best_for: Text


class Review(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One panel reviewer's score and verdict on one tool of a comparison."""

    tool: Slug
    reviewer: Reviewer
    score: Score
    verdict: Verdict
    text: Text


class ComparisonContent(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A comparison as published: two tools, the notes on each and the panel's reviews."""

    slug: Slug
    title: Text
    published_at: datetime
    tools: tuple[Slug, Slug]
    sides: tuple[SideNotes, ...]
    reviews: tuple[Review, ...]


class ComparisonPublished(Event, ComparisonContent, frozen=True, kw_only=True):
    pass


class ComparisonRevised(ComparisonPublished, frozen=True, kw_only=True):
    """The comparison's whole new content; ``published_at`` may be corrected too."""


class ComparisonWithdrawn(Event, frozen=True, kw_only=True):
    slug: str
    reason: str = ""


# --- readers ---------------------------------------------------------------------------


class VoteCast(Event, frozen=True, kw_only=True):
    comparison: str
    tool: str
    verdict: Verdict


class VoteWithdrawn(Event, frozen=True, kw_only=True):
    comparison: str
    tool: str


class BookmarkAdded(Event, frozen=True, kw_only=True):
    tool: str


class BookmarkRemoved(Event, frozen=True, kw_only=True):
    tool: str


# --- subscribers -----------------------------------------------------------------------


class SubscriptionRequested(Event, frozen=True, kw_only=True):
    """A reader asked for the digest; the address is in ``subscriber_emails``."""


class SubscriptionConfirmed(Event, frozen=True, kw_only=True):
    pass


class Unsubscribed(Event, frozen=True, kw_only=True):
    reason: UnsubscribeReason


class DigestDelivered(Event, frozen=True, kw_only=True):
    week: str
    message_id: str


class DigestBounced(Event, frozen=True, kw_only=True):
    week: str
    code: int
    permanent: bool


class SubscriberErased(Event, frozen=True, kw_only=True):
    # Added with a default: erasures recorded before it were all on request.
    reason: ErasureReason = "request"


# --- digests ---------------------------------------------------------------------------


class IssuedTally(msgspec.Struct, frozen=True, kw_only=True):
    comparison: str
    tool: str
    ship: int
    skip: int


class DigestIssued(Event, frozen=True, kw_only=True):
    week: str
    comparisons: tuple[str, ...]
    tallies: tuple[IssuedTally, ...]


class DigestCompleted(Event, frozen=True, kw_only=True):
    week: str
    sent: int
    bounced: int
    cancelled: int = 0
    """Recipients never sent to because an operator cancelled the week."""


class DigestPaused(Event, frozen=True, kw_only=True):
    """An operator held the week's send: senders stop before their next message."""

    week: str


class DigestResumed(Event, frozen=True, kw_only=True):
    week: str


class DigestCancelled(Event, frozen=True, kw_only=True):
    """An operator stopped the week for good; ``cancelled`` recipients were never sent to."""

    week: str
    cancelled: int


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventTypeError(Exception):
    """A stored event's type has no class in the registry."""

    def __init__(self, type_name: str, known: list[str]) -> None:
        super().__init__(f"unknown event type {type_name!r}; known: {', '.join(sorted(known))}")
        self.type_name = type_name


class EventCodec:
    """Encodes events to JSON and decodes stored rows, upcasting old shapes first.

    Upcasters are registered per (type, from_version) and applied in order until the
    payload reaches the class's current ``version``.
    """

    def __init__(self, types: list[type[Event]]) -> None:
        self._types: dict[str, type[Event]] = {t.__name__: t for t in types}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._decoders = {name: msgspec.json.Decoder(t) for name, t in self._types.items()}
        # name -> (current version, decoder): the one lookup of the common case.
        self._current = {name: (t.version, self._decoders[name]) for name, t in self._types.items()}
        self._encoder = msgspec.json.Encoder()

    def register_upcaster(self, type_name: str, from_version: int, upcast: Upcaster) -> None:
        """Register the pure function that turns a ``from_version`` payload into the next."""
        self._upcasters[(type_name, from_version)] = upcast

    def type_of(self, name: str) -> type[Event]:
        try:
            return self._types[name]
        except KeyError:
            raise UnknownEventTypeError(name, list(self._types)) from None

    def encode(self, event: Event) -> str:
        return self._encoder.encode(event).decode()

    def decode(self, type_name: str, schema_version: int, data: str | bytes) -> Event:
        """Decode a stored payload of ``schema_version`` into the current class."""
        current = self._current.get(type_name)
        if current is not None and current[0] == schema_version:
            return current[1].decode(data)
        cls = self.type_of(type_name)
        payload: dict[str, Any] = msgspec.json.decode(data)
        for v in range(schema_version, cls.version):
            try:
                payload = self._upcasters[(type_name, v)](payload)
            except KeyError:
                raise ValueError(f"no upcaster for {type_name} v{v} -> v{v + 1}") from None
        return msgspec.convert(payload, cls)

    @property
    def types(self) -> Mapping[str, type[Event]]:
        return self._types


ALL_EVENTS: list[type[Event]] = [
    ToolListed,
    ToolRevised,
    ComparisonPublished,
    ComparisonRevised,
    ComparisonWithdrawn,
    VoteCast,
    VoteWithdrawn,
    BookmarkAdded,
    BookmarkRemoved,
    SubscriptionRequested,
    SubscriptionConfirmed,
    Unsubscribed,
    DigestDelivered,
    DigestBounced,
    SubscriberErased,
    DigestIssued,
    DigestCompleted,
    DigestPaused,
    DigestResumed,
    DigestCancelled,
]

CODEC = EventCodec(ALL_EVENTS)


def type_name(event: Event) -> str:
    """The name an event is stored under (its class name)."""
    return type(event).__name__
