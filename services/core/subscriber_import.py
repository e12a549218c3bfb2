"""Importing subscribers whose consent the operator already holds.

**The operator must hold each address's consent** to receive the digest (a sign-up
elsewhere, an earlier list that recorded its opt-in). Imported addresses get no
confirmation mail: the import appends what a confirmation would have left in the log,
``SubscriptionRequested`` then ``SubscriptionConfirmed``, with ``actor: operator
import`` in their metadata.

The file is read and checked whole first: a row that is not an address is reported
with its line number, and a file with any bad row imports nothing. A good file is
imported in batches of ``IMPORT_BATCH`` addresses, one transaction each: if the import
stops part way (the database went away), the batches committed stay, and running it
again imports the rest; nothing is appended twice, because an address already
confirmed appends nothing.

Per address: new, confirmed; pending (asked, never clicked), confirmed; confirmed,
left as is; unsubscribed, left as is (they left: an import does not re-subscribe
anyone). An erased address was deleted, so it comes back as a new subscriber.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidEmailError, VerdictsError
from .events import Event, SubscriptionConfirmed, SubscriptionRequested
from .store import Connection, Metadata, Pool
from .streams import SUBSCRIBER
from .subscriptions import normalise_email, status_of, subscriber_id_for
from .writes import append_at_current_version, run_write

IMPORT_ACTOR = "operator import"
IMPORT_BATCH = 500
EMAIL_COLUMN = "email"


class ImportFileError(VerdictsError):
    """The file cannot be imported at all (unreadable, no header, no email column)."""


@dataclass(frozen=True, slots=True)
class ImportRows:
    """A file read and checked: its addresses (normalised, each once) or its problems."""

    addresses: tuple[str, ...]
    problems: tuple[str, ...]
    duplicates: int
    ignored_columns: tuple[str, ...]


def read_import_file(path: Path) -> ImportRows:
    """Read ``path`` (CSV, UTF-8, a header row with an ``email`` column)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise ImportFileError(f"{path} cannot be read: {exc.strerror}") from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if EMAIL_COLUMN not in header:
        found = ", ".join(header) or "nothing"
        raise ImportFileError(
            f"{path} needs a header row with an {EMAIL_COLUMN!r} column (found: {found})"
        )
    column = header.index(EMAIL_COLUMN)
    addresses: dict[str, None] = {}
    problems, seen = [], 0
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            seen += 1
            try:
                addresses[normalise_email(row[column] if column < len(row) else "")] = None
            except InvalidEmailError as exc:
                problems.append(f"line {reader.line_num}: {exc}")
    except csv.Error as exc:
        raise ImportFileError(f"{path} line {reader.line_num}: not CSV ({exc})") from None
    return ImportRows(
        addresses=tuple(addresses),
        problems=tuple(problems),
        duplicates=seen - len(problems) - len(addresses),
        ignored_columns=tuple(h for h in header if h != EMAIL_COLUMN),
    )


@dataclass(slots=True)
class ImportReport:
    confirmed: int = 0
    """Addresses confirmed by this import (new, or pending until now)."""
    already_confirmed: int = 0
    unsubscribed: int = 0
    """Addresses that had unsubscribed: left as they are."""


async def import_confirmed(
    pool: Pool, addresses: tuple[str, ...], *, batch: int = IMPORT_BATCH
) -> ImportReport:
    """Confirm ``addresses`` (normalised, as ``read_import_file`` gives them)."""
    report = ImportReport()
    for start in range(0, len(addresses), batch):
        chunk = addresses[start : start + batch]

        async def import_chunk(conn: Connection, chunk: tuple[str, ...] = chunk) -> ImportReport:
            done = ImportReport()
            for address in chunk:
                await _import_one(conn, address, done)
            return done

        done = await run_write(pool, import_chunk)
        report.confirmed += done.confirmed
        report.already_confirmed += done.already_confirmed
        report.unsubscribed += done.unsubscribed
    return report


async def _import_one(conn: Connection, address: str, report: ImportReport) -> None:
    sid = await subscriber_id_for(conn, address)
    status = await status_of(conn, sid)
    if status == "confirmed":
        report.already_confirmed += 1
        return
    if status == "unsubscribed":
        report.unsubscribed += 1
        return
    events: list[Event] = [SubscriptionConfirmed()]
    if status != "pending":
        events.insert(0, SubscriptionRequested())
    await append_at_current_version(
        conn, SUBSCRIBER.name(sid), events, metadata=Metadata(actor=IMPORT_ACTOR)
    )
    report.confirmed += 1
