"""Messages built once and personalised per recipient parse back to exactly what was
rendered, whatever the text; weeks and schedules parse or say clearly why not."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.core.errors import InvalidWeekError
from services.core.mail_render import RenderedMail
from services.core.weeks import IsoWeek
from services.worker.mime import MailTemplate
from services.worker.schedule import InvalidScheduleError, Schedule

URL = "@@url@@"
body_text = st.lists(
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)
    | st.sampled_from(["\n", "\t", ".", "\n.", "=", " \n", "--", "=_verdicts_", "@@"]),
    max_size=30,
).map("".join)


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


@settings(max_examples=150, deadline=None)
@given(
    subject=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=120),
    text=body_text,
    html=body_text,
    token=st.from_regex(r"[A-Za-z0-9_.\-]{1,120}", fullmatch=True),
)
def test_personalised_messages_round_trip(subject: str, text: str, html: str, token: str) -> None:
    mail = RenderedMail(subject=subject, text=text + URL, html=html + URL)
    template = MailTemplate(sender="Verdicts <digest@verdicts.test>", mail=mail)
    out = template.personalise(
        to="reader@example.com",
        message_id="<m-1@verdicts.test>",
        date=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
        fields={URL: f"https://verdicts.test/u?token={token}&x=1"},
        headers=(("List-Unsubscribe", "<https://verdicts.test/o>, <mailto:u@verdicts.test>"),),
    )
    # As the SMTP server stores it: every line ending CRLF.
    msg = parse(out.data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    assert " ".join(msg["Subject"].split()) == " ".join(subject.split())
    assert msg["Message-ID"] == "<m-1@verdicts.test>"
    assert msg["List-Unsubscribe"] == "<https://verdicts.test/o>, <mailto:u@verdicts.test>"
    plain, rich = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and rich is not None
    expected_text = text + f"https://verdicts.test/u?token={token}&x=1"
    assert plain.get_content().replace("\r\n", "\n") == expected_text
    assert rich.get_content().replace("\r\n", "\n").endswith(f"token={token}&amp;x=1")


def test_non_ascii_address_asks_for_smtputf8() -> None:
    template = MailTemplate(
        sender="Verdicts <digest@verdicts.test>",
        mail=RenderedMail(subject="s", text="t", html="h"),
    )
    out = template.personalise(
        to="jürgen@example.com", message_id="<m@x>", date=datetime.now(UTC), fields={}
    )
    assert out.needs_smtputf8 and parse(out.data)["To"] == "jürgen@example.com"


@pytest.mark.parametrize(
    ("text", "week", "start"),
    [("2026-W47", (2026, 47), "2026-11-16"), ("2020-W53", (2020, 53), "2020-12-28")],
)
@pytest.mark.calendar
def test_weeks(text: str, week: tuple[int, int], start: str) -> None:
    parsed = IsoWeek.parse(text)
    assert tuple(parsed) == week and str(parsed) == text
    assert parsed.start.date().isoformat() == start
    assert IsoWeek.of(parsed.end).previous == parsed
    assert IsoWeek.last_complete(parsed.start) == parsed.previous


@pytest.mark.parametrize("bad", ["2026-47", "2026-W54", "2026-W00", "2021-W53", ""])
def test_bad_weeks_say_how_to_write_one(bad: str) -> None:
    with pytest.raises(InvalidWeekError, match="write it like 2026-W47"):
        IsoWeek.parse(bad)


@pytest.mark.calendar
def test_default_schedule_is_monday_eight_utc() -> None:
    schedule = Schedule.parse("0 8 * * 1")
    assert schedule.arq_options()["weekday"] == {0} and schedule.arq_options()["hour"] == {8}
    fire = schedule.next_after(datetime(2026, 11, 23, 8, 0, 1, tzinfo=UTC))
    assert fire == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    assert Schedule.parse("*/15 6-8 * * 0,7").weekday == {6}


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("0 8 * *", "4 field"),
        ("0 25 * * 1", "hour field '25' outside 0-23"),
        ("x 8 * * 1", "not a number"),
        ("0 8 1 * 1", "not both"),
    ],
)
def test_bad_schedules_are_refused_clearly(expr: str, reason: str) -> None:
    with pytest.raises(InvalidScheduleError, match=reason):
        Schedule.parse(expr)
