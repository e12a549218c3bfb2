"""The operator commands' tests: real processes on real servers (``tests/fixtures``)."""

from __future__ import annotations

from tests.fixtures import catalog, settings, sink

__all__ = ["catalog", "settings", "sink"]
