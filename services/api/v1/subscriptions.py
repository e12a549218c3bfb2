"""``/api/v1/subscriptions``: ask for the weekly digest (double opt-in)."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from services.core import subscriptions
from services.core.store import IdempotentRequest, Pool

from ..problems import problem_responses
from ..security import RATE_LIMIT, SUBSCRIPTIONS
from .schemas import SubscriptionAccepted, SubscriptionRequest

ACCEPTED = SubscriptionAccepted(
    status="check-your-inbox",
    detail="If this address can receive mail, a confirmation link is on its way. "
    "Nothing else is sent until it is clicked.",
)


class SubscriptionsController(Controller):
    path = "/subscriptions"
    tags = ("subscriptions",)

    @post(
        "/",
        status_code=202,
        opt={RATE_LIMIT: SUBSCRIPTIONS},
        responses=problem_responses(400, 403, 409, 413, 422, 429),
    )
    async def subscribe(
        self,
        pool: NamedDependency[Pool],
        request_id: NamedDependency[str],
        data: JSONBody[SubscriptionRequest],
        idempotency: NamedDependency[IdempotentRequest | None],
    ) -> SubscriptionAccepted:
        """Record the request; the worker mails a confirmation link. Same answer for every
        address, subscribed or not."""
        await subscriptions.request_subscription(
            pool, data.email, idempotency=idempotency, request_id=request_id
        )
        return ACCEPTED
