"""The benchmark harness's own code at tiny sizes: the generator writes a log the
domain could have written, and the loads append exactly what they say. Speed is not
asserted here; `python -m bench` measures it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.append import VoteStreams, bare_insert, ours
from bench.catalog import bench_catalog, vote_targets
from bench.env import prepare_database
from bench.generate import LogGenerator, write_events
from bench.http import wrk_script
from bench.report import Row, markdown
from services.api.reader_cookie import ReaderCookies
from services.core.db import connect
from services.core.replay import replay
from services.core.store import Pool
from services.core.tallies import verify


def test_bench_catalog_has_ten_distinct_comparisons() -> None:
    catalog = bench_catalog()
    assert len(catalog.comparisons) == 10
    assert len({frozenset(c.tools) for c in catalog.comparisons}) == 10
    assert len(vote_targets()) == 20


async def test_generated_log_replays_to_the_generators_own_state(dsn: str) -> None:
    await prepare_database(dsn)
    generator = LogGenerator(readers=300)
    conn = await connect(dsn)
    try:
        await write_events(conn, generator, 3_000, chunk=1_000)
        await write_events(conn, generator, 1_000)  # resumes the same streams
        await replay(conn)
        assert await verify(conn) == []
        gapless = await conn.fetchval(
            "select bool_and(stream_version = n) from (select stream_version,"
            " row_number() over (partition by stream_id order by position) as n from events) e"
        )
        votes = await conn.fetchval("select count(*) from reader_votes")
        bookmarks = await conn.fetchval("select count(*) from reader_bookmarks")
        confirmed = await conn.fetchval(
            "select count(*) from subscribers where status = 'confirmed'"
        )
    finally:
        await conn.close()
    assert gapless
    readers = generator._readers
    assert votes == sum(len(r.votes) for r in readers)
    assert bookmarks == sum(len(r.bookmarks) for r in readers)
    assert confirmed == sum(s.status == "confirmed" for s in generator._subscribers)
    assert generator.generated == 4_000


def test_vote_streams_always_change_the_standing_vote() -> None:
    streams = VoteStreams(writers=1, per_writer=1)
    seen = [streams.next(0) for _ in range(2 * len(vote_targets()) + 1)]
    assert [version for _, version, _ in seen] == list(range(len(seen)))
    standing: dict[tuple[str, str], str] = {}
    for _, _, vote in seen:
        assert standing.get((vote.comparison, vote.tool)) != vote.verdict
        standing[(vote.comparison, vote.tool)] = vote.verdict


async def test_append_loads_write_each_event_once(pool: Pool, dsn: str) -> None:
    await prepare_database(dsn)
    before = await pool.fetchval("select count(*) from events")
    assert await ours(pool, 4, 40) > 0
    assert await pool.fetchval("select count(*) from events") == before + 40
    assert await pool.fetchval("select count(*) from reader_votes") == 40
    assert await bare_insert(pool, 4, 30) > 0
    assert await pool.fetchval("select count(*) from plain_events") == 30


@pytest.mark.parametrize("mode", ["health", "votes", "viral", "page"])
def test_wrk_scripts_carry_distinct_signed_readers(tmp_path: Path, mode: str) -> None:
    script = tmp_path / f"{mode}.lua"
    wrk_script(script, mode, "secret", 10, "csrf-token")
    text = script.read_text()
    line = next(x for x in text.splitlines() if x.startswith("local readers = {"))
    values = [v.strip().strip('"') for v in line.split("{", 1)[1].rstrip("}").split(",")]
    readers = {ReaderCookies("secret", secure=False).read(v) for v in values}
    assert len(readers) == 10 and None not in readers
    assert f'local mode = "{mode}"' in text and 'local csrf = "csrf-token"' in text


def test_markdown_table_marks_missed_targets() -> None:
    text = markdown([Row("x", "1/s", target="≥ 2/s", met=False), Row("y", "3/s")])
    assert "| x | 1/s | — | — | ≥ 2/s | MISSED |" in text
    assert text.count("\n") == 4
