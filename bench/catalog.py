"""The bench catalog: the demo catalog's six tools and five comparisons, plus five
more pairings of the same tools, so loads spread over ten comparisons."""

from __future__ import annotations

import itertools
from datetime import timedelta
from functools import cache

import msgspec

from services.core.catalog_import import DEMO_CATALOG, CatalogFile, load_catalog
from services.core.events import ComparisonContent

COMPARISONS = 10


def _pairing(template: ComparisonContent, a: str, b: str, n: int) -> ComparisonContent:
    """A comparison of ``a`` and ``b`` whose texts are ``template``'s, re-targeted."""
    swap = dict(zip(template.tools, (a, b), strict=True))
    return ComparisonContent(
        slug=f"{a}-vs-{b}",
        title=f"{a} vs {b}",
        published_at=template.published_at + timedelta(days=n),
        tools=(a, b),
        sides=tuple(msgspec.structs.replace(s, tool=swap[s.tool]) for s in template.sides),
        reviews=tuple(msgspec.structs.replace(r, tool=swap[r.tool]) for r in template.reviews),
    )


@cache
def bench_catalog() -> CatalogFile:
    """Six tools, ten comparisons (the demo's five first)."""
    demo = load_catalog(DEMO_CATALOG)
    taken = {frozenset(c.tools) for c in demo.comparisons}
    extra: list[ComparisonContent] = []
    slugs = [t.slug for t in demo.tools]
    for a, b in itertools.combinations(slugs, 2):
        if len(demo.comparisons) + len(extra) == COMPARISONS:
            break
        if frozenset((a, b)) not in taken:
            extra.append(_pairing(demo.comparisons[len(extra) % 5], a, b, len(extra) + 1))
    return CatalogFile(tools=demo.tools, comparisons=[*demo.comparisons, *extra])


def vote_targets() -> list[tuple[str, str]]:
    """Every (comparison, tool) a reader can vote on, in catalog order."""
    return [(c.slug, t) for c in bench_catalog().comparisons for t in c.tools]
