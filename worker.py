"""The RQ worker: builds the app once, then runs jobs (with RQ's scheduler for delayed ones).

Usage: ``python worker.py`` (``REDIS_URL`` must be set). Each job runs in a forked
work horse that inherits the app and opens its own database connections.
"""

from __future__ import annotations

import sys

from rq import Worker

from shop import create_app
from shop.jobs import queue, use_worker_app


def main() -> int:
    app = create_app()
    rq_queue = queue(app)
    if rq_queue is None:
        print("worker.py needs REDIS_URL; without it jobs run in-process", file=sys.stderr)
        return 2
    use_worker_app(app)
    worker = Worker([rq_queue], connection=rq_queue.connection)
    worker.work(with_scheduler=True, logging_level=app.config["LOG_LEVEL"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
