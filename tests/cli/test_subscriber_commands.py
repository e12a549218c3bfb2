"""`verdicts subscriber`, run as an operator would: a real process, real exit codes."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from services.core.config import Settings
from services.core.store import Pool
from services.core.subscriptions import (
    confirm_subscription,
    erase_subscriber,
    request_subscription,
    unsubscribe,
)
from services.worker.confirmations import ConfirmationMails, ingest
from services.worker.dispatch import Dispatcher
from tests.fixtures import Sink

from .test_main import run


async def test_erase_a_subscriber_by_address(pool: Pool, dsn: str) -> None:
    sid = await request_subscription(pool, "erase-me@example.com")
    result = run(dsn, "subscriber", "erase", "Erase-Me@example.com")
    assert result.returncode == 0, result.stderr
    assert sid in result.stderr
    assert await pool.fetchval("select count(*) from subscriber_emails") == 0
    again = run(dsn, "subscriber", "erase", "erase-me@example.com")
    assert again.returncode == 2 and "no subscriber" in again.stderr


async def test_list_show_and_export(pool: Pool, dsn: str) -> None:
    pending = await request_subscription(pool, "pending@example.com")
    reader = await request_subscription(pool, "reader@example.com", request_id="rq-show")
    await confirm_subscription(pool, reader)
    leaver = await request_subscription(pool, "leaver@example.com")
    await unsubscribe(pool, leaver, "link")
    gone = await request_subscription(pool, "gone@example.com")
    await erase_subscriber(pool, gone)

    listed = run(dsn, "subscriber", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    statuses = {r["subscriber_id"]: (r["email"], r["status"]) for r in json.loads(listed.stdout)}
    assert statuses == {
        pending: ("pending@example.com", "pending"),
        reader: ("reader@example.com", "confirmed"),
        leaver: ("leaver@example.com", "unsubscribed"),
        gone: (None, "erased"),
    }
    only = json.loads(run(dsn, "subscriber", "list", "--status", "confirmed", "--json").stdout)
    assert [r["subscriber_id"] for r in only] == [reader]
    table = run(dsn, "subscriber", "list")
    assert "reader@example.com" in table.stdout and "4 subscriber(s)" in table.stderr
    bad = run(dsn, "subscriber", "list", "--status", "happy")
    assert bad.returncode == 2 and "'happy' is not one of" in bad.stderr

    shown = json.loads(run(dsn, "subscriber", "show", "Reader@Example.com", "--json").stdout)
    assert [h["event"] for h in shown["history"]] == [
        "SubscriptionRequested",
        "SubscriptionConfirmed",
    ]
    assert shown["history"][0]["request_id"] == "rq-show"
    erased = run(dsn, "subscriber", "show", gone)
    assert erased.returncode == 0 and "(address erased)" in erased.stdout
    assert "SubscriberErased" in erased.stdout
    unknown = run(dsn, "subscriber", "show", "nobody@example.com")
    assert unknown.returncode == 2 and "no subscriber" in unknown.stderr

    exported = {r["subscriber_id"]: r for r in json.loads(run(dsn, "subscriber", "export").stdout)}
    assert len(exported) == 4
    assert [h["detail"] for h in exported[leaver]["history"]][-1] == "reason: link"
    as_csv = run(dsn, "subscriber", "export", "--csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {r["subscriber_id"] for r in rows} == set(exported)
    left = next(r for r in rows if r["subscriber_id"] == leaver)
    assert left["email"] == "leaver@example.com" and "Unsubscribed reason: link" in left["history"]


async def test_import_confirms_without_mail_once_and_all_or_nothing(
    pool: Pool, dsn: str, settings: Settings, sink: Sink, tmp_path: Path
) -> None:
    was_pending = await request_subscription(pool, "asked@example.com")
    already = await request_subscription(pool, "already@example.com")
    await confirm_subscription(pool, already)
    leaver = await request_subscription(pool, "leaver@example.com")
    await unsubscribe(pool, leaver, "link")
    good = tmp_path / "list.csv"
    good.write_text(
        "Email,Name\n"
        "new@example.com,New\n"
        "NEW@example.com,Again\n"
        "\n"
        "asked@example.com,\n"
        "already@example.com,\n"
        "leaver@example.com,\n",
        encoding="utf-8",
    )
    first = run(dsn, "subscriber", "import", str(good))
    assert first.returncode == 0, first.stderr
    assert "2 confirmed, 1 already confirmed, 1 unsubscribed left as they are" in first.stderr
    assert "(1 duplicate row(s) in the file)" in first.stderr and "ignored column(s): name" in (
        first.stderr
    )
    new = await pool.fetchval(
        "select subscriber_id::text from subscriber_emails where email = 'new@example.com'"
    )
    log = await pool.fetch(
        "select stream_id, type, metadata ->> 'actor' from events"
        " where metadata ->> 'actor' = 'operator import' order by position"
    )
    assert [tuple(r) for r in log] == [
        (f"subscriber-{new}", "SubscriptionRequested", "operator import"),
        (f"subscriber-{new}", "SubscriptionConfirmed", "operator import"),
        (f"subscriber-{was_pending}", "SubscriptionConfirmed", "operator import"),
    ]
    statuses = await pool.fetch("select status, count(*) from subscribers group by 1 order by 1")
    assert [tuple(r) for r in statuses] == [("confirmed", 3), ("unsubscribed", 1)]

    events = await pool.fetchval("select count(*) from events")
    again = run(dsn, "subscriber", "import", str(good))
    assert "0 confirmed, 3 already confirmed" in again.stderr
    assert await pool.fetchval("select count(*) from events") == events

    # The worker's next confirmation pass mails nobody: all of them are confirmed now.
    await ingest(pool, daily_limit=settings.confirm_daily_limit)
    await Dispatcher(pool, settings, ConfirmationMails(settings)).run()
    assert sink.count() == 0

    bad = tmp_path / "bad.csv"
    bad.write_text("email\nfine@example.com\nnot-an-address\nalso@example.com\n@nope\n")
    refused = run(dsn, "subscriber", "import", str(bad))
    assert refused.returncode == 2
    assert "line 3: not a usable email address" in refused.stderr
    assert "line 5: not a usable email address" in refused.stderr
    assert "2 bad row(s)" in refused.stderr and "nothing imported" in refused.stderr
    assert await pool.fetchval("select count(*) from events") == events
    headless = tmp_path / "headless.csv"
    headless.write_text("fine@example.com\n")
    no_header = run(dsn, "subscriber", "import", str(headless))
    assert no_header.returncode == 2 and "needs a header row" in no_header.stderr
    assert len(no_header.stderr.strip().splitlines()) == 1
