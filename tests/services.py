"""Real services for the suite, on 127.0.0.1 and free ports below 32768.

Under pytest-xdist each worker process starts its own (session fixtures are per process), on
ports from its own slice of the range, in its own temporary folders.

Each ``start_*`` returns a handle with ``url`` and ``stop()``. Nothing here is a mock:
PostgreSQL, redis-server, aiosmtpd and localstripe run for real and are stopped at the end.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
_used_ports: set[int] = set()
_port_lock = threading.Lock()


def _port_range() -> range:
    """This process's share of 20000-32000: each pytest-xdist worker (gw0, gw1...) draws from
    its own slice, so two workers never both probe a port free and then race to bind it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or "1")
    if not worker.startswith("gw") or count <= 1:
        return range(20000, 32000)
    size = 12000 // count
    start = 20000 + int(worker[2:]) % count * size
    return range(start, start + size)


def free_port() -> int:
    """A free TCP port below the ephemeral range (load tests fill that one with TIME-WAITs)."""
    ports = _port_range()
    with _port_lock:
        for _ in range(500):
            port = random.choice(ports)
            if port in _used_ports:
                continue
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _used_ports.add(port)
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1}")


def wait_for_port(
    port: int, timeout: float = 15.0, process: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class Service:
    url: str
    port: int
    stop: Callable[[], None]
    extra: dict = field(default_factory=dict)


def start_postgres() -> Service:
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix="comptoir-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data = root / "data"
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        _as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(root / "log"),
                "-w",
                "-o",
                options,
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)

    return Service(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", port, stop)


def start_redis() -> Service:
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix="comptoir-redis-"))
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(root),
            "--logfile",
            str(root / "log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, process=process)

    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(root, ignore_errors=True)

    return Service(f"redis://127.0.0.1:{port}/0", port, stop, {"process": process})


class Mailbox:
    """What the SMTP server received, parsed, in arrival order."""

    def __init__(self) -> None:
        self._messages: list[Message] = []
        self._lock = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self._messages.append(message)
            self._lock.notify_all()
        return "250 Message accepted for delivery"

    def messages(self, to: str | None = None) -> list[Message]:
        with self._lock:
            return [m for m in self._messages if to is None or m["To"] == to]

    def wait_for(self, to: str, count: int = 1, timeout: float = 20.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len([m for m in self._messages if m["To"] == to]) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {count} message(s) for {to} within {timeout}s")
                self._lock.wait(remaining)
            return [m for m in self._messages if m["To"] == to]


def start_smtp() -> Service:
    from aiosmtpd.controller import Controller

    port = free_port()
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    return Service(f"smtp://127.0.0.1:{port}", port, controller.stop, {"mailbox": mailbox})


_LOCALSTRIPE = Path(__file__).with_name("localstripe_server.py")


def start_localstripe() -> Service:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(_LOCALSTRIPE), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_port(port, timeout=30, process=process)
    url = f"http://127.0.0.1:{port}"
    # Every session starts with an empty store (ours never reads or writes a file).
    request = urllib.request.Request(f"{url}/_config/data", method="DELETE")
    urllib.request.urlopen(request, timeout=10).close()

    def stop() -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    return Service(url, port, stop, {"process": process})
