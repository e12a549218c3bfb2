"""Messages built once and personalised per recipient parse back to exactly what was
rendered, whatever the text; weeks and schedules parse or say clearly why not."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from services.core.mail_render import RenderedMail
from services.worker.mime import MailTemplate

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
        to="jürgen@example.com",
        message_id="<m@x>",
        date=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
        fields={},
    )
    assert out.needs_smtputf8 and parse(out.data)["To"] == "jürgen@example.com"
