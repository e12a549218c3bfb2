"""Scenarios 2-4 — votes and pages over HTTP against the production server setup.

The API runs as in production (``--workers`` per core, under uvicorn or granian)
against the bench PostgreSQL and an embedded Redis; wrk drives it from loopback with a
Lua script that sends each request as one of many readers (signed ``reader`` cookies)
with a valid CSRF cookie and header. Every figure is compared with the same server
answering ``GET /healthz`` (the framework's floor here) at the same concurrency.

2. votes spread over every (comparison, tool); 3. every vote on one comparison and
tool (the viral case); 4. ``GET /compare/{slug}`` with the community tally and chart.
Each vote request is a real change for its reader (a new vote or a flipped one).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from litestar.middleware.csrf import generate_csrf_token

from services.api.reader_cookie import ReaderCookies
from services.embedded import free_port, redis_server, wait_for_port

from .catalog import bench_catalog, vote_targets
from .env import Bench
from .report import Row, ms, rate, ratio

CONNECTIONS = 64
THREADS = 2
SERVERS = ("uvicorn", "granian")

_LUA = """
local readers = {%(readers)s}
local targets = {%(targets)s}
local mode = "%(mode)s"
local csrf = "%(csrf)s"
local threads = 0
local counter = 0

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  -- Threads take disjoint readers, so no reader has two requests in flight.
  local per = math.floor(#readers / %(threads)d)
  first = id * per
  span = per
end

function request()
  local n = counter
  counter = counter + 1
  local reader = readers[first + (n %% span) + 1]
  local round = math.floor(n / span)
  local headers = {}
  headers["Cookie"] = "reader=" .. reader .. "; csrftoken=" .. csrf
  if mode == "page" then
    return wrk.format("GET", "/compare/" .. targets[(n %% #targets) + 1][1], headers)
  elseif mode == "health" then
    return wrk.format("GET", "/healthz")
  end
  local target, verdict
  if mode == "viral" then
    target = targets[1]
    verdict = (round %% 2 == 0) and "ship" or "skip"
  else
    target = targets[(round %% #targets) + 1]
    verdict = (math.floor(round / #targets) %% 2 == 0) and "ship" or "skip"
  end
  headers["X-CSRFToken"] = csrf
  headers["Content-Type"] = "application/json"
  return wrk.format("PUT", "/api/v1/comparisons/" .. target[1] .. "/votes/" .. target[2],
                    headers, '{"verdict":"' .. verdict .. '"}')
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "seconds": %%f, "bad_status": %%d, "socket_errors": %%d,' ..
    ' "p50_ms": %%f, "p99_ms": %%f}\\n',
    summary.requests, summary.duration / 1e6, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


@dataclass(frozen=True)
class Load:
    """What wrk measured."""

    requests: int
    seconds: float
    bad_status: int
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def clean(self) -> bool:
        return self.bad_status == 0 and self.socket_errors == 0

    def note(self) -> str:
        return "" if self.clean else f" ({self.bad_status} bad status, {self.socket_errors} errs)"


def wrk_script(path: Path, mode: str, secret: str, readers: int, csrf: str) -> None:
    cookies = ReaderCookies(secret, secure=False)
    values = ", ".join(f'"{cookies.cookie(str(uuid.uuid4())).value}"' for _ in range(readers))
    targets = ", ".join(f'{{"{c}", "{t}"}}' for c, t in vote_targets())
    if mode == "page":
        targets = ", ".join(f'{{"{c.slug}"}}' for c in bench_catalog().comparisons)
    path.write_text(
        _LUA
        % {
            "readers": values,
            "targets": targets,
            "mode": mode,
            "csrf": csrf,
            "threads": THREADS,
        }
    )


def run_wrk(base_url: str, script: Path, seconds: int, connections: int = CONNECTIONS) -> Load:
    """Run wrk for ``seconds`` (it stops by itself) and parse the script's summary."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    out = subprocess.run(
        [
            wrk,
            f"-t{THREADS}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            base_url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 30,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    return Load(**json.loads(line.removeprefix("RESULT ")))


@contextlib.contextmanager
def api_server(kind: str, env: dict[str, str], port: int, workers: int) -> Iterator[str]:
    """The API under ``kind`` with ``workers`` processes on loopback; yields its URL."""
    if kind == "uvicorn":
        argv = [
            sys.executable, "-m", "uvicorn", "--factory", "bench.server:create_app",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
    else:
        argv = [
            sys.executable, "-m", "granian", "--interface", "asgi", "--factory",
            "bench.server:create_app", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--log-level", "warning", "--no-access-log",
        ]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=60)
        url = f"http://127.0.0.1:{port}"
        # Every worker must have finished its lifespan before the clock starts.
        with httpx.Client(base_url=url, timeout=10) as client:
            for _ in range(4 * workers):
                client.get("/healthz").raise_for_status()
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass(frozen=True)
class ServerFigures:
    server: str
    floor: Load
    votes: Load
    viral: Load
    page: Load


async def measure_server(
    bench: Bench, kind: str, redis_url: str, *, seconds: int, readers: int, warm_up: int = 2
) -> ServerFigures:
    secret = secrets.token_hex(32)
    csrf = generate_csrf_token(secret)
    scripts = bench.root / f"wrk-{kind}"
    scripts.mkdir(exist_ok=True)
    for mode in ("health", "votes", "viral", "page"):
        wrk_script(scripts / f"{mode}.lua", mode, secret, readers, csrf)
    async with bench.database(f"http_{kind}") as dsn:
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "REDIS_URL": redis_url,
            "SECRET_KEY": secret,
            "PUBLIC_URL": f"http://127.0.0.1:{port}",
        }
        with api_server(kind, env, port, workers=os.cpu_count() or 1) as url:
            run_wrk(url, scripts / "votes.lua", warm_up)  # connections, caches
            floor = run_wrk(url, scripts / "health.lua", seconds)
            votes = run_wrk(url, scripts / "votes.lua", seconds)
            viral = run_wrk(url, scripts / "viral.lua", seconds)
            page = run_wrk(url, scripts / "page.lua", seconds)
    return ServerFigures(kind, floor, votes, viral, page)


def rows_for(f: ServerFigures) -> list[Row]:
    s, c = f.server, CONNECTIONS
    return [
        Row(f"2-4 floor: GET /healthz · {s} · {c} conns", rate(f.floor.rate) + f.floor.note(),
            f"p50 {ms(f.floor.p50_ms)} p99 {ms(f.floor.p99_ms)}"),
        Row(
            f"2 vote PUT · {s} · {c} conns",
            f"{rate(f.votes.rate)} p50 {ms(f.votes.p50_ms)} p99 {ms(f.votes.p99_ms)}"
            + f.votes.note(),
            f"floor {rate(f.floor.rate)}",
            ratio(f.votes.rate / f.floor.rate),
            "≥ 0.35x, p99 < 50 ms",
            f.votes.clean and f.votes.rate / f.floor.rate >= 0.35 and f.votes.p99_ms < 50,
        ),
        Row(
            f"3 viral vote PUT · {s} · {c} conns",
            f"{rate(f.viral.rate)} p50 {ms(f.viral.p50_ms)} p99 {ms(f.viral.p99_ms)}"
            + f.viral.note(),
            f"scenario 2 {rate(f.votes.rate)}",
            ratio(f.viral.rate / f.votes.rate),
            "≥ 0.80x",
            f.viral.clean and f.viral.rate / f.votes.rate >= 0.8,
        ),
        Row(
            f"4 GET /compare · {s} · {c} conns",
            f"{rate(f.page.rate)} p50 {ms(f.page.p50_ms)} p99 {ms(f.page.p99_ms)}"
            + f.page.note(),
            f"floor {rate(f.floor.rate)}",
            ratio(f.page.rate / f.floor.rate),
            "≥ 0.50x, p99 < 30 ms",
            f.page.clean and f.page.rate / f.floor.rate >= 0.5 and f.page.p99_ms < 30,
        ),
    ]  # fmt: skip


async def run(bench: Bench, *, quick: bool) -> list[Row]:
    seconds, readers = (1, 2_000) if quick else (15, 40_000)
    rows: list[Row] = []
    with redis_server(bench.root / "redis") as redis_url:
        for kind in SERVERS:
            rows += rows_for(
                await measure_server(
                    bench,
                    kind,
                    redis_url,
                    seconds=seconds,
                    readers=readers,
                    warm_up=min(seconds, 2),
                )
            )
    return rows
