"""``flask shop ...``: operator commands, each a thin call into a service."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from shop.accounts import services as accounts
from shop.accounts.models import Role, User
from shop.extensions import db
from shop.queue import wait_for_inprocess_jobs

shop_cli = AppGroup("shop", help="Comptoir operations.")

DEMO_PASSWORD = "comptoir-demo-2026"  # noqa: S105  (demo data only, refused in production)


@shop_cli.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option(
    "--role",
    type=click.Choice([Role.ADMIN, Role.MANAGER, Role.SUPPORT]),
    default=Role.ADMIN,
    show_default=True,
)
@click.option("--locale", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
def create_admin(email: str, password: str, role: str, locale: str) -> None:
    """Create a staff account (or promote an existing one and set its password)."""
    try:
        user = accounts.create_staff(email, password, role=role, locale=locale)
    except accounts.AccountError as error:
        raise click.ClickException(str(error.message)) from error
    wait_for_inprocess_jobs(current_app)
    click.echo(f"{user.role} {user.email} ready")


@shop_cli.command("reset-two-factor")
@click.option("--email", prompt=True)
def reset_two_factor(email: str) -> None:
    """Forget a staff member's two-factor enrolment (lost phone and recovery codes, and no
    administrator left to do it from the staff page); audited."""
    from shop.accounts import two_factor
    from shop.audit.services import track

    user = accounts.find_by_email(email)
    if user is None:
        raise click.ClickException(f"no account uses {email}")
    with track(
        actor_id=None,
        actor_email="(command line)",
        ip="",
        action="staff.two_factor_reset",
        entity_type="user",
        entity_id=user.id,
        before={"two_factor": two_factor.state(user)},
        after={"two_factor": "off"},
    ):
        two_factor.reset(user.id)
    click.echo(f"two-factor authentication of {user.email} reset")


@shop_cli.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the shop already has data.")
@click.option(
    "--products",
    type=click.IntRange(min=0),
    default=240,
    show_default=True,
    help="How many demo products (10000 for benchmarks).",
)
def seed_demo(if_empty: bool, products: int) -> None:
    """Load the bilingual demo shop (refused in production)."""
    if current_app.config["PRODUCTION"]:
        raise click.ClickException("seed-demo is for development and demos, not production")
    from shop import demo

    has_users = db.session.execute(db.select(User.id).limit(1)).first() is not None
    if if_empty and (has_users or not demo.catalogue_is_empty()):
        click.echo("demo: the database already has data, nothing loaded")
        return
    summary = demo.load(password=DEMO_PASSWORD, products=products)
    wait_for_inprocess_jobs(current_app)
    for line in summary:
        click.echo(f"demo: {line}")


@shop_cli.command("seo-check")
@click.option(
    "--max-links",
    type=click.IntRange(min=0),
    default=5000,
    show_default=True,
    help="Check at most this many distinct internal links found on the pages.",
)
def seo_check(max_links: int) -> None:
    """Crawl the sitemaps and every page they list, in-process; exit 1 on any SEO problem."""
    from shop.seo import check

    report = check.run(current_app._get_current_object(), max_links=max_links)  # type: ignore[attr-defined]
    for line in report.lines():
        click.echo(line)
    if report.problems:
        raise SystemExit(1)


@shop_cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """The development server, with the periodic jobs (stock-hold expiry, outbox sweep) on a
    background thread when there is no Redis; with Redis, worker.py runs them."""
    from werkzeug.serving import run_simple

    from shop.jobs import start_periodic_thread

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config.get("REDIS_URL"):
        start_periodic_thread(app)
        click.echo("periodic jobs: in-process (no REDIS_URL)")
    run_simple(host, port, app, threaded=True, use_reloader=False)


def init_app(app: Flask) -> None:
    app.cli.add_command(shop_cli)
