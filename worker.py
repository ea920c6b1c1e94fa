"""The RQ worker: builds the app once, then runs jobs (with RQ's scheduler for delayed ones)
and enqueues the periodic jobs (each at most once per interval across all workers).

Usage: ``python worker.py`` (``REDIS_URL`` must be set). Each job runs in a forked work
horse that inherits the app and opens its own database connections.
"""

from __future__ import annotations

import sys
import threading

from rq import Worker

from shop import create_app
from shop.jobs import enqueue_due_periodic_jobs, use_worker_app
from shop.queue import queue

TICK_SECONDS = 5


def main() -> int:
    app = create_app()
    rq_queue = queue(app)
    if rq_queue is None:
        print("worker.py needs REDIS_URL; without it jobs run in-process", file=sys.stderr)
        return 2
    use_worker_app(app)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(TICK_SECONDS):
            enqueue_due_periodic_jobs(app)

    threading.Thread(target=tick, name="comptoir-periodic", daemon=True).start()
    worker = Worker([rq_queue], connection=rq_queue.connection)
    try:
        worker.work(with_scheduler=True, logging_level=app.config["LOG_LEVEL"])
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
