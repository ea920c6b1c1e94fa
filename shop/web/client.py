"""Who is asking: the client address, behind the trusted proxies only."""

from flask import request


def client_address() -> str:
    return request.remote_addr or "unknown"
