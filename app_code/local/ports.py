"""Free loopback ports, chosen by the kernel (bind to port 0) so no port is ever fixed.

A port found free can be taken by someone else before the server binds it; launchers retry with a
fresh port when a server reports "Address already in use" (see `procs` callers).
"""

from __future__ import annotations

import socket
import threading

HOST = "127.0.0.1"
# Redis Cluster's bus listens on port + 10000, so a cluster node needs both free.
CLUSTER_BUS_OFFSET = 10000
_handed_out: set[int] = set()
_lock = threading.Lock()


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port(*, with_bus: bool = False) -> int:
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if with_bus and (port + CLUSTER_BUS_OFFSET > 65535 or not _bindable(port + CLUSTER_BUS_OFFSET)):
            continue
        with _lock:
            if port in _handed_out or (with_bus and port + CLUSTER_BUS_OFFSET in _handed_out):
                continue
            _handed_out.add(port)
            if with_bus:
                _handed_out.add(port + CLUSTER_BUS_OFFSET)
        return port
    raise RuntimeError("no free loopback port found")


def in_use(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


ADDRESS_IN_USE = ("Address already in use", "address already in use")


def lost_race(log_text: str) -> bool:
    return any(marker in log_text for marker in ADDRESS_IN_USE)
