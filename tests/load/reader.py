"""One simulated reader: votes, changes and withdraws votes, bookmarks, subscribes and
reads, one request at a time, as fast as the server answers, writing down each answer.

Each action is a real change for this reader (a new vote or a flipped one, a bookmark
it does not have yet), so every acknowledged action must append exactly one event.
Some go through the HTML forms instead of the JSON API; some JSON ones carry an
``Idempotency-Key`` and are sent twice, and the second must append nothing.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import httpx

from services.api.reader_cookie import COOKIE_NAME, ReaderCookies
from services.core.catalog_import import DEMO_CATALOG, load_catalog
from services.core.streams import READER
from tests.api.live import LIVE_SECRET

from .ledger import Acknowledged, Ledger

Target = tuple[str, str]  # comparison, tool

_CATALOG = load_catalog(DEMO_CATALOG)
TARGETS: list[Target] = [(c.slug, t) for c in _CATALOG.comparisons for t in c.tools]
TOOLS: list[str] = [t.slug for t in _CATALOG.tools]
ACTIONS = ("vote", "withdraw", "bookmark", "subscribe", "read")
WEIGHTS = (40, 10, 25, 10, 15)
FORM_SHARE = 0.25
RETRY_SHARE = 0.1
COOKIES = ReaderCookies(LIVE_SECRET, secure=False)


@dataclass
class Stats:
    """What one reader saw: latencies (seconds), answers by status, failed connections."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: int = 0
    actions: Counter[str] = field(default_factory=Counter)


class LoadReader:
    """A reader with its own cookies, its own view of its votes and bookmarks, and a ledger."""

    def __init__(self, base_url: str, prefix: str, index: int, seed: int) -> None:
        self.rng = random.Random(seed * 100_003 + index)
        self.reader_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        self.prefix = f"{prefix}-{index}"
        self.client = httpx.AsyncClient(
            base_url=base_url,
            cookies={COOKIE_NAME: COOKIES.cookie(self.reader_id).value or ""},
            timeout=60,
        )
        self.votes: dict[Target, str] = {}
        self.bookmarks: set[str] = set()
        self.ledger = Ledger()
        self.stats = Stats()
        self._n = 0

    @property
    def stream(self) -> str:
        return READER.name(self.reader_id)

    async def start(self) -> None:
        """Visit once: the CSRF cookie, echoed in a header from then on."""
        (await self.client.get("/api/v1/comparisons")).raise_for_status()
        self.client.headers["X-CSRFToken"] = self.client.cookies["csrftoken"]

    async def close(self) -> None:
        await self.client.aclose()

    async def act(self) -> None:
        """One action, chosen at random."""
        action = self.rng.choices(ACTIONS, WEIGHTS)[0]
        if action == "withdraw" and not self.votes:
            action = "vote"
        self.stats.actions[action] += 1
        await getattr(self, f"_{action}")()

    async def _send(
        self, method: str, url: str, *, idempotency_key: str | None = None, **kwargs: Any
    ) -> tuple[str, httpx.Response | None]:
        self._n += 1
        rid = f"{self.prefix}-{self._n}"
        self.ledger.sent.add(rid)
        headers = {"X-Request-ID": rid}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        started = perf_counter()
        try:
            response = await self.client.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError:
            self.stats.transport_errors += 1
            return rid, None
        self.stats.latencies.append(perf_counter() - started)
        self.stats.statuses[response.status_code] += 1
        return rid, response

    def _ack(self, rid: str, event_type: str | None, **data: str) -> None:
        stream = self.stream if event_type and event_type != "SubscriptionRequested" else None
        self.ledger.acknowledged.append(
            Acknowledged(rid, event_type, stream, tuple(sorted(data.items())))
        )

    async def _json(
        self, method: str, url: str, ok: int, event_type: str, body: Any = None, **data: str
    ) -> bool:
        """A JSON API call; a share of them sent again with the same Idempotency-Key."""
        key = uuid.uuid4().hex if self.rng.random() < RETRY_SHARE else None
        rid, r = await self._send(method, url, json=body, idempotency_key=key)
        if r is None or r.status_code != ok:
            return False
        self._ack(rid, event_type, **data)
        if key is not None:
            again, r2 = await self._send(method, url, json=body, idempotency_key=key)
            if r2 is not None and r2.status_code == ok:
                self._ack(again, None)
        return True

    async def _form(self, url: str, fields: dict[str, str], event_type: str, **data: str) -> bool:
        form = {"_csrf_token": self.client.cookies["csrftoken"], **fields}
        rid, r = await self._send("POST", url, data=form)
        if r is None or r.status_code != 303:
            return False
        self._ack(rid, event_type, **data)
        return True

    async def _vote(self) -> None:
        comparison, tool = target = self.rng.choice(TARGETS)
        before = self.votes.get(target)
        verdict = {"ship": "skip", "skip": "ship"}.get(
            before or "", self.rng.choice(["ship", "skip"])
        )
        data = {"comparison": comparison, "tool": tool, "verdict": verdict}
        url = f"/compare/{comparison}/votes/{tool}"
        if self.rng.random() < FORM_SHARE:
            done = await self._form(url, {"verdict": verdict}, "VoteCast", **data)
        else:
            done = await self._json(
                "PUT", f"/api/v1{url.replace('/compare/', '/comparisons/')}", 200, "VoteCast",
                {"verdict": verdict}, **data,
            )  # fmt: skip
        if done:
            self.votes[target] = verdict

    async def _withdraw(self) -> None:
        comparison, tool = target = self.rng.choice(sorted(self.votes))
        url = f"/api/v1/comparisons/{comparison}/votes/{tool}"
        if await self._json("DELETE", url, 200, "VoteWithdrawn", comparison=comparison, tool=tool):
            del self.votes[target]

    async def _bookmark(self) -> None:
        tool = self.rng.choice(TOOLS)
        add = tool not in self.bookmarks
        event_type = "BookmarkAdded" if add else "BookmarkRemoved"
        if self.rng.random() < FORM_SHARE:
            fields = {"action": "add" if add else "remove", "back": "bookmarks"}
            done = await self._form(f"/bookmarks/{tool}", fields, event_type, tool=tool)
        else:
            method = "PUT" if add else "DELETE"
            done = await self._json(method, f"/api/v1/bookmarks/{tool}", 200, event_type, tool=tool)
        if done:
            (self.bookmarks.add if add else self.bookmarks.discard)(tool)

    async def _subscribe(self) -> None:
        email = {"email": f"{self.prefix}-{self._n + 1}@example.com"}
        await self._json("POST", "/api/v1/subscriptions", 202, "SubscriptionRequested", email)

    async def _read(self) -> None:
        comparison, _ = self.rng.choice(TARGETS)
        rid, r = await self._send("GET", f"/api/v1/comparisons/{comparison}")
        if r is not None and r.status_code == 200:
            self._ack(rid, None)  # a read appends nothing
