"""Catalog import: events for what is new or changed, nothing for a re-import."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from services.core.catalog_import import DEMO_CATALOG, import_catalog, load_catalog
from services.core.errors import CatalogError
from services.core.store import Pool


async def test_demo_catalog_imports_then_reimports_nothing(pool: Pool) -> None:
    catalog = load_catalog(DEMO_CATALOG)
    first = await import_catalog(pool, catalog)
    assert (len(first.listed), len(first.published)) == (6, 5)
    again = await import_catalog(pool, load_catalog(DEMO_CATALOG))
    assert again.appended == 0 and again.unchanged == 11
    assert await pool.fetchval("select count(*) from events") == 11


async def test_a_changed_entry_appends_one_revision(pool: Pool, tmp_path: Path) -> None:
    data = tomllib.loads(DEMO_CATALOG.read_text())
    await import_catalog(pool, load_catalog(DEMO_CATALOG))
    data["tools"][0]["tagline"] = "A new tagline"
    data["comparisons"][0]["reviews"][0]["score"] = 61
    changed = tmp_path / "catalog.json"
    changed.write_text(json.dumps(data, default=str))
    report = await import_catalog(pool, load_catalog(changed))
    assert len(report.revised) == 2 and report.unchanged == 9
    types = [
        r[0] for r in await pool.fetch("select type from events order by position desc limit 2")
    ]
    assert sorted(types) == ["ComparisonRevised", "ToolRevised"]
    slug = data["tools"][0]["slug"]
    assert await pool.fetchval("select tagline from tools where slug = $1", slug) == "A new tagline"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["comparisons"][0].update(tools=["a", "a"]), "compares a with itself"),
        (lambda d: d["comparisons"][0]["reviews"][0].update(tool="ghost"), "'ghost' is not one"),
        (lambda d: d["tools"][0].update(slug="Bad Slug"), "slug"),
        (lambda d: d["comparisons"][0]["reviews"][0].update(score=101), "score"),
        (lambda d: d["tools"][0].update(surprise=1), "surprise"),
    ],
)
def test_bad_catalogs_say_what_is_wrong(tmp_path: Path, mutate: object, message: str) -> None:
    data = tomllib.loads(DEMO_CATALOG.read_text())
    mutate(data)  # type: ignore[operator]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data, default=str))
    with pytest.raises(CatalogError, match=message):
        load_catalog(path)


def test_unknown_format(tmp_path: Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text("tools: []")
    with pytest.raises(CatalogError, match=r"\.toml or \.json"):
        load_catalog(path)
