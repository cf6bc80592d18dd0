"""HAProxy in TCP mode: the twin's stand-in for the DNS names that RDS and ElastiCache move on failover.

An endpoint in outputs.json that must survive a failover (the Multi-AZ writer, the cache's primary and
reader endpoints) is a proxy frontend, not a server's own port. Its backend lists every node that can
take the role; the twin's control marks which of them are ready through HAProxy's runtime API (the
stats socket in the state directory), so the port a client holds never changes. TLS passes through
untouched: clients still verify the server's certificate against the twin's CA.

While the ready server refuses connections (killed, not yet replaced), HAProxy keeps retrying and
redispatches each new connection to whichever server is ready by then: a client that connects during
a promotion waits for it, as one whose DNS lookup still points at a dead host would time out and retry.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdk_data_tier.app.local import ports
from cdk_data_tier.app.local.binaries import haproxy
from cdk_data_tier.app.local.procs import StartError, spawn, wait_until
from cdk_data_tier.app.local.state import State

READY_TIMEOUT = 20
# A refused connect is retried every CONNECT_TIMEOUT_MS, up to RETRIES times: a connection made during a
# promotion is held that long (15 s) before the client sees it fail.
CONNECT_TIMEOUT_MS = 100
RETRIES = 150
START_ATTEMPTS = 3


@dataclass
class Frontend:
    name: str
    servers: dict[str, int]  # server (node) name -> its port
    ready: list[str]  # the servers that take connections now
    balance: str = "first"  # first: one writer; roundrobin: readers
    port: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"port": self.port, "servers": self.servers, "ready": self.ready, "balance": self.balance}


@dataclass
class Proxy:
    state: State
    name: str  # e.g. "database", "cache": one proxy process per concern
    frontends: list[Frontend] = field(default_factory=list)

    @property
    def socket_path(self) -> Path:
        return self.state.path(f"proxy-{self.name}.sock")

    def config(self) -> str:
        lines = ["global", f"  stats socket {self.socket_path} mode 600 level admin", "  maxconn 4096",
                 "defaults", "  mode tcp", f"  timeout connect {CONNECT_TIMEOUT_MS}ms",
                 # Pooled database and cache connections sit idle for long: never cut them for that.
                 "  timeout client 24h", "  timeout server 24h", f"  retries {RETRIES}", "  option redispatch 1"]
        for fe in self.frontends:
            lines += [f"frontend {fe.name}", f"  bind {ports.HOST}:{fe.port}", f"  default_backend {fe.name}",
                      f"backend {fe.name}", f"  balance {fe.balance}"]
            for server, port in fe.servers.items():
                lines.append(f"  server {server} {ports.HOST}:{port}{'' if server in fe.ready else ' disabled'}")
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        binary = haproxy()
        log = self.state.path("logs", f"proxy-{self.name}.log")
        log.parent.mkdir(exist_ok=True)
        conf = self.state.path(f"proxy-{self.name}.cfg")
        for attempt in range(START_ATTEMPTS):
            for fe in self.frontends:
                fe.port = ports.free_port()
            conf.write_text(self.config())
            proc, rec = spawn(f"proxy-{self.name}", "proxy", [binary, "-f", conf, "-db"], log=log)
            rec.port = self.frontends[0].port
            rec.extra = {"role": "endpoints", "frontends": {fe.name: fe.port for fe in self.frontends}}
            self.state.add_proc(rec)
            try:
                wait_until(lambda: "Name: HAProxy" in command(self.socket_path, "show info"), timeout=READY_TIMEOUT,
                           what=f"haproxy {self.name}", proc=proc, log=log)
                break
            except StartError:
                if attempt + 1 < START_ATTEMPTS and proc.poll() is not None and \
                        ports.lost_race(log.read_text(errors="replace")):
                    continue
                raise
        self.save()

    def save(self) -> None:
        proxies = dict(self.state.data.get("proxies", {}))
        proxies[self.name] = {"socket": str(self.socket_path),
                              "frontends": {f.name: f.to_json() for f in self.frontends}}
        self.state.set("proxies", proxies)

    def frontend(self, name: str) -> Frontend:
        return next(f for f in self.frontends if f.name == name)

    @classmethod
    def load(cls, state: State, name: str) -> Proxy:
        saved = state.data.get("proxies", {}).get(name)
        if saved is None:
            raise StartError(f"the twin has no {name} proxy")
        return cls(state, name, [Frontend(fname, dict(f["servers"]), list(f["ready"]), f["balance"], f["port"])
                                 for fname, f in saved["frontends"].items()])

    def route(self, frontend: str, ready: list[str], moved: dict[str, int] | None = None) -> None:
        """Point `frontend` at `ready` (others get no new connections and lose the ones they had)."""
        fe = self.frontend(frontend)
        for server, port in (moved or {}).items():
            command(self.socket_path, f"set server {fe.name}/{server} addr {ports.HOST} port {port}")
            fe.servers[server] = port
        # The new servers first: a frontend without any ready server would refuse connections outright.
        for server in ready:
            command(self.socket_path, f"set server {fe.name}/{server} state ready")
        for server in fe.servers:
            if server not in ready:
                command(self.socket_path, f"set server {fe.name}/{server} state maint")
                command(self.socket_path, f"shutdown sessions server {fe.name}/{server}")
        fe.ready = list(ready)
        self.save()


def command(socket_path: Path | str, line: str, timeout: float = 5) -> str:
    """One command on HAProxy's runtime API; an answer that is not empty is an error unless it is data."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(socket_path))
        sock.sendall(line.encode() + b"\n")
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    answer = b"".join(chunks).decode(errors="replace").strip()
    if line.startswith(("set ", "shutdown ")) and answer and "changed from" not in answer \
            and "no need to change" not in answer:
        raise StartError(f"haproxy refused `{line}`: {answer}")
    return answer


def version() -> str:
    out = subprocess.run([str(haproxy()), "-v"], capture_output=True, text=True, timeout=10).stdout
    return out.split()[2] if len(out.split()) > 2 else "?"
