"""The core's tests: real PostgreSQL; the digest's also the demo catalog and settings
(``tests/fixtures``)."""

from __future__ import annotations

from tests.fixtures import catalog, settings, sink

__all__ = ["catalog", "settings", "sink"]
