"""The Dockerfile's build stage, read so that tests can run its steps without Docker."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
DOCKERFILE = REPOSITORY / "Dockerfile"


@dataclass
class BuildStage:
    """What the first stage copies in, what it runs, and the uv it installs."""

    copies: list[tuple[list[str], str]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    uv_version: str = ""

    @property
    def install(self) -> str:
        """The RUN that builds the wheel and installs it with the locked dependencies."""
        (step,) = [r for r in self.runs if "uv build" in r]
        return step


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", text)
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, args = line.partition(" ")
            found.append((name.upper(), args.strip()))
    return found


def build_stage(text: str | None = None) -> BuildStage:
    stage = BuildStage()
    froms = 0
    for name, args in instructions(text if text is not None else DOCKERFILE.read_text()):
        froms += name == "FROM"
        if froms > 1:
            break
        if name == "COPY":
            *sources, destination = args.split()
            stage.copies.append((sources, destination))
        elif name == "RUN":
            stage.runs.append(args)
            if pinned := re.search(r'"uv==([^"]+)"', args):
                stage.uv_version = pinned.group(1)
    return stage
