"""Log lines: one JSON object each, carrying the bound ids, never an address or a
token, and arq's per-job tick lines dropped."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.logs import bound, configure_logging, formatter

log = logging.getLogger("tests.logs")
JSON = formatter("json")


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    out = capsys.readouterr().err.splitlines()
    return [json.loads(line) for line in out if line.strip()]


def test_one_json_object_a_line_with_the_bound_ids(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json")
    with bound(request_id="rq-7"):
        log.info("vote cast", extra={"comparison": "a-vs-b", "count": 3})
    log.warning("after the request")
    first, second = lines(capsys)
    assert first["event"] == "vote cast" and first["request_id"] == "rq-7"
    assert (first["comparison"], first["count"], first["level"]) == ("a-vs-b", 3, "info")
    assert first["logger"] == "tests.logs" and first["timestamp"].endswith("Z")
    assert "request_id" not in second and "message" not in second


def test_addresses_and_tokens_are_masked_even_in_tracebacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json")
    try:
        raise ValueError("refused reader@example.com at /subscribe/confirm?token=abc.DEF-1")
    except ValueError:
        log.exception("send failed for Other.Person+tag@mail.example.org")
    (line,) = lines(capsys)
    text = json.dumps(line)
    assert "example.com" not in text and "Other.Person" not in text and "abc.DEF-1" not in text
    assert line["event"] == "send failed for [address]"
    assert "token=[redacted]" in line["exception"] and "Traceback" in line["exception"]


@given(
    local=st.from_regex(r"[a-z0-9][a-z0-9.+_-]{0,20}", fullmatch=True),
    domain=st.from_regex(r"[a-z0-9]{1,12}(\.[a-z]{2,6}){1,2}", fullmatch=True),
)
def test_any_address_is_masked(local: str, domain: str) -> None:
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "to %s", (f"{local}@{domain}",), None
    )
    assert f"{local}@{domain}" not in JSON.format(record)


def test_arq_job_ticks_are_dropped_failures_kept(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json")
    arq = logging.getLogger("arq.worker")
    arq.info("%6.2fs → %s(%s)%s", 0.01, "cron:heartbeat:1", "", "")
    arq.info("%6.2fs ← %s ● %s", 0.01, "cron:heartbeat:1", "")
    arq.info("recording health: %s", "j_complete=3")
    arq.error("%6.2fs ! %s failed, %s: %s", 0.2, "cron:send:1", "OSError", "boom")
    (line,) = lines(capsys)
    assert line["level"] == "error" and "cron:send:1 failed" in line["event"]


def test_console_lines_for_verdicts_dev(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("console")
    log.info("hello", extra={"week": "2026-W47"})
    out = capsys.readouterr().err
    configure_logging("json")
    assert "hello" in out and "week=2026-W47" in out and not out.startswith("{")
