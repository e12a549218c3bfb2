"""Reading delivery status notifications: real-shaped reports from Postfix and Exim,
and a message that is not one."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.core.dsn import NotADsnError, parse_dsn

FIXTURES = Path(__file__).parent / "dsn"
ORIGINAL = "<digest-2026-W47-00000000-0000-4000-8000-000000000000@verdicts.test>"


def dsn(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_a_postfix_permanent_failure() -> None:
    report = parse_dsn(dsn("postfix-permanent.eml"))
    assert (report.action, report.status, report.reply_code) == ("failed", "5.1.1", 550)
    assert report.permanent and report.original_message_id == ORIGINAL


def test_an_exim_delay_warning() -> None:
    report = parse_dsn(dsn("exim-delayed.eml"))
    assert (report.action, report.status, report.reply_code) == ("delayed", "4.0.0", 451)
    assert not report.permanent and report.original_message_id == ORIGINAL


def test_a_failure_without_a_diagnostic_code_takes_its_class() -> None:
    raw = dsn("postfix-permanent.eml").replace(b"Diagnostic-Code: smtp; 550", b"X-Note: was")
    raw = raw.replace(b"Status: 5.1.1", b"Status: 4.4.7")
    report = parse_dsn(raw)
    assert (report.status, report.reply_code, report.permanent) == ("4.4.7", 400, False)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (dsn("out-of-office.eml"), "a text/plain message"),
        (b"\x00\xff not mail at all", "a text/plain message"),
        (
            dsn("postfix-permanent.eml").replace(b"Status: 5.1.1", b"Status: soon"),
            "no usable Status",
        ),
        (
            dsn("postfix-permanent.eml").replace(b"report-type=delivery-status", b"report-type=x"),
            "multipart/report",
        ),
    ],
)
def test_anything_else_is_not_a_dsn(raw: bytes, reason: str) -> None:
    with pytest.raises(NotADsnError, match=reason):
        parse_dsn(raw)
