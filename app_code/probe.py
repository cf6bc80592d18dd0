"""Fail fast on an endpoint that does not answer, within a bounded time, instead of a client's long retry."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from cdk_data_tier.app.errors import BadInput

CONNECT_TIMEOUT_S = 3


def probe(host: str, port: int, what: str, hint: str = "") -> None:
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise BadInput(f"{what} at {host}:{port} is unreachable ({exc.strerror or exc}){hint}") from None


def probe_url(url: str | None, what: str, hint: str = "") -> None:
    if url:
        parts = urlsplit(url)
        probe(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), what, hint)
