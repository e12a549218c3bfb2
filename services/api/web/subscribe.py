"""The digest subscription pages: subscribe, check your inbox, confirm, unsubscribe.

Links in mail only ever lead to a page with a button (GET changes nothing, because mail
scanners prefetch links); the button's POST acts. Clicking a used link again is an
answer ("already confirmed"), not an error.
"""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from services.core import subscriptions
from services.core.errors import InvalidEmailError
from services.core.store import Pool
from services.core.subscriptions import Outcome
from services.core.tokens import Purpose, Tokens

from ..security import NO_READER, ONE_CLICK, RATE_LIMIT, SUBSCRIPTIONS


class SubscribeForm(msgspec.Struct, frozen=True, kw_only=True):
    # Permissive: a bad address re-shows the form with what was typed and why.
    email: str = ""


class TokenForm(msgspec.Struct, frozen=True, kw_only=True):
    token: str = ""


def _outcome(value: str | None, default: Outcome) -> Outcome:
    try:
        return Outcome(value or default)
    except ValueError:
        return default


async def _status(pool: Pool, subscriber_id: str) -> str | None:
    async with pool.acquire() as conn:
        return await subscriptions.status_of(conn, subscriber_id)


class SubscribeController(Controller):
    @get("/subscribe", name="subscribe")
    async def form(self) -> Template:
        return Template("subscribe.html", context={"email": "", "error": None})

    @post("/subscribe", opt={RATE_LIMIT: SUBSCRIPTIONS}, name="subscribe-post")
    async def subscribe(
        self,
        pool: NamedDependency[Pool],
        request_id: NamedDependency[str],
        data: URLEncodedBody[SubscribeForm],
    ) -> Template | Redirect:
        """Record the request; the answer is the same for every valid address."""
        try:
            await subscriptions.request_subscription(pool, data.email, request_id=request_id)
        except InvalidEmailError as exc:
            return Template(
                "subscribe.html",
                context={"email": data.email[:320], "error": exc.reason},
                status_code=422,
            )
        return Redirect("/subscribe/check-inbox", status_code=303)

    @get("/subscribe/check-inbox", name="check-inbox")
    async def check_inbox(self) -> Template:
        return Template("check_inbox.html")

    @get("/subscribe/confirm", name="confirm")
    async def confirm_page(
        self,
        pool: NamedDependency[Pool],
        tokens: NamedDependency[Tokens],
        token: FromQuery[str] = "",
    ) -> Template:
        """The confirm link's page: a button, or the news that it is already done."""
        status = await _status(pool, tokens.read(Purpose.CONFIRM, token))
        if status == "confirmed":
            return Template("confirmed.html", context={"outcome": Outcome.ALREADY_CONFIRMED})
        if status != "pending":
            return Template("confirmed.html", context={"outcome": Outcome.NOT_PENDING})
        return Template("confirm.html", context={"token": token})

    @post("/subscribe/confirm", name="confirm-post")
    async def confirm(
        self,
        pool: NamedDependency[Pool],
        tokens: NamedDependency[Tokens],
        data: URLEncodedBody[TokenForm],
    ) -> Redirect:
        outcome = await subscriptions.confirm_subscription(
            pool, tokens.read(Purpose.CONFIRM, data.token)
        )
        return Redirect(
            "/subscribe/confirmed", query_params={"outcome": outcome.value}, status_code=303
        )

    @get("/subscribe/confirmed", name="confirmed")
    async def confirmed(self, outcome: FromQuery[str | None] = None) -> Template:
        return Template("confirmed.html", context={"outcome": _outcome(outcome, Outcome.CONFIRMED)})

    @get("/unsubscribe", name="unsubscribe")
    async def unsubscribe_page(
        self,
        pool: NamedDependency[Pool],
        tokens: NamedDependency[Tokens],
        token: FromQuery[str] = "",
    ) -> Template:
        """The unsubscribe link's page: a button, or the news that it is already done."""
        status = await _status(pool, tokens.read(Purpose.UNSUBSCRIBE, token))
        if status not in ("pending", "confirmed"):
            return Template("unsubscribed.html", context={"outcome": Outcome.ALREADY_UNSUBSCRIBED})
        return Template("unsubscribe.html", context={"token": token})

    @post("/unsubscribe", name="unsubscribe-post")
    async def unsubscribe(
        self,
        pool: NamedDependency[Pool],
        tokens: NamedDependency[Tokens],
        data: URLEncodedBody[TokenForm],
    ) -> Redirect:
        outcome = await subscriptions.unsubscribe(
            pool, tokens.read(Purpose.UNSUBSCRIBE, data.token), "link"
        )
        return Redirect(
            "/unsubscribe/done", query_params={"outcome": outcome.value}, status_code=303
        )

    @get("/unsubscribe/done", name="unsubscribed")
    async def unsubscribed(self, outcome: FromQuery[str | None] = None) -> Template:
        return Template(
            "unsubscribed.html", context={"outcome": _outcome(outcome, Outcome.UNSUBSCRIBED)}
        )

    @post(
        "/unsubscribe/one-click",
        status_code=200,
        opt={"exclude_from_csrf": True, NO_READER: True, RATE_LIMIT: ONE_CLICK},
        name="one-click",
    )
    async def one_click(
        self,
        pool: NamedDependency[Pool],
        tokens: NamedDependency[Tokens],
        token: FromQuery[str] = "",
    ) -> Response[str]:
        """RFC 8058 one-click unsubscribe: a mail client POSTs with no cookie; done at once."""
        await subscriptions.unsubscribe(pool, tokens.read(Purpose.UNSUBSCRIBE, token), "one-click")
        return Response(
            "You are unsubscribed. No more mail will be sent.\n", media_type="text/plain"
        )
