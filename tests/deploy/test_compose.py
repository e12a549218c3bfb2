"""compose.yaml, checked without a Docker engine: valid against the Compose
specification, and saying what the operator's guide says it does."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from .dockerfile import REPOSITORY

COMPOSE = REPOSITORY / "compose.yaml"
LONG_RUNNING = {"postgres", "redis", "mailpit", "api", "proxy", "worker"}


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text())["services"]
    return found


def test_valid_against_the_compose_specification() -> None:
    check = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(check), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_long_running_services_restart_and_the_mail_ui_is_for_development() -> None:
    found = services()
    assert {n for n, s in found.items() if s.get("restart") == "unless-stopped"} == LONG_RUNNING
    assert found["migrate"]["restart"] == "no"
    assert found["mailpit"]["profiles"] == ["dev"]
    published = {n for n, s in found.items() if any("8025" in str(p) for p in s.get("ports", []))}
    assert published == {"mailpit"}
    assert "ports" not in found["api"], "readers reach the API through the proxy only"


def test_settings_come_from_the_environment_and_the_proxy_is_trusted() -> None:
    found = services()
    for name in ("migrate", "api", "worker"):
        env = found[name]["environment"]
        for setting in ("DATABASE_URL", "REDIS_URL", "SMTP_URL", "SECRET_KEY", "PUBLIC_URL"):
            assert env[setting].startswith(f"${{{setting}"), (name, setting, env[setting])
    trusted = found["api"]["environment"]["TRUSTED_PROXIES"]
    proxy_address = found["proxy"]["networks"]["default"]["ipv4_address"]
    assert trusted == f"${{TRUSTED_PROXIES-{proxy_address}}}", "the proxy, unless told otherwise"
    assert "--no-proxy-headers" in found["api"]["command"][-1], "the app reads the header"


async def test_the_demo_catalog_is_imported_only_when_asked(empty_dsn: str) -> None:
    script = services()["migrate"]["command"][-1].replace("$$", "$")  # compose's escape
    env = {k: v for k, v in os.environ.items() if k != "VERDICTS_DEMO"}
    env.update(PATH=f"{Path(sys.executable).parent}:{env['PATH']}", DATABASE_URL=empty_dsn)
    counts = []
    for demo in ({}, {"VERDICTS_DEMO": "1"}):
        result = await asyncio.to_thread(
            subprocess.run,
            ["sh", "-c", script],
            env={**env, **demo},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        conn = await asyncpg.connect(empty_dsn)
        try:
            counts.append(await conn.fetchval("select count(*) from events"))
        finally:
            await conn.close()
    assert counts == [0, 11]
