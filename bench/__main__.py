"""``python -m bench [SCENARIO ...] [--quick] [--markdown FILE]``: run and tabulate."""

from __future__ import annotations

import asyncio
import shlex
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console

from . import append, digest, growth, http, replay
from .env import Bench, machine_line, start_bench
from .report import Row, markdown, print_table

Scenario = Callable[..., Awaitable[list[Row]]]

SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "append": ("1 · append", append.run),
    "http": ("2-4 · votes and pages over HTTP", http.run),
    "replay": ("5 · replay", replay.run),
    "growth": ("6 · growth", growth.run),
    "digest": ("7 · digest", digest.run),
}

console = Console(width=max(Console().width, 150))


async def _run_all(names: list[str], quick: bool) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    async with start_bench() as bench:
        lines = [machine_line(), await bench.server_line()]
        console.print("\n".join(lines))
        for name in names:
            title, scenario = SCENARIOS[name]
            started = time.perf_counter()
            found = await _one(bench, scenario, quick)
            print_table(f"{title} ({time.perf_counter() - started:.0f} s)", found, console)
            rows += found
    return rows, lines


async def _one(bench: Bench, scenario: Scenario, quick: bool) -> list[Row]:
    return await scenario(bench, quick=quick)


@click.command()
@click.argument("names", nargs=-1, type=click.Choice(list(SCENARIOS)))
@click.option("--quick", is_flag=True, help="Tiny sizes, one repetition: checks the code runs.")
@click.option(
    "--markdown",
    "markdown_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the table, machine line and command to FILE.",
)
def main(names: tuple[str, ...], quick: bool, markdown_file: Path | None) -> None:
    """Run benchmark scenarios NAMES (default: all) and print one table."""
    chosen = list(names) or list(SCENARIOS)
    started = time.perf_counter()
    rows, lines = asyncio.run(_run_all(chosen, quick))
    elapsed = time.perf_counter() - started
    print_table(f"all scenarios ({elapsed:.0f} s)", rows, console)
    if markdown_file:
        command = "python -m bench " + shlex.join(sys.argv[1:])
        markdown_file.write_text(
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {elapsed:.0f} s: `{command}`\n\n"
            + "".join(f"- {line}\n" for line in lines)
            + "\n"
            + markdown(rows)
        )


if __name__ == "__main__":
    main()
