"""The components page of the back office: every component, in the staff member's language."""

from __future__ import annotations

import pytest

from tests.admin_support import login_staff
from tests.conftest import PASSWORD, Auth

COMPONENTS = (
    'class="button"',
    'class="button button-secondary"',
    'class="button button-link"',
    'class="link-button"',
    'class="cart-badge"',
    'type="email"',
    'type="tel"',
    'type="number"',
    "<select",
    "<textarea",
    'class="choices"',
    'class="choices choices-stacked"',
    'class="stepper"',
    'class="badge badge-ok"',
    'class="alert alert-error"',
    'class="card"',
    'class="chips"',
    "<details",
    'class="pagination"',
)


@pytest.mark.parametrize(
    ("locale", "heading", "pill"), [("fr", "Composants", "Petit"), ("en", "Components", "Small")]
)
def test_any_staff_member_sees_every_component_in_their_language(
    app, client, locale, heading, pill
):
    from shop.accounts import services as accounts

    user_id = login_staff(client, app, "support")
    with app.app_context():
        accounts.set_locale(user_id, locale)
    response = client.get("/admin/design")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"<h1>{heading}</h1>" in html
    assert f">{pill}</label>" in html
    missing = [c for c in COMPONENTS if c not in html]
    assert missing == []
    assert 'href="/admin/design"' in html  # in the menu
    assert "<form" not in html.split('<main id="main"', 1)[1]  # nothing on it is sent
    assert " style=" not in html  # strict CSP: no inline style


def test_customers_and_visitors_do_not(app, client):
    assert client.get("/admin/design").status_code in (302, 303)
    from shop.accounts import services as accounts

    with app.app_context():
        accounts.register("shopper@example.com", PASSWORD, locale="fr")
    Auth(client).login("shopper@example.com")
    assert client.get("/admin/design").status_code == 403
