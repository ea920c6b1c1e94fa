"""Abandoned-cart recovery on PostgreSQL: detection, the reminder sequence and its consent
rules, the recovery link, unsubscribing (page and RFC 8058 one-click), the back office's
services, and the periodic job (through the real worker and SMTP, and in-process).

Carts here were active "just now" and the services are given a later ``now``: the session
worker's own periodic run (real clock) never finds them due, so it cannot interfere.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from datetime import timedelta

import pytest
from flask_babel import force_locale
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from shop import create_app, jobs, queue
from shop.accounts.models import User
from shop.cart import services as carts
from shop.cart.models import (
    Cart,
    CartEvent,
    CartItem,
    CartRecoveryEmail,
    CartRecoveryToken,
    CartStatus,
)
from shop.catalogue.models import ProductVariant
from shop.checkout import services as checkout
from shop.clock import utcnow
from shop.emails import services as emails
from shop.emails import suppression
from shop.emails.models import EmailMessage, EmailSuppression
from shop.extensions import db
from shop.platform.services import set_setting
from shop.recovery import overview, policy
from shop.recovery import services as recovery
from tests import catalogue_factory
from tests.conftest import Auth, csrf_token
from tests.test_orders import _details

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
RECOVER = {"fr": "/fr/panier/recuperer", "en": "/en/cart/recover"}
UNSUBSCRIBE = {"fr": "/fr/compte/desinscription", "en": "/en/account/unsubscribe"}
_LINK = re.compile(
    r"http://127\.0\.0\.1:5000(/(?:fr|en)/(?:panier/recuperer|cart/recover)\?token=[\w-]+)"
)
_UNSUB_LINK = re.compile(
    r"http://127\.0\.0\.1:5000(/(?:fr|en)/(?:compte/desinscription|account/unsubscribe)\?token=[\w.-]+)"
)


@pytest.fixture
def shop(app) -> dict[str, int]:
    """The factory's catalogue (SKU-2: 12 €, SKU-3: 13 €, SKU-4: 14 €) with checkout defaults."""
    from shop.checkout.defaults import load_defaults
    from tests.order_factory import offer_bank_transfer

    with app.app_context():
        catalogue_factory.build(6)
        load_defaults()
        db.session.commit()
        offer_bank_transfer()  # the checkout tests below pay by transfer
        return dict(db.session.execute(select(ProductVariant.sku, ProductVariant.id)).all())


def make_cart(
    app,
    shop,
    *,
    email: str | None = "camille@example.com",
    customer_id: int | None = None,
    locale: str = "fr",
    items: dict[str, int] | None = None,
    consent: bool = True,
    status: str = CartStatus.ACTIVE,
    idle: timedelta = timedelta(0),
) -> int:
    """A cart last active ``idle`` ago (just now by default), at today's prices."""
    items = {"SKU-3": 2} if items is None else items
    with app.app_context():
        now = utcnow()
        cart = Cart(
            token=secrets.token_urlsafe(32),
            customer_id=customer_id,
            email=email,
            locale=locale,
            status=status,
            last_activity_at=now - idle,
            recovery_consent_at=now if consent else None,
        )
        for sku, quantity in items.items():
            price = db.session.get(ProductVariant, shop[sku]).price
            cart.items.append(CartItem(variant_id=shop[sku], quantity=quantity, unit_price=price))
        db.session.add(cart)
        db.session.commit()
        return cart.id


def cart_row(app, cart_id: int) -> Cart:
    with app.app_context():
        cart = db.session.get(Cart, cart_id)
        db.session.expunge(cart)
        return cart


def activity(app, cart_id: int):
    return cart_row(app, cart_id).last_activity_at


def abandon(app, cart_id: int) -> None:
    """Detection run an hour and a minute after the cart's last activity."""
    with app.app_context():
        recovery.detect_abandoned(now=activity(app, cart_id) + HOUR + MINUTE)
    assert cart_row(app, cart_id).status == CartStatus.ABANDONED


def reminders(app, cart_id: int | None = None) -> list[tuple[int, int, str]]:
    """(cart, step, email subject) of every reminder queued, in order."""
    with app.app_context():
        query = (
            select(CartRecoveryEmail.cart_id, CartRecoveryEmail.step, EmailMessage.subject)
            .join(EmailMessage, EmailMessage.id == CartRecoveryEmail.email_id)
            .order_by(CartRecoveryEmail.id)
        )
        if cart_id is not None:
            query = query.where(CartRecoveryEmail.cart_id == cart_id)
        return [tuple(row) for row in db.session.execute(query).all()]


def run(app, at) -> int:
    with app.app_context():
        return recovery.send_due_steps(now=at)


def mail_of(app, cart_id: int, step: int) -> EmailMessage:
    with app.app_context():
        message = db.session.execute(
            select(EmailMessage)
            .join(CartRecoveryEmail, CartRecoveryEmail.email_id == EmailMessage.id)
            .where(CartRecoveryEmail.cart_id == cart_id, CartRecoveryEmail.step == step)
        ).scalar_one()
        db.session.expunge(message)
        return message


def recover_path(app, cart_id: int, step: int = 1) -> str:
    return _LINK.search(mail_of(app, cart_id, step).text_body).group(1)


def unsubscribe_path(app, cart_id: int, step: int = 1) -> str:
    return _UNSUB_LINK.search(mail_of(app, cart_id, step).text_body).group(1)


def snapshot(app) -> dict:
    """What a refused link or form must leave exactly as it was."""
    with app.app_context():
        return {
            "carts": db.session.execute(
                select(Cart.id, Cart.status, Cart.last_activity_at, Cart.customer_id).order_by(
                    Cart.id
                )
            ).all(),
            "items": db.session.execute(
                select(CartItem.cart_id, CartItem.variant_id, CartItem.quantity).order_by(
                    CartItem.id
                )
            ).all(),
            "events": db.session.scalar(select(func.count(CartEvent.id))),
            "used": db.session.execute(select(CartRecoveryToken.used_at)).scalars().all(),
            "suppressed": db.session.scalar(select(func.count()).select_from(EmailSuppression)),
            "consents": db.session.execute(
                select(User.email, User.marketing_consent).order_by(User.id)
            ).all(),
        }


# -- detection ----------------------------------------------------------------------------


DETECTION_CASES = {
    # case: (cart fields, marked?)
    "idle, with items and an address": ({}, True),
    "a customer's cart: the account's address": ({"email": None, "customer": True}, True),
    "idle exactly an hour": ({"idle": HOUR}, False),
    "idle 59 minutes": ({"idle": HOUR - MINUTE}, False),
    "no item": ({"items": {}}, False),
    "no known address": ({"email": None}, False),
    "converted": ({"status": CartStatus.CONVERTED}, False),
    "merged": ({"status": CartStatus.MERGED}, False),
}


@pytest.mark.parametrize("case", DETECTION_CASES)
def test_detection_marks_only_carts_meeting_every_condition(app, shop, make_user, case):
    fields, marked = DETECTION_CASES[case]
    fields = dict(fields)
    idle = fields.pop("idle", HOUR + MINUTE)
    if fields.pop("customer", False):
        fields["customer_id"] = make_user("client@example.com")
    cart_id = make_cart(app, shop, **fields)
    now = activity(app, cart_id) + idle

    with app.app_context():
        assert recovery.detect_abandoned(now=now) == int(marked)
    cart = cart_row(app, cart_id)
    if marked:
        assert (cart.status, cart.abandoned_at) == (CartStatus.ABANDONED, now)
    else:
        assert cart.status == fields.get("status", CartStatus.ACTIVE)
        assert cart.abandoned_at is None


def test_detection_is_one_update_and_idempotent(app, shop, queries):
    ids = [make_cart(app, shop, email=f"c{i}@example.com") for i in range(5)]
    fresh = make_cart(app, shop, email="fresh@example.com")
    with app.app_context():
        db.session.execute(
            update(Cart).where(Cart.id.in_(ids)).values(last_activity_at=utcnow() - 2 * HOUR)
        )
        db.session.commit()
        now = utcnow()
        with queries() as statements:
            assert recovery.detect_abandoned(now=now) == 5
        assert [s.split()[0] for s in statements] == ["UPDATE"]
        assert recovery.detect_abandoned(now=now + HOUR - MINUTE) == 0  # fresh: 59 min idle
        marked = db.session.execute(select(Cart.abandoned_at).where(Cart.id.in_(ids))).scalars()
        assert set(marked) == {now}  # the second run left them alone
    assert cart_row(app, fresh).status == CartStatus.ACTIVE


# -- the sequence ---------------------------------------------------------------------------


def test_each_step_is_sent_once_at_its_delay(app, shop):
    cart_id = make_cart(app, shop)
    t0 = activity(app, cart_id)
    assert run(app, t0 + 2 * HOUR) == 0  # not abandoned yet: nothing to remind
    abandon(app, cart_id)

    timeline = [
        (HOUR - MINUTE, 0),
        (HOUR, 1),
        (HOUR + 10 * MINUTE, 0),  # the next run: already sent
        (23 * HOUR, 0),
        (24 * HOUR, 1),
        (24 * HOUR, 0),
        (71 * HOUR, 0),
        (72 * HOUR, 1),
        (80 * HOUR, 0),
        (30 * 24 * HOUR, 0),
    ]
    assert [run(app, t0 + after) for after, _ in timeline] == [sent for _, sent in timeline]

    assert reminders(app, cart_id) == [
        (cart_id, 1, "Vous avez oublié quelque chose dans votre panier chez Comptoir"),
        (cart_id, 2, "Votre panier chez Comptoir vous attend toujours"),
        (cart_id, 3, "Dernier rappel\u00a0: votre panier chez Comptoir"),
    ]
    assert cart_row(app, cart_id).recovery_step == 3
    with app.app_context():
        queued = db.session.execute(
            select(EmailMessage.kind, EmailMessage.to_address, EmailMessage.message_id)
        ).all()
    assert sorted(queued) == [
        (
            "cart_recovery",
            "camille@example.com",
            f"<cart-recovery-{cart_id}-{step}@comptoir.example.com>",
        )
        for step in (1, 2, 3)
    ]


def test_the_delays_come_from_the_store_setting(app, shop):
    with app.app_context():
        set_setting(policy.DELAYS_SETTING, "2,5")
    cart_id = make_cart(app, shop)
    t0 = activity(app, cart_id)
    abandon(app, cart_id)
    assert [run(app, t0 + h * HOUR) for h in (1, 2, 4, 5, 28, 30)] == [0, 1, 0, 1, 0, 0]
    assert [step for _, step, _ in reminders(app, cart_id)] == [1, 2]


@pytest.mark.parametrize("raw", ["abc", "1,1", "24,1", "0,2", "-1", "1,nan"])
def test_bad_delay_settings_fall_back_to_the_default(app, raw):
    with app.app_context():
        set_setting(policy.DELAYS_SETTING, raw)
        assert policy.delays() == (HOUR, 24 * HOUR, 72 * HOUR)


def test_after_an_outage_only_the_step_that_fits_is_sent(app, shop):
    late = make_cart(app, shop, email="late@example.com")
    forgotten = make_cart(app, shop, email="forgotten@example.com")
    t0 = activity(app, late)
    with app.app_context():
        recovery.detect_abandoned(now=t0 + 30 * HOUR)
    assert run(app, t0 + 30 * HOUR) == 2  # step 2 for both, step 1 skipped
    assert [step for _, step, _ in reminders(app)] == [2, 2]
    assert run(app, t0 + 100 * HOUR) == 0  # past the last step's day of grace: nothing
    assert [step for _, step, _ in reminders(app, forgotten)] == [2]


def test_an_abandoned_checkout_is_reminded_then_ordered_and_the_sequence_stops(app, client, shop):
    from tests.test_checkout import _add, _details_form

    _add(client, shop["SKU-2"])
    client.get("/fr/commande")
    form = _details_form(client, email="checkout@example.com", recovery_consent="1")
    assert client.post("/fr/commande", data=form).status_code == 303
    with app.app_context():
        cart_id = db.session.execute(select(Cart.id)).scalar_one()
    t0 = activity(app, cart_id)
    abandon(app, cart_id)
    assert run(app, t0 + HOUR) == 1  # the address typed at checkout is reminded

    # The shopper comes back to the review page and places the order.
    placed = client.post(
        "/fr/commande/recapitulatif", data={"csrf_token": csrf_token(client, "/fr/")}
    )
    assert placed.status_code == 303
    assert cart_row(app, cart_id).status == CartStatus.CONVERTED
    assert run(app, t0 + 24 * HOUR) == 0
    assert run(app, t0 + 72 * HOUR) == 0
    assert [step for _, step, _ in reminders(app, cart_id)] == [1]


def test_an_order_from_another_cart_stops_the_sequence(app, shop):
    forgotten = make_cart(app, shop, email="twice@example.com")
    t0 = activity(app, forgotten)
    abandon(app, forgotten)
    other = make_cart(app, shop, email="twice@example.com", items={"SKU-4": 1})
    with app.app_context():
        checkout.place_order(other, _details("twice@example.com"))
        with pytest.raises(recovery.OrderedSince):
            recovery.send_next_step_now(forgotten)
    assert run(app, t0 + HOUR) == 0
    assert reminders(app) == []


def test_activity_makes_the_cart_active_again_and_the_sequence_resumes_later(app, shop):
    cart_id = make_cart(app, shop)
    t0 = activity(app, cart_id)
    abandon(app, cart_id)
    assert run(app, t0 + HOUR) == 1

    with app.app_context():
        carts.add_item(cart_id, shop["SKU-4"], 1)
    cart = cart_row(app, cart_id)
    assert (cart.status, cart.abandoned_at) == (CartStatus.ACTIVE, None)
    assert run(app, t0 + 24 * HOUR) == 0  # active: no reminder

    t1 = cart.last_activity_at
    with app.app_context():
        assert recovery.detect_abandoned(now=t1 + HOUR + MINUTE) == 1
    assert run(app, t1 + HOUR + MINUTE) == 0  # step 1 was sent before: never twice
    assert run(app, t1 + 24 * HOUR) == 1
    assert [step for _, step, _ in reminders(app, cart_id)] == [1, 2]


def test_a_guest_finds_their_abandoned_cart_and_a_change_reactivates_it(app, client, shop):
    from tests.test_cart import add

    assert add(client, shop["SKU-3"], 2).status_code == 303
    with app.app_context():
        cart_id = db.session.execute(select(Cart.id)).scalar_one()
        db.session.execute(
            update(Cart).values(email="guest@example.com", status=CartStatus.ABANDONED)
        )
        db.session.commit()
    page = client.get("/fr/panier").get_data(as_text=True)
    assert "Table en chêne n°\u00a03" in page
    assert '<span class="cart-count">2 articles</span>' in page
    assert add(client, shop["SKU-4"], 1).status_code == 303
    cart = cart_row(app, cart_id)
    assert (cart.status, cart.abandoned_at) == (CartStatus.ACTIVE, None)
    with app.app_context():
        assert db.session.scalar(select(func.count(Cart.id))) == 1  # the same cart, no new one


def test_two_runs_at_once_send_a_step_once(app, shop):
    cart_id = make_cart(app, shop)
    t0 = activity(app, cart_id)
    abandon(app, cart_id)
    start = threading.Barrier(4)
    results: list[int] = []

    def send() -> None:
        with app.app_context():
            start.wait()
            results.append(recovery.send_due_steps(now=t0 + HOUR))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [0, 0, 0, 1]
    assert len(reminders(app)) == 1
    # And the database itself refuses a second row for the same step.
    with app.app_context():
        db.session.add(CartRecoveryEmail(cart_id=cart_id, step=1, to_address="x@example.com"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


# -- consent ---------------------------------------------------------------------------------


CONSENT_CASES = {
    # case: (basis, who, sent?)
    "consent, guest who ticked the box": ("consent", "guest_ticked", True),
    "consent, guest who did not": ("consent", "guest", False),
    "consent, customer who agreed to marketing": ("consent", "customer_agreed", True),
    "consent, customer who did not": ("consent", "customer", False),
    "legitimate interest, guest": ("legitimate_interest", "guest", True),
    "legitimate interest, customer": ("legitimate_interest", "customer", True),
    "legitimate interest, unsubscribed guest": ("legitimate_interest", "guest_unsubscribed", False),
    "legitimate interest, closed account": ("legitimate_interest", "customer_closed", False),
}


@pytest.mark.parametrize("case", CONSENT_CASES)
def test_the_consent_basis_is_honoured(app, shop, make_user, case):
    basis, who, sent = CONSENT_CASES[case]
    with app.app_context():
        set_setting(policy.BASIS_SETTING, basis)
    fields: dict = {"consent": who == "guest_ticked", "email": "shopper@example.com"}
    if who.startswith("customer"):
        fields["customer_id"] = make_user(
            "shopper@example.com", marketing_consent=who == "customer_agreed"
        )
        fields["email"] = None
        if who == "customer_closed":
            with app.app_context():
                db.session.execute(update(User).values(is_active_account=False))
                db.session.commit()
    if who == "guest_unsubscribed":
        with app.app_context():
            suppression.unsubscribe("Shopper@Example.com")
    cart_id = make_cart(app, shop, **fields)
    t0 = activity(app, cart_id)
    abandon(app, cart_id)

    assert run(app, t0 + HOUR) == int(sent)
    with app.app_context():
        if sent:
            assert recovery.send_next_step_now(cart_id) == 2  # the back office agrees
        else:
            with pytest.raises(recovery.RecoveryError):
                recovery.send_next_step_now(cart_id)
    assert len(reminders(app)) == (2 if sent else 0)
    if sent:
        reason = {
            "consent": "parce que vous avez accepté de recevoir des e-mails de Comptoir",
            "legitimate_interest": "Vous pouvez vous y opposer à tout moment",
        }[basis]
        assert reason in mail_of(app, cart_id, 1).text_body


# -- the mail, through the real worker and SMTP -------------------------------------------------


def test_the_reminder_arrives_in_french_with_list_unsubscribe(app, shop, mailbox, rq_worker):
    cart_id = make_cart(app, shop, email="lea.panier@example.com", items={"SKU-3": 2, "SKU-0-1": 1})
    t0 = activity(app, cart_id)
    abandon(app, cart_id)
    assert run(app, t0 + HOUR) == 1

    [message] = mailbox.wait_for("lea.panier@example.com", timeout=30)
    assert message["Subject"] == "Vous avez oublié quelque chose dans votre panier chez Comptoir"
    assert message["Content-Language"] == "fr"
    assert message["Message-ID"] == f"<cart-recovery-{cart_id}-1@comptoir.example.com>"
    one_click, mailto = message["List-Unsubscribe"].split(", ")
    assert re.fullmatch(
        r"<http://127\.0\.0\.1:5000/fr/compte/desinscription\?token=[\w.-]+>", one_click
    )
    assert mailto == "<mailto:boutique@comptoir.example.com?subject=unsubscribe>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    assert "Bonjour," in text
    assert (
        "Vous avez laissé ces articles dans votre panier chez Comptoir. Ils vous attendent\u00a0:"
        in text
    )
    assert "- 2 × Table en chêne n°\u00a03 — 26,00\u00a0€" in text
    assert "- 1 × Chaise en chêne n°\u00a00 (Grand) — 12,00\u00a0€" in text
    assert "Sous-total (3\u00a0articles) — 38,00\u00a0€" in text
    assert "Ce lien est valable 14\u00a0jours." in text
    assert re.search(r"http://127\.0\.0\.1:5000/fr/panier/recuperer\?token=[\w-]{43}\s", text)
    html = message.get_body(("html",)).get_content()
    assert '<html lang="fr">' in html and 'style="' in html and "<style" not in html
    assert "Revenir à mon panier" in html
    assert "/fr/compte/desinscription?token=" in html

    # The one-click link of the header, as a mail client posts it: no session, no CSRF.
    target = one_click.strip("<>").removeprefix("http://127.0.0.1:5000")
    response = app.test_client().post(target, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    with app.app_context():
        assert suppression.is_suppressed("lea.panier@example.com")


def test_an_english_cart_gets_an_english_reminder(app, shop):
    cart_id = make_cart(app, shop, locale="en", items={"SKU-4": 1})
    t0 = activity(app, cart_id)
    abandon(app, cart_id)
    run(app, t0 + HOUR)
    run(app, t0 + 72 * HOUR)
    message = mail_of(app, cart_id, 1)
    assert message.subject == "You left something in your cart at Comptoir"
    assert "- 1 × Oak chair no. 4 — €14.00" in message.text_body
    assert "Subtotal (1 item) — €14.00" in message.text_body
    assert "http://127.0.0.1:5000/en/cart/recover?token=" in message.text_body
    assert "http://127.0.0.1:5000/en/account/unsubscribe?token=" in message.text_body
    assert mail_of(app, cart_id, 3).subject == "Last reminder: your cart at Comptoir"


def test_an_unsubscribe_between_queueing_and_delivery_wins(app):
    with app.app_context():
        # Queued (no delivery job: the session's worker must not race this test), then the
        # address unsubscribes before delivery.
        message = EmailMessage(
            kind="cart_recovery",
            to_address="late.no@example.com",
            locale="fr",
            subject="s",
            text_body="t",
            html_body="<p>h</p>",
            message_id="<late-no@comptoir.example.com>",
        )
        db.session.add(message)
        db.session.commit()
        suppression.unsubscribe("Late.No@example.com")
        assert emails.deliver(message.id) is False
        db.session.refresh(message)
        assert (message.status, message.attempts) == ("failed", 0)
        assert "unsubscribed" in message.last_error


# -- the recovery link ---------------------------------------------------------------------------


def test_the_link_restores_the_cart_in_a_fresh_browser_with_the_price_notice(app, shop):
    cart_id = make_cart(app, shop, items={"SKU-3": 2})
    t0 = activity(app, cart_id)
    abandon(app, cart_id)
    run(app, t0 + HOUR)
    path = recover_path(app, cart_id)
    secret = path.split("token=")[1]
    with app.app_context():
        [stored] = db.session.execute(select(CartRecoveryToken)).scalars()
        assert stored.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert stored.cart_id == cart_id and stored.step == 1
        assert stored.expires_at == t0 + HOUR + timedelta(days=14)
        catalogue_factory.change_price(shop["SKU-3"], 1500)  # 13 € → 15 € since it was added
        db.session.commit()

    browser = app.test_client()
    response = browser.get(path)
    assert response.status_code == 303
    assert response.headers["Location"] == "/fr/panier"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert any(c.startswith("cart=") for c in response.headers.getlist("Set-Cookie"))
    page = browser.get("/fr/panier").get_data(as_text=True)
    assert "Bon retour parmi nous\u202f! Voici votre panier, tel que vous l’avez laissé." in page
    assert "Table en chêne n°\u00a03" in page
    assert "Certains prix ont changé" in page
    assert "30,00\u00a0€" in page
    cart = cart_row(app, cart_id)
    assert (cart.status, cart.abandoned_at) == (CartStatus.ACTIVE, None)
    with app.app_context():
        kinds = db.session.execute(select(CartEvent.kind)).scalars().all()
        assert kinds == ["recovered"]
        assert db.session.execute(select(CartRecoveryToken.used_at)).scalar() is not None
        # Only the hash is stored: the secret appears nowhere in the table.
        rows = db.session.execute(select(CartRecoveryToken.__table__)).all()
        assert secret not in repr(rows)
    assert run(app, t0 + 24 * HOUR) == 0  # recovered: the sequence stopped


def _tampered(path: str) -> str:
    return path[:-1] + ("A" if path[-1] != "A" else "B")


BAD_LINKS = {
    # case: (how to spoil the link, status, French message)
    "tampered": ("tamper", 404, "Ce lien n’est pas valide."),
    "unknown": ("unknown", 404, "Ce lien n’est pas valide."),
    "malformed": ("malformed", 404, "Ce lien n’est pas valide."),
    "missing": ("missing", 404, "Ce lien n’est pas valide."),
    "expired": ("expire", 410, "Ce lien a expiré."),
    "cart ordered": ("order", 410, "Ce panier n’est plus disponible"),
}


@pytest.mark.parametrize("case", BAD_LINKS)
def test_a_bad_link_is_refused_and_changes_nothing(app, client, shop, case):
    how, status, message = BAD_LINKS[case]
    cart_id = make_cart(app, shop)
    t0 = activity(app, cart_id)
    abandon(app, cart_id)
    run(app, t0 + HOUR)
    path = recover_path(app, cart_id)
    if how == "tamper":
        path = _tampered(path)
    elif how == "unknown":
        path = f"{RECOVER['fr']}?token={secrets.token_urlsafe(32)}"
    elif how == "malformed":
        path = f"{RECOVER['fr']}?token=<script>"
    elif how == "missing":
        path = RECOVER["fr"]
    elif how == "expire":
        with app.app_context():
            db.session.execute(update(CartRecoveryToken).values(expires_at=utcnow() - MINUTE))
            db.session.commit()
    elif how == "order":
        with app.app_context():
            carts.reactivate(cart_id)  # as the checkout pages do
            checkout.place_order(cart_id, _details("camille@example.com"))
    before = snapshot(app)

    response = client.get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert message in html
    assert "Lien non valide" in html
    assert not any(c.startswith("cart=") for c in response.headers.getlist("Set-Cookie"))
    assert snapshot(app) == before


def test_a_customers_cart_asks_its_owner_to_log_in_and_refuses_anyone_else(app, shop, make_user):
    owner = make_user("owner@example.com", marketing_consent=True)
    make_user("someone@example.com")
    cart_id = make_cart(app, shop, customer_id=owner, email="owner@example.com", consent=False)
    t0 = activity(app, cart_id)
    abandon(app, cart_id)
    run(app, t0 + HOUR)
    path = recover_path(app, cart_id)

    someone = app.test_client()
    Auth(someone).login("someone@example.com")
    before = snapshot(app)
    refused = someone.get(path)
    assert refused.status_code == 403
    assert "Ce panier appartient à un autre compte." in refused.get_data(as_text=True)
    assert snapshot(app) == before

    visitor = app.test_client()
    response = visitor.get(path)
    assert response.status_code == 303
    assert response.headers["Location"] == "/fr/compte/connexion?next=/fr/panier"
    assert cart_row(app, cart_id).status == CartStatus.ACTIVE
    Auth(visitor).login("owner@example.com")
    page = visitor.get("/fr/panier").get_data(as_text=True)
    assert "Table en chêne n°\u00a03" in page


def test_a_guest_cart_link_merges_into_a_logged_in_customers_cart(app, shop, make_user):
    from tests.test_cart import add

    make_user("merge@example.com")
    customer = app.test_client()
    Auth(customer).login("merge@example.com")
    add(customer, shop["SKU-4"], 1)
    guest_cart = make_cart(app, shop, email="merge@example.com", items={"SKU-3": 2})
    t0 = activity(app, guest_cart)
    abandon(app, guest_cart)
    run(app, t0 + HOUR)

    response = customer.get(recover_path(app, guest_cart))
    assert response.status_code == 303 and response.headers["Location"] == "/fr/panier"
    page = customer.get("/fr/panier").get_data(as_text=True)
    assert "Table en chêne n°\u00a03" in page and "Chaise en chêne n°\u00a04" in page
    assert cart_row(app, guest_cart).status == CartStatus.MERGED


def test_a_guest_opening_the_link_keeps_the_cart_they_already_had_in_this_browser(app, shop):
    from tests.test_cart import add

    browser = app.test_client()
    add(browser, shop["SKU-4"], 1)  # a new cart in this browser, after the one left behind
    add(browser, shop["SKU-3"], 1)
    with app.app_context():
        current = db.session.execute(
            select(Cart.id).where(Cart.email.is_(None), Cart.status == CartStatus.ACTIVE)
        ).scalar_one()
    left = make_cart(app, shop, email="deux.paniers@example.com", items={"SKU-3": 2})
    t0 = activity(app, left)
    abandon(app, left)
    run(app, t0 + HOUR)

    response = browser.get(recover_path(app, left))

    assert response.status_code == 303 and response.headers["Location"] == "/fr/panier"
    page = browser.get("/fr/panier").get_data(as_text=True)
    assert "Table en chêne n°\u00a03" in page and "Chaise en chêne n°\u00a04" in page
    with app.app_context():
        lines = dict(
            db.session.execute(
                select(CartItem.variant_id, CartItem.quantity).where(CartItem.cart_id == left)
            ).all()
        )
    assert lines == {shop["SKU-3"]: 3, shop["SKU-4"]: 1}  # summed, nothing lost
    assert cart_row(app, current).status == CartStatus.MERGED
    assert cart_row(app, left).status == CartStatus.ACTIVE


# -- unsubscribing -------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_unsubscribe_page_confirms_then_unsubscribes(app, client, make_user, lang):
    make_user("news@example.com", marketing_consent=True)
    with app.app_context():
        token = emails.unsubscribe_token("News@Example.com")
    url = f"{UNSUBSCRIBE[lang]}?token={token}"
    expected = {
        "fr": ("Ne plus envoyer d’e-mails commerciaux", "C’est fait\u00a0: news@example.com"),
        "en": ("Stop sending marketing emails", "Done: news@example.com"),
    }[lang]

    before = snapshot(app)
    page = client.get(url)
    assert page.status_code == 200
    assert expected[0] in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "private, no-store"
    assert snapshot(app) == before  # a GET (a mail scanner) changes nothing

    stale = client.post(url, data={"csrf_token": "stale"})
    assert stale.status_code == 400
    assert expected[0] in stale.get_data(as_text=True)  # the form again, with the error
    assert snapshot(app) == before

    done = client.post(url, data={"csrf_token": csrf_token(client, url)})
    assert done.status_code == 200
    assert expected[1] in done.get_data(as_text=True)
    with app.app_context():
        assert suppression.is_suppressed("news@example.com")
        assert db.session.execute(select(User.marketing_consent)).scalar() is False
        stored = db.session.execute(select(EmailSuppression.address_hash)).scalar()
        assert stored == hashlib.sha256(b"news@example.com").hexdigest()  # not the address
    # Twice is fine (a second click, or the one-click after the form).
    again = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(EmailSuppression)) == 1


@pytest.mark.parametrize(
    "token",
    ["", "nonsense", "forged.token.value"],
)
def test_a_bad_unsubscribe_link_is_a_translated_400_changing_nothing(app, client, token):
    before = snapshot(app)
    for response in (
        client.get(f"{UNSUBSCRIBE['fr']}?token={token}"),
        client.post(f"{UNSUBSCRIBE['fr']}?token={token}", data={"List-Unsubscribe": "One-Click"}),
    ):
        assert response.status_code == 400
        assert "Ce lien de désinscription n’est pas valide" in response.get_data(as_text=True)
    assert snapshot(app) == before


def test_an_unsubscribe_link_still_works_years_later(app, client):
    class SignedLongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 3 * 365 * 24 * 3600

    with app.app_context():
        old = URLSafeTimedSerializer(
            app.config["SECRET_KEY"], salt=emails._UNSUBSCRIBE_SALT, signer=SignedLongAgo
        ).dumps("old.reader@example.com")
    url = f"{UNSUBSCRIBE['fr']}?token={old}"

    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    with app.app_context():
        assert suppression.is_suppressed("old.reader@example.com")


def test_only_the_exact_one_click_body_skips_csrf(app, client):
    with app.app_context():
        url = f"{UNSUBSCRIBE['en']}?token={emails.unsubscribe_token('x@example.com')}"
    for body in ({"List-Unsubscribe": "one-click"}, {"List-Unsubscribe": ""}, {}):
        assert client.post(url, data=body).status_code == 400
    with app.app_context():
        assert not suppression.is_suppressed("x@example.com")


# -- the checkout stores the contact address and the consent box --------------------------------


def test_the_checkout_keeps_the_address_and_the_reminder_consent_on_the_cart(app, client, shop):
    from tests.test_checkout import _add, _details_form

    _add(client, shop["SKU-2"])
    page = client.get("/fr/commande").get_data(as_text=True)
    assert "M’envoyer un rappel par e-mail si je laisse des articles dans mon panier" in page
    form = _details_form(client, email="Box.Ticked@Example.com", recovery_consent="1")
    assert client.post("/fr/commande", data=form).status_code == 303
    with app.app_context():
        cart = db.session.execute(select(Cart)).scalar_one()
        assert cart.email == "box.ticked@example.com"
        assert cart.recovery_consent_at is not None
    # An error elsewhere in the form still keeps a valid address (and unticked: no consent).
    form = _details_form(client, **{"shipping-city": ""})
    assert client.post("/fr/commande", data=form).status_code == 422
    with app.app_context():
        cart = db.session.execute(select(Cart)).scalar_one()
        assert (cart.email, cart.recovery_consent_at) == ("camille@example.com", None)
        set_setting(policy.BASIS_SETTING, policy.LEGITIMATE_INTEREST)
    assert "M’envoyer un rappel" not in client.get("/fr/commande").get_data(as_text=True)


# -- back office services ------------------------------------------------------------------------


def test_send_next_step_now_sends_at_once_and_refuses_with_a_reason(app, shop):
    cart_id = make_cart(app, shop)
    no_consent = make_cart(app, shop, email="nope@example.com", consent=False)
    abandon(app, cart_id)
    abandon(app, no_consent)
    active = make_cart(app, shop, email="busy@example.com")
    with app.app_context():
        assert [recovery.send_next_step_now(cart_id) for _ in range(3)] == [1, 2, 3]
        refusals = {}
        for target in (cart_id, active, no_consent, 10**9):
            with pytest.raises(recovery.RecoveryError) as raised:
                recovery.send_next_step_now(target)
            with force_locale("fr"):
                refusals[target] = str(raised.value.message)
    assert refusals == {
        cart_id: "Tous les rappels de la séquence ont déjà été envoyés pour ce panier.",
        active: "Ce panier n’est pas abandonné\u00a0: il est utilisé, commandé ou fusionné.",
        no_consent: "Cette personne n’a pas accepté de recevoir des rappels par e-mail.",
        10**9: "Ce panier n’existe pas.",
    }
    assert [step for _, step, _ in reminders(app)] == [1, 2, 3]
    # The scheduled run does not send a step the back office already sent.
    assert run(app, activity(app, cart_id) + 72 * HOUR) == 0


def test_the_overview_lists_abandoned_carts_in_five_queries(app, shop, queries):
    counts = []
    for size in (1, 6):
        with app.app_context():
            db.session.execute(update(Cart).values(status=CartStatus.CONVERTED))
            db.session.commit()
        ids = [
            make_cart(app, shop, email=f"o{size}-{i}@example.com", items={"SKU-3": 2, "SKU-4": 1})
            for i in range(size)
        ]
        for cart_id in ids:
            abandon(app, cart_id)
        with app.app_context():
            recovery.send_next_step_now(ids[0])
            now = activity(app, ids[0]) + 24 * HOUR
            with queries() as statements:
                result = overview.abandoned_overview(limit=10, locale="en", now=now)
            counts.append(len(statements))
        assert result.total == size
        assert [row.cart_id for row in result.carts] == sorted(ids, reverse=True)
    assert counts[0] == counts[1] <= 5  # setting, count, page, lines, reminders

    first = next(row for row in result.carts if row.cart_id == ids[0])
    assert (first.value, first.item_count, first.email) == (4000, 3, "o6-0@example.com")
    assert [(line.title, line.quantity, line.line_total) for line in first.lines] == [
        ("Oak table no. 3", 2, 2600),
        ("Oak chair no. 4", 1, 1400),
    ]
    assert first.recency_score == 50  # a day since the last activity
    # Pending, or already sent if the session's worker is running.
    assert [(s.step, s.delivery in ("pending", "sent")) for s in first.steps] == [(1, True)]
    assert first.steps[0].queued_at is not None
    assert first.next_step == 2
    other = next(row for row in result.carts if row.cart_id != ids[0])
    assert (other.steps, other.next_step) == ([], 1)

    with app.app_context():
        page = overview.abandoned_overview(limit=2, offset=2, email_contains="O6-1")
    assert page.total == 1 and [row.email for row in page.carts] == []


def test_recency_score_halves_every_day():
    now = utcnow()
    assert [overview.recency_score(now - h * HOUR, now) for h in (0, 24, 48, 72)] == [
        100,
        50,
        25,
        13,
    ]


# -- the periodic job ------------------------------------------------------------------


def test_the_job_runs_every_ten_minutes():
    assert ("recover_abandoned_carts", jobs.recover_abandoned_carts, 600) in jobs.PERIODIC


def test_the_embedded_default_runs_the_job_on_its_thread(app, shop, test_env, tmp_path, mailbox):
    """No REDIS_URL: the dev server's periodic thread detects the cart and mails it."""
    own_app = create_app({**test_env, "REDIS_URL": "", "INSTANCE_PATH": str(tmp_path)})
    cart_id = make_cart(app, shop, email="embedded@example.com", idle=2 * HOUR)
    stop = jobs.start_periodic_thread(own_app, tick=0.05)
    try:
        [message] = mailbox.wait_for("embedded@example.com")
        assert message["Subject"].startswith("Vous avez oublié quelque chose")
        assert cart_row(app, cart_id).status == CartStatus.ABANDONED
    finally:
        stop.set()
        from shop.extensions import limiter

        limiter._storage, limiter._limiter = app.extensions["test_limiter_state"]
        queue.wait_for_inprocess_jobs(own_app)
        with own_app.app_context():
            db.session.remove()
            db.engine.dispose()
    time.sleep(0.3)
    assert len(mailbox.messages("embedded@example.com")) == 1
