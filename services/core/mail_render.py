"""Rendering mail from ``templates/email/`` (in an installed package, ``services.templates``):
a plain-text and an HTML body per message.

HTML templates are autoescaped and their CSS is inlined (mail clients drop
``<style>``). A mail is rendered once with placeholders for per-recipient fields (the
links carrying a recipient's token); ``mime.MailTemplate`` fills them in per recipient.
"""

from __future__ import annotations

import css_inline
import msgspec
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from .digest_content import DigestContent
from .resources import package_path

TEMPLATES = package_path("services.templates", "email")

UNSUBSCRIBE_URL = "@@unsubscribe_url@@"
"""Placeholder for the recipient's visible unsubscribe link."""
CONFIRM_URL = "@@confirm_url@@"
"""Placeholder for the recipient's confirm link."""

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_inliner = css_inline.CSSInliner(keep_style_tags=False)


class RenderedMail(msgspec.Struct, frozen=True, kw_only=True):
    """Subject and bodies, with placeholders where per-recipient values go."""

    subject: str
    text: str
    html: str


def _render(name: str, **context: object) -> tuple[str, str]:
    text = _env.get_template(f"{name}.txt").render(**context)
    html = _inliner.inline(_env.get_template(f"{name}.html").render(**context))
    return text, html


def render_digest(content: DigestContent) -> RenderedMail:
    """The digest issue, once for every recipient."""
    titles = [c.title for c in content.comparisons]
    subject = f"Weekly AI Tool Verdicts, {content.label}: {titles[0]}"
    if len(titles) > 1:
        subject += f" (+{len(titles) - 1} more)"
    text, html = _render("digest", d=content, subject=subject, unsubscribe_url=UNSUBSCRIBE_URL)
    return RenderedMail(subject=subject, text=text, html=html)


def render_confirmation(site_url: str) -> RenderedMail:
    """The double opt-in mail; no reader-typed text goes into it."""
    subject = "Confirm your subscription to Weekly AI Tool Verdicts"
    text, html = _render(
        "confirm", subject=subject, site_url=site_url.rstrip("/"), confirm_url=CONFIRM_URL
    )
    return RenderedMail(subject=subject, text=text, html=html)
