"""docs/operations.md read as data: its procedures (the ``sh`` blocks under each
heading), its ``sh compose`` blocks, and the commands they name."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import click
from markdown_it import MarkdownIt

from services.cli.main import main as verdicts

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


@dataclass
class Section:
    title: str
    blocks: dict[str, list[str]] = field(default_factory=dict)  # fence info -> contents

    @property
    def commands(self) -> list[str]:
        """The ``sh`` blocks: the procedure the test runs."""
        return self.blocks.get("sh", [])


def sections(text: str | None = None) -> list[Section]:
    """Every heading's section, in order, with the fenced blocks under it."""
    found: list[Section] = []
    tokens = MarkdownIt().parse(text if text is not None else GUIDE.read_text())
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            found.append(Section(tokens[i + 1].content))
        elif token.type == "fence" and found:
            found[-1].blocks.setdefault(token.info.strip(), []).append(token.content)
    return found


def procedures() -> list[Section]:
    return [s for s in sections() if s.commands]


def lines(block: str) -> list[list[str]]:
    """Each command line of a shell block as words, comments and blanks left out."""
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def unknown_verdicts_command(words: list[str]) -> str | None:
    """``verdicts X Y`` if the words run a `verdicts` command that does not exist."""
    while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):  # NAME=value before a command
        words = words[1:]
    if not words or words[0] != "verdicts":
        return None
    command: click.Command = verdicts
    path = ["verdicts"]
    for word in words[1:]:
        if not isinstance(command, click.Group) or word.startswith("-"):
            return None
        path.append(word)
        found = command.commands.get(word)
        if found is None:
            return " ".join(path)
        command = found
    return None


def routes_named(block: str) -> list[str]:
    """The site's paths a block asks for (``$PUBLIC_URL/path``), without their query."""
    return re.findall(r"\$PUBLIC_URL(/[\w/-]*)", block)
