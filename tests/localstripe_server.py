"""localstripe as the suite runs it: ``python tests/localstripe_server.py PORT``.

Upstream localstripe, bound to loopback, plus the part of Stripe.js our payment page uses and
upstream leaves empty: ``stripe.createPaymentMethod({type: "card", card: cardElement})``.
Like Stripe.js, it posts the card to ``POST /v1/payment_methods`` with the publishable key in
the form body and resolves ``{paymentMethod}`` or ``{error}``; the server side here lets that
one request through with a publishable key, as Stripe does (upstream only accepts the secret
key there). And its store stays in memory: upstream pickles the whole store to the fixed path
/tmp/localstripe.pickle after every write, one file for every localstripe on the machine
(parallel test workers, other checkouts), rewritten ever more slowly as a session's objects
pile up; each server here starts empty anyway. Everything else is upstream's own behaviour.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from localstripe import resources, server
from localstripe.resources import PaymentMethod

STRIPE_JS_COMPLETION = Path(__file__).with_name("localstripe_stripe_js.js")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def stripe_js_as_stripe_has_it(request: web.Request, handler: Handler):
    if request.method == "GET" and request.path == "/js.stripe.com/v3/":
        upstream = (Path(server.__file__).parent / "localstripe-v3.js").read_text()
        return web.Response(
            text=upstream + "\n" + STRIPE_JS_COMPLETION.read_text(),
            content_type="application/javascript",
        )
    publishable = (
        request.method == "POST"
        and request.path == "/v1/payment_methods"
        and "Authorization" not in request.headers
    )
    if publishable:
        data = await server.get_post_data(request, remove_auth=False) or {}
        key = data.pop("key", None)
        if isinstance(key, str) and key.startswith("pk_"):
            data.pop("payment_user_agent", None)
            created = PaymentMethod._api_create(**data)
            return server.json_response(created._export())
    return await handler(request)


def main(port: int) -> None:
    resources.Store.dump_to_disk = lambda self: None  # type: ignore[method-assign]
    resources.Store.try_load_from_disk = lambda self: None  # type: ignore[method-assign]
    # After the error middleware (it turns localstripe's UserError into Stripe's error JSON),
    # before the authentication one.
    server.app.middlewares.insert(1, stripe_js_as_stripe_has_it)
    web.run_app(server.app, host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main(int(sys.argv[1]))
