"""Delivering outbox events from a test, now, whether or not a worker process runs too, and
rendering the documents their handlers issued (the job those handlers defer)."""

from __future__ import annotations

import time

from flask import Flask

from shop.extensions import db
from shop.invoices import pdf
from shop.outbox import dispatch
from shop.outbox.models import OutboxEvent, OutboxStatus


def deliver_outbox(app: Flask, timeout: float = 30.0, *, render: bool = True) -> None:
    """Dispatch every undelivered event (pending or failed) until none is left; an event a
    worker holds is waited for. Fails when events are still undelivered after ``timeout``.
    Then, unless ``render`` is False, render the PDFs of the documents issued meanwhile, as
    the ``render_pending_documents`` job deferred by their handlers does."""
    deadline = time.monotonic() + timeout
    with app.app_context():
        while True:
            db.session.remove()
            waiting = (
                db.session.execute(
                    db.select(OutboxEvent.id)
                    .where(OutboxEvent.status.in_((OutboxStatus.PENDING, OutboxStatus.FAILED)))
                    .order_by(OutboxEvent.id)
                )
                .scalars()
                .all()
            )
            if not waiting:
                if render:
                    pdf.render_pending()
                return
            for event_id in waiting:
                dispatch.dispatch(event_id)
            assert time.monotonic() < deadline, f"outbox events not delivered: {waiting}"
            time.sleep(0.05)
