"""The page cache without Redis, as `make run` serves: SQLite file, no REDIS_URL.

Pages live in each process's memory, bounded; the catalogue version is a stamp file beside
the database that every process on it sees, so a change made by another process (another
app on the same file here: the admin in another worker, a command, a job) shows on the next
request. Counts, not timings.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import flask_migrate
import pytest
from flask import Flask
from sqlalchemy import event, select

from shop import create_app, local_versions
from shop import page_cache as cache
from shop.catalogue import services
from shop.catalogue.models import Product, ProductStatus
from shop.checkout import taxes
from shop.checkout.defaults import load_defaults
from shop.checkout.models import TaxRate
from shop.extensions import db
from shop.memory_cache import MemoryCache
from tests import catalogue_factory
from tests.conftest import PASSWORD, Auth, recorded_statements

ROOT = Path(__file__).resolve().parent.parent
CATEGORY = "/fr/categories/mobilier"
PRODUCT = "/fr/produits/table-en-chene-n-3"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def _config(database: Path, instance: Path, **more: object) -> dict[str, object]:
    return {
        "DATABASE_URL": f"sqlite:///{database}",
        "REDIS_URL": "",
        "SMTP_URL": "",
        "SECRET_KEY": "local-cache-test-secret-key-0123456789",
        "INSTANCE_PATH": str(instance),
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_COST": "8192",
        "LOG_LEVEL": "WARNING",
        **more,
    }


def _close(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A migrated SQLite database with the test catalogue and the checkout defaults, copied
    by each test (migrating takes seconds)."""
    folder = tmp_path_factory.mktemp("seeded")
    app = create_app(_config(folder / "shop.db", folder / "instance"))
    with app.app_context():
        flask_migrate.upgrade()
        ids = catalogue_factory.build(30)
        load_defaults()
        db.session.commit()
        db.session.execute(db.text("PRAGMA wal_checkpoint(TRUNCATE)"))
    _close(app)
    return folder / "shop.db", ids


@pytest.fixture
def database(seeded: tuple[Path, dict], tmp_path: Path) -> Path:
    shutil.copy(seeded[0], tmp_path / "shop.db")
    return tmp_path / "shop.db"


@pytest.fixture
def ids(seeded: tuple[Path, dict]) -> dict:
    return seeded[1]


@pytest.fixture
def make_app(database: Path, tmp_path: Path) -> Iterator:
    """``make_app(name, **config)``: a process of the shop on the test's database, with its
    own instance folder (the stamp sits beside the database, not in the instance)."""
    made: list[Flask] = []

    def make(name: str = "web", **more: object) -> Flask:
        app = create_app(_config(database, tmp_path / f"instance-{name}", **more))
        made.append(app)
        return app

    yield make
    for app in made:
        _close(app)


@pytest.fixture
def shop(make_app) -> Flask:
    return make_app()


@pytest.fixture
def statements(shop: Flask):
    """``with statements() as seen:`` records the SQL the shop's engine (or ``app``'s) runs
    in the block."""
    return lambda app=shop: recorded_statements(app)


def html_of(response) -> str:
    return response.get_data(as_text=True)


# -- hits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [CATEGORY, PRODUCT, "/en/products/oak-table-no-3", "/fr/"])
def test_a_second_visit_runs_no_sql(shop, statements, path):
    with statements() as first:
        assert shop.test_client().get(path).status_code == 200
    assert first  # built from the database once
    for client in (shop.test_client(), shop.test_client()):  # two new visitors
        with statements() as seen:
            response = client.get(path)
        assert response.status_code == 200
        assert seen == [], path


def test_signed_in_visitors_get_cached_parts_in_their_own_layout(shop, statements):
    with shop.app_context():
        from shop.accounts import services as accounts

        accounts.register("camille@example.com", PASSWORD, locale="fr")
    anonymous = shop.test_client()
    assert "Se connecter" in html_of(anonymous.get(PRODUCT))  # cached for anonymous visitors
    member = shop.test_client()
    assert Auth(member).login("camille@example.com").status_code == 303
    member.get(PRODUCT)  # the parts cached for everyone signed in
    with statements() as seen:
        page = html_of(member.get(PRODUCT))
    assert "Mon compte" in page and "Se déconnecter" in page and "Se connecter" not in page
    # the session's user and their cart's badge; nothing of the page
    assert len(seen) == 2 and not any("product" in statement for statement in seen), seen
    again = html_of(shop.test_client().get(PRODUCT))
    assert "Mon compte" not in again and "Se connecter" in again


def test_a_flash_is_shown_to_its_visitor_only(shop):
    shop.test_client().get(CATEGORY)  # cached
    flashed = shop.test_client()
    with flashed.session_transaction() as session:
        session["_flashes"] = [("info", "Votre message rien qu’à vous")]
    assert "Votre message rien qu’à vous" in html_of(flashed.get(CATEGORY))
    assert "Votre message rien qu’à vous" not in html_of(flashed.get(CATEGORY))  # shown once
    assert "Votre message rien qu’à vous" not in html_of(shop.test_client().get(CATEGORY))


def test_each_visitor_gets_their_own_csrf_token(shop, statements):
    """Issue 13: a visitor without a session gets the session-less token (the same for
    everyone, accepted by the cart only, see shop.web.security) and no cookie; a visitor
    with a session gets their own token in the same cached page."""
    first, second = shop.test_client(), shop.test_client()
    page_one = html_of(first.get(PRODUCT))
    with statements() as seen:
        anonymous = second.get(PRODUCT)
    assert seen == []  # the same cached page
    assert "Set-Cookie" not in anonymous.headers
    token_one, public = CSRF_META.search(page_one)[1], CSRF_META.search(html_of(anonymous))[1]
    assert token_one == public and public.startswith("p.")
    second.get("/fr/compte/connexion")  # a page with a form of its own: a session
    with statements() as seen:
        page_two = html_of(second.get(PRODUCT))
    assert not any("product" in statement for statement in seen), seen
    token_two = CSRF_META.search(page_two)[1]
    assert token_two != public and not token_two.startswith("p.")
    assert "__comptoir_csrf_token__" not in page_two
    # the add-to-cart form carries the visitor's own token
    assert page_two.count(token_two) >= 2 and public not in page_two


# -- changes -------------------------------------------------------------------------------


def test_a_change_through_the_admin_service_shows_on_the_next_visit(shop, ids, statements):
    client = shop.test_client()
    assert "Table en chêne n°\u00a03" in html_of(client.get(CATEGORY))
    assert client.get(PRODUCT).status_code == 200
    with shop.app_context():
        services.set_status(ids["products"][3], ProductStatus.ARCHIVED)
    with statements() as seen:
        listing = html_of(client.get(CATEGORY))
    assert seen  # rebuilt
    assert "Table en chêne n°\u00a03" not in listing
    assert client.get(PRODUCT).status_code == 404


def test_a_change_made_by_another_process_shows_on_the_next_visit(make_app, ids):
    web, other = make_app("web"), make_app("admin")
    client = web.test_client()
    assert "13,00\u00a0€" in html_of(client.get(PRODUCT))
    assert "13,00\u00a0€" in html_of(client.get(PRODUCT))  # from web's memory
    with other.app_context():  # another worker, a command or a job: its own memory
        product = db.session.get(Product, ids["products"][3])
        catalogue_factory.change_price(product.variants[0].id, 1450)
    html = html_of(client.get(PRODUCT))
    assert "14,50\u00a0€" in html and "13,00\u00a0€" not in html
    # every process found the same stamp, beside the database
    with web.app_context():
        stamp = local_versions.path(cache.LOCAL_VERSION)
        assert stamp.parent == Path(db.engine.url.database).parent
        assert local_versions.read(cache.LOCAL_VERSION) > 0
    with other.app_context():
        assert local_versions.path(cache.LOCAL_VERSION) == stamp


ARCHIVE_IN_ANOTHER_PROCESS = """
import json, sys
from shop import create_app
from shop.catalogue import services
from shop.catalogue.models import ProductStatus
app = create_app(json.loads(sys.argv[1]))
with app.app_context():
    services.set_status(int(sys.argv[2]), ProductStatus.ARCHIVED)
"""


def test_a_change_made_by_a_real_other_process_shows_on_the_next_visit(
    shop, database, tmp_path, ids
):
    client = shop.test_client()
    assert client.get(PRODUCT).status_code == 200
    assert client.get(PRODUCT).status_code == 200  # from memory
    config = json.dumps(_config(database, tmp_path / "instance-command"))
    product_id = str(ids["products"][3])
    done = subprocess.run(
        [sys.executable, "-c", ARCHIVE_IN_ANOTHER_PROCESS, config, product_id],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert client.get(PRODUCT).status_code == 404


def test_a_conditional_get_is_304_until_another_process_changes_the_catalogue(make_app, ids):
    web, other = make_app("web"), make_app("admin")
    client = web.test_client()
    etag = client.get(CATEGORY).headers["ETag"]
    assert client.get(CATEGORY, headers={"If-None-Match": etag}).status_code == 304
    with other.app_context():
        catalogue_factory.edit_category(
            ids["furniture"], texts={"fr": {"name": "Meubles", "slug": "mobilier"}}
        )
    changed = client.get(CATEGORY, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert "Meubles" in html_of(changed)


def test_stamps_only_grow_even_within_one_millisecond(shop):
    with shop.app_context():
        stamps = [local_versions.bump("catalogue") for _ in range(50)]
        assert stamps == sorted(set(stamps))
        assert local_versions.read("catalogue") == stamps[-1]


# -- bounds --------------------------------------------------------------------------------


def test_entries_are_bounded_least_recently_used_first(make_app, statements):
    web = make_app("web", PAGE_CACHE_MAX_ENTRIES="4")
    client = web.test_client()
    for i in range(2, 10):
        assert client.get(f"/fr/produits/{_slug(i)}").status_code == 200
    store = cache.memory(web)
    assert len(store) == 4  # the navigation and the last three pages
    assert store.bytes <= web.config["PAGE_CACHE_MAX_BYTES"]
    with statements(web) as recent:
        client.get(f"/fr/produits/{_slug(9)}")
    with statements(web) as evicted:
        client.get(f"/fr/produits/{_slug(2)}")
    assert recent == [] and evicted


def test_entries_are_bounded_in_bytes(make_app):
    web = make_app("web", PAGE_CACHE_MAX_BYTES=150_000)
    client = web.test_client()
    for i in range(2, 20):
        assert client.get(f"/fr/produits/{_slug(i)}").status_code == 200
    store = cache.memory(web)
    assert 0 < store.bytes <= 150_000
    assert 1 < len(store) < 18  # 18 pages and the navigation were built; the oldest went


def _slug(i: int) -> str:
    noun = "chaise" if i % 2 == 0 else "table"
    return f"{noun}-en-chene-n-{i}"


def test_the_memory_cache_keeps_the_recently_used_and_forgets_the_old():
    store = MemoryCache(max_entries=2, max_bytes=10_000, ttl=600)
    store.set("a", 1, "page a")
    store.set("b", 1, "page b")
    assert store.get("a", 1) == "page a"  # a is now the most recent
    store.set("c", 1, "page c")
    assert store.get("b", 1) is None and store.get("a", 1) == "page a"
    assert store.get("a", 2) is None  # another version: rebuilt
    assert len(store) == 1
    store.set("c", 3, "page c at 3")
    store.set("c", 2, "page c at 2, built by a slower request")
    assert store.get("c", 3) == "page c at 3"
    assert store.get("c", 2) is None and store.get("c", 3) == "page c at 3"
    store.set("huge", 3, "x" * 20_000)  # bigger than the whole cache: not kept
    assert store.get("huge", 3) is None and store.bytes <= 10_000


def test_the_memory_cache_forgets_after_its_ttl():
    store = MemoryCache(max_entries=10, max_bytes=10_000, ttl=0.05)
    store.set("a", 1, "page a")
    assert store.get("a", 1) == "page a"
    time.sleep(0.1)
    assert store.get("a", 1) is None and len(store) == 0 and store.bytes == 0


# -- checkout rules --------------------------------------------------------------------------


def _french_vat() -> int:
    return taxes.compute("FR", "", [(1200, "standard")], prices_include_tax=True).tax_total


def test_checkout_rules_are_kept_and_a_change_elsewhere_is_seen(make_app):
    web, other = make_app("web"), make_app("admin")
    with web.app_context():
        assert _french_vat() == 200
        db.session.commit()
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert _french_vat() == 200
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert seen == []  # kept by this process, without Redis too
    with other.app_context():
        rate = db.session.execute(
            select(TaxRate).where(
                TaxRate.country == "FR", TaxRate.region == "", TaxRate.tax_class == "standard"
            )
        ).scalar_one()
        rate.rate_ppm = 100_000
        db.session.commit()
    with web.app_context():
        assert _french_vat() == 109
