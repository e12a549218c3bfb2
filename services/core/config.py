"""Settings from the environment: the process's first, then a `.env` file in the working
directory, then what a running `verdicts dev` published in this folder (``dev_servers``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal, NoReturn
from urllib.parse import parse_qs, unquote, urlsplit

import msgspec
from dotenv import load_dotenv

from . import dev_servers
from .errors import ConfigurationError

DEV_SECRET = "dev-only-secret-change-me"
"""The built-in key: only ``verdicts dev`` (``VERDICTS_DEVELOPMENT=1``) may sign with it."""
MIN_SECRET_BYTES = 32
SECRET_KEY_SEPARATOR = ","
"""``SECRET_KEY`` holds one key, or several for a rotation: newest first, comma-separated."""


class SmtpTarget(msgspec.Struct, frozen=True, kw_only=True):
    """Where mail goes: parsed from ``SMTP_URL`` (``smtp://``, ``smtps://``, ``smtp+starttls://``)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool = False
    timeout: float = 10.0

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        schemes = {"smtp": (False, False), "smtps": (True, False), "smtp+starttls": (False, True)}
        if parts.scheme not in schemes:
            raise ConfigurationError(
                f"SMTP_URL scheme must be one of {', '.join(schemes)}; got {parts.scheme!r}"
            )
        use_tls, start_tls = schemes[parts.scheme]
        query = parse_qs(parts.query)
        try:
            port, timeout = parts.port, float(query.get("timeout", ["10"])[0])
        except ValueError as exc:
            raise ConfigurationError(f"SMTP_URL is not usable: {exc}") from None
        return cls(
            host=parts.hostname or "localhost",
            port=port or (465 if use_tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=use_tls,
            start_tls=start_tls,
            timeout=timeout,
        )


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything configurable. ``None`` URLs mean "embed it" for ``verdicts dev``."""

    database_url: str | None = None
    redis_url: str | None = None
    smtp_url: str | None = None
    secret_key: str = DEV_SECRET
    public_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: str = dev_servers.DATA_DIR
    mail_from: str = "Weekly AI Tool Verdicts <digest@verdicts.localhost>"
    digest_cron: str = "0 8 * * 1"
    db_pool_size: int = 10
    operator_token: str | None = None
    smtp_connections: int = 4
    mail_batch_size: int = 50
    mail_lease_seconds: float = 120.0
    mail_retry_seconds: float = 60.0
    mail_max_attempts: int = 6
    confirm_daily_limit: int = 3
    confirm_hourly_limit: int = 500
    unconfirmed_retention_days: int = 7
    trusted_proxies: str = ""
    development: bool = False
    """Set by ``verdicts dev`` for itself and its children: built-in secrets allowed."""
    log_format: Literal["json", "console"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    worker_metrics_port: int | None = None
    worker_metrics_host: str = "127.0.0.1"

    @property
    def signing_keys(self) -> tuple[str, ...]:
        """The keys in ``SECRET_KEY``, newest first: sign with the first, verify with all."""
        return parse_secret_keys(self.secret_key) or (DEV_SECRET,)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).absolute()

    @property
    def smtp(self) -> SmtpTarget:
        """Where mail goes; ``ConfigurationError`` if ``SMTP_URL`` is unset or unusable
        (only `verdicts dev` has a fallback: the sink it starts)."""
        if not self.smtp_url:
            raise ConfigurationError(
                "SMTP_URL is not set: mail has nowhere to go (e.g. smtp://relay.example:587)"
            )
        return SmtpTarget.parse(self.smtp_url)

    def with_(self, **changes: object) -> Settings:
        return msgspec.structs.replace(self, **changes)


_ENV = {
    "database_url": "DATABASE_URL",
    "redis_url": "REDIS_URL",
    "smtp_url": "SMTP_URL",
    "secret_key": "SECRET_KEY",
    "public_url": "PUBLIC_URL",
    "host": "HOST",
    "port": "PORT",
    "data_dir": "VERDICTS_DATA_DIR",
    "mail_from": "MAIL_FROM",
    "digest_cron": "DIGEST_CRON",
    "db_pool_size": "DB_POOL_SIZE",
    "operator_token": "OPERATOR_TOKEN",
    "smtp_connections": "SMTP_CONNECTIONS",
    "mail_batch_size": "MAIL_BATCH_SIZE",
    "mail_lease_seconds": "MAIL_LEASE_SECONDS",
    "mail_retry_seconds": "MAIL_RETRY_SECONDS",
    "mail_max_attempts": "MAIL_MAX_ATTEMPTS",
    "confirm_daily_limit": "CONFIRM_DAILY_LIMIT",
    "confirm_hourly_limit": "CONFIRM_HOURLY_LIMIT",
    "unconfirmed_retention_days": "UNCONFIRMED_RETENTION_DAYS",
    "trusted_proxies": "TRUSTED_PROXIES",
    "development": "VERDICTS_DEVELOPMENT",
    "log_format": "LOG_FORMAT",
    "log_level": "LOG_LEVEL",
    "worker_metrics_port": "WORKER_METRICS_PORT",
    "worker_metrics_host": "WORKER_METRICS_HOST",
}


def parse_secret_keys(value: str) -> tuple[str, ...]:
    """``SECRET_KEY``'s keys, newest first; blanks around and between them are dropped."""
    return tuple(k.strip() for k in value.split(SECRET_KEY_SEPARATOR) if k.strip())


def keys_oldest_first(secret_key: str) -> list[str]:
    """``SECRET_KEY``'s keys in the order itsdangerous takes them (it signs with the last)."""
    keys = parse_secret_keys(secret_key)
    if not keys:
        raise ValueError("SECRET_KEY holds no key")
    return list(reversed(keys))


def secret_key_problem(settings: Settings) -> str | None:
    """Why ``settings`` must not sign or check tokens outside development; ``None`` if fine."""
    if settings.development:
        return None
    keys = settings.signing_keys
    if DEV_SECRET in keys:
        return (
            "SECRET_KEY is unset or the built-in development key; set it to at least "
            f"{MIN_SECRET_BYTES} random bytes, e.g. `python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'` (only `verdicts dev` runs without one)"
        )
    for n, key in enumerate(keys, start=1):
        if len(key.encode()) < MIN_SECRET_BYTES:
            which = f"key {n} of {len(keys)} in SECRET_KEY" if len(keys) > 1 else "SECRET_KEY"
            return (
                f"{which} is {len(key.encode())} bytes; every key needs at least "
                f"{MIN_SECRET_BYTES} (a rotation lists keys newest first, comma-separated)"
            )
    return None


def exit_misconfigured(message: str) -> NoReturn:
    """Stop a process that must not start: ``message`` as one line on stderr, exit code 2."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: the process environment, then ``.env``, then
    the settings a running `verdicts dev` published in this folder)."""
    if env is None:
        load_dotenv(Path.cwd() / ".env", override=False)
        data_dir = os.environ.get("VERDICTS_DATA_DIR") or dev_servers.DATA_DIR
        env = {**dev_servers.read(dev_servers.env_file(data_dir)), **os.environ}
    raw = {field: env[var] for field, var in _ENV.items() if env.get(var)}
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        exit_misconfigured(f"configuration error: {exc}")
    if "public_url" not in raw:
        settings = settings.with_(public_url=f"http://{settings.host}:{settings.port}")
    return settings
