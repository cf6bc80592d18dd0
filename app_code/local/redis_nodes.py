"""redis-server processes shaped like the template's replication group.

Cluster mode disabled: one primary and the template's replicas (REPLICAOF). Cluster mode enabled:
shards x (1 + replicas) nodes joined into a real Redis Cluster, slots split evenly over the shards.
Valkey templates run on redis-server too (same protocol and commands at the versions used here).

With cluster mode disabled the primary and reader endpoints are proxy frontends (app_code.local.proxy)
over every node, so a failover moves them as ElastiCache moves its DNS names; with cluster mode on,
clients follow the cluster's own slot map. `cluster-node-timeout` is 2 s (ElastiCache: 15 s) so that a
drill's cluster notices a lost node soon.

A *copy* (`copy=NAME`: a replication group restored from a snapshot, app_code.local.redis_restore) has the
same shape, TLS, AUTH and users, its primaries start from the snapshot's RDB files (`seeds`) and own the
snapshot's slot ranges (`slots`); it lives under `copies/NAME/` with processes named `redis-NAME-...`, and
its endpoints are its nodes' own ports (nothing fails a copy over).
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import redis

from cdk_data_tier.app.local import ports
from cdk_data_tier.app.local.binaries import redis_server
from cdk_data_tier.app.local.procs import spawn, start_on_free_port, wait_until
from cdk_data_tier.app.local.proxy import Frontend, Proxy
from cdk_data_tier.app.local.spec import CacheSpec, CacheUser
from cdk_data_tier.app.local.state import State
from cdk_data_tier.app.local.tls import TlsFiles

READY_TIMEOUT = 20
SLOTS = 16384
NODE_TIMEOUT_MS = 2000
PRIMARY_FRONTEND, READER_FRONTEND = "primary", "reader"


@dataclass
class RedisNode:
    name: str
    role: str  # primary | replica
    shard: int
    directory: Path
    port: int = 0

    @property
    def bus_port(self) -> int:
        return self.port + ports.CLUSTER_BUS_OFFSET


ADMIN_USER = "twin-admin"


def client(port: int, *, tls: bool, ca: Path | str | None, password: str | None, username: str | None = None,
           timeout: float = 2) -> redis.Redis:
    return redis.Redis(host=ports.HOST, port=port, username=username, password=password, ssl=tls,
                       ssl_ca_certs=str(ca) if tls and ca else None, socket_timeout=timeout,
                       socket_connect_timeout=timeout, decode_responses=True)


class RedisTwin:
    def __init__(self, state: State, spec: CacheSpec, token: str | None, tls: TlsFiles,
                 user_passwords: dict[str, str] | None = None, admin_password: str | None = None, *,
                 copy: str | None = None, seeds: dict[int, Path] | None = None,
                 slots: dict[int, list[tuple[int, int]]] | None = None) -> None:
        self.state = state
        self.spec = spec
        self.token = token
        self.tls = tls
        self.copy = copy
        self.seeds = seeds or {}
        self.slots = slots or {i: [(i * SLOTS // spec.shards, (i + 1) * SLOTS // spec.shards - 1)]
                               for i in range(spec.shards)}
        self.user_passwords = user_passwords or {}
        # Under RBAC the twin needs a user of its own to replicate, form the cluster and check health,
        # whatever the template's users may do (ElastiCache keeps such users internal too).
        self.admin = (ADMIN_USER, admin_password or "") if spec.users else None
        self.binary = redis_server()
        self.nodes: list[RedisNode] = []
        for shard in range(spec.shards):
            for replica in range(spec.replicas_per_shard + 1):
                role = "primary" if replica == 0 else "replica"
                name = f"{shard + 1:04d}-{replica + 1:03d}"  # ElastiCache names nodes <group>-<shard>-<node>
                self.nodes.append(RedisNode(name, role, shard, self._root().joinpath("redis", name)))
        self.proxy: Proxy | None = None

    def _root(self) -> Path:
        return self.state.path("copies", self.copy) if self.copy else self.state.root

    def proc_name(self, node: RedisNode) -> str:
        return f"redis-{self.copy}-{node.name}" if self.copy else f"redis-{node.name}"

    @classmethod
    def attach(cls, state: State, copy: str | None = None) -> RedisTwin:
        """The twin's cache (or its copy `copy`) as `start` left it, or the last failover did, from state.json."""
        saved = state.data["cache_copies"][copy] if copy else state.data["redis"]
        spec = dict(saved["spec"])
        spec["users"] = tuple(CacheUser(**u) for u in spec.get("users", ()))
        self = cls.__new__(cls)
        self.state, self.spec, self.token = state, CacheSpec(**spec), saved["token"]
        self.copy, self.seeds = copy, {}
        self.slots = {int(k): [(int(r[0]), int(r[1])) for r in v] for k, v in saved.get("slots", {}).items()}
        self.tls = TlsFiles(**{k: Path(v) for k, v in saved["tls"].items()})
        self.user_passwords, self.admin = saved["user_passwords"], tuple(saved["admin"]) if saved["admin"] else None
        self.binary = redis_server()
        self.nodes = [RedisNode(n["name"], n["role"], n["shard"], Path(n["directory"]), n["port"])
                      for n in saved["nodes"]]
        self.proxy = Proxy.load(state, "cache") if "cache" in state.data.get("proxies", {}) else None
        return self

    def save(self) -> None:
        saved = {
            "spec": dataclasses.asdict(self.spec), "token": self.token, "user_passwords": self.user_passwords,
            "admin": list(self.admin) if self.admin else None,
            "tls": {"ca": str(self.tls.ca), "cert": str(self.tls.cert), "key": str(self.tls.key)},
            "slots": {str(k): [list(r) for r in v] for k, v in self.slots.items()},
            "nodes": [{"name": n.name, "role": n.role, "shard": n.shard, "directory": str(n.directory),
                       "port": n.port} for n in self.nodes]}
        if self.copy:
            name = self.copy
            self.state.edit(lambda data: data.setdefault("cache_copies", {}).__setitem__(name, saved))
        else:
            self.state.set("redis", saved)

    @property
    def primary_port(self) -> int:
        return self.proxy.frontend(PRIMARY_FRONTEND).port if self.proxy else self.primaries[0].port

    @property
    def reader_port(self) -> int | None:
        if self.proxy:
            return self.proxy.frontend(READER_FRONTEND).port
        return self.replicas[0].port if self.replicas else None

    @property
    def primaries(self) -> list[RedisNode]:
        return [n for n in self.nodes if n.role == "primary"]

    @property
    def replicas(self) -> list[RedisNode]:
        return [n for n in self.nodes if n.role == "replica"]

    @property
    def credentials(self) -> tuple[str | None, str | None]:
        """(username, password) the twin itself connects with."""
        return self.admin if self.admin else (None, self.token)

    def client(self, node: RedisNode, timeout: float = 2) -> redis.Redis:
        username, password = self.credentials
        return client(node.port, tls=self.spec.tls, ca=self.tls.ca, username=username, password=password,
                      timeout=timeout)

    # -- start ----------------------------------------------------------------------------------
    def start(self) -> None:
        # Primaries first (a replica's config names its primary's port), each group in parallel.
        for group in (self.primaries, self.replicas):
            if group:
                with ThreadPoolExecutor(max_workers=len(group)) as pool:
                    list(pool.map(self._launch, group))
        if self.spec.cluster_mode:
            self._form_cluster()
        else:
            wait_until(self._replication_up, timeout=READY_TIMEOUT, what="redis replicas linked to the primary")
            if self.replicas and not self.copy:
                servers = {n.name: n.port for n in self.nodes}
                self.proxy = Proxy(self.state, "cache", [
                    Frontend(PRIMARY_FRONTEND, servers, ready=[self.primaries[0].name]),
                    Frontend(READER_FRONTEND, dict(servers), ready=[n.name for n in self.replicas],
                             balance="roundrobin")])
                self.proxy.start()
        self.save()

    def _config(self, node: RedisNode) -> str:
        lines = [
            f"bind {ports.HOST}", "protected-mode no", f"dir {node.directory}", 'save ""', "appendonly no",
            "daemonize no", 'logfile ""', "loglevel notice", "databases 16",
            # The default 5 s delay batches replicas joining a big primary; these start empty.
            "repl-diskless-sync-delay 0",
            # A primary otherwise waits up to 10 s on SIGTERM for replicas to catch up; the twin is discarded.
            "shutdown-timeout 0",
        ]
        if self.spec.tls:
            lines += ["port 0", f"tls-port {node.port}", f"tls-cert-file {self.tls.cert}",
                      f"tls-key-file {self.tls.key}", f"tls-ca-cert-file {self.tls.ca}",
                      # ElastiCache in-transit encryption authenticates the server only.
                      "tls-auth-clients no", "tls-replication yes", "tls-cluster yes"]
        else:
            lines.append(f"port {node.port}")
        if self.token:
            lines += [f"requirepass {self.token}", f"masterauth {self.token}"]
        if self.admin:
            names = {u.name for u in self.spec.users}
            lines += [] if "default" in names else ["user default off"]
            for user in self.spec.users:
                secret = f">{self.user_passwords[user.name]}" if user.name in self.user_passwords else "nopass"
                lines.append(f"user {user.name} reset {user.access_string} {secret}")
            lines += [f"user {self.admin[0]} on ~* &* +@all >{self.admin[1]}", f"masteruser {self.admin[0]}",
                      f"masterauth {self.admin[1]}"]
        if self.spec.cluster_mode:
            lines += ["cluster-enabled yes", f"cluster-config-file {node.directory / 'nodes.conf'}",
                      f"cluster-port {node.bus_port}", f"cluster-node-timeout {NODE_TIMEOUT_MS}",
                      f"cluster-announce-ip {ports.HOST}"]
        elif node.role == "replica":
            primary = next(p for p in self.primaries if p.shard == node.shard)
            lines.append(f"replicaof {ports.HOST} {primary.port}")
        return "\n".join(lines) + "\n"

    def _launch(self, node: RedisNode, *, same_port: bool = False) -> None:
        """Start `node` (on its previous port when `same_port`: a failed node replaced) and record it."""
        node.directory.mkdir(parents=True, exist_ok=same_port)
        if node.role == "primary" and node.shard in self.seeds and not same_port:
            shutil.copyfile(self.seeds[node.shard], node.directory / "dump.rdb")  # loaded at start
        log = self.state.path("logs", f"{self.proc_name(node)}.log")
        log.parent.mkdir(exist_ok=True)
        previous = node.port

        def pick() -> Iterator[int]:
            if same_port:
                yield previous
            while True:
                yield ports.free_port(with_bus=self.spec.cluster_mode)

        picks = pick()

        def start(port: int) -> tuple[Any, Any]:
            node.port = port
            conf = node.directory / "redis.conf"
            conf.write_text(self._config(node))
            conf.chmod(0o600)  # it holds the AUTH token
            proc, rec = spawn(self.proc_name(node), "redis", [self.binary, conf], log=log, port=node.port)
            rec.extra = {"role": node.role, "shard": node.shard}
            return proc, rec

        start_on_free_port(pick_port=lambda: next(picks), start=start,
                           record=self.state.replace_proc if same_port else self.state.add_proc,
                           ready=lambda: self.client(node).ping(), log=log, what=f"redis {node.name}",
                           timeout=READY_TIMEOUT)

    def _replication_up(self) -> bool:
        for node in self.replicas:
            if self.client(node).info("replication").get("master_link_status") != "up":
                return False
        return True

    # -- cluster --------------------------------------------------------------------------------
    def _form_cluster(self) -> None:
        clients = {n.name: self.client(n) for n in self.nodes}
        for epoch, node in enumerate(self.nodes, start=1):
            # Distinct config epochs up front, so no epoch collision has to be resolved later.
            clients[node.name].execute_command("CLUSTER", "SET-CONFIG-EPOCH", epoch)
        for node in self.primaries:
            # A primary that loaded an RDB has already claimed the slots its keys are in.
            owned = _own_slots(clients[node.name])
            for lo, hi in _missing(self.slots[node.shard], owned):
                clients[node.name].execute_command("CLUSTER", "ADDSLOTSRANGE", lo, hi)
        # Every node meets every later one: a full mesh converges at once instead of over gossip rounds.
        for i, node in enumerate(self.nodes):
            for other in self.nodes[i + 1:]:
                clients[node.name].execute_command("CLUSTER", "MEET", ports.HOST, other.port, other.bus_port)
        wait_until(lambda: all(self._knows_everyone(c) for c in clients.values()), timeout=READY_TIMEOUT,
                   what="redis cluster nodes meeting")
        ids = {n.name: clients[n.name].execute_command("CLUSTER", "MYID") for n in self.nodes}
        for node in self.replicas:
            primary = next(p for p in self.primaries if p.shard == node.shard)
            # A replica learns about its primary via gossip; REPLICATE fails until it has.
            wait_until(partial(_replicate, clients[node.name], ids[primary.name]), timeout=READY_TIMEOUT,
                       what=f"redis cluster replica {node.name}")
        wait_until(lambda: self._cluster_ready(clients), timeout=READY_TIMEOUT, what="redis cluster state ok")

    def _knows_everyone(self, conn: redis.Redis) -> bool:
        lines = _raw_nodes(conn)
        return len(lines) == len(self.nodes) and not any("handshake" in line or "noaddr" in line for line in lines)

    def _cluster_ready(self, clients: dict[str, redis.Redis]) -> bool:
        for conn in clients.values():
            info = conn.execute_command("CLUSTER", "INFO")
            text = info if isinstance(info, str) else str(info)
            if "cluster_state:ok" not in text:
                return False
        for node in self.replicas:
            if clients[node.name].info("replication").get("master_link_status") != "up":
                return False
        # Every replica must be visible in the slot map, or replica reads miss it.
        slots = clients[self.nodes[0].name].execute_command("CLUSTER", "SHARDS")
        return sum(len(_field(shard, "nodes")) for shard in slots) == len(self.nodes)

    # -- description ----------------------------------------------------------------------------
    def version(self) -> str:
        return str(self.client(self.nodes[0]).info("server").get("redis_version", "?"))


def _own_slots(conn: redis.Redis) -> set[int]:
    """The slots this node serves, from CLUSTER SHARDS (flat [lo, hi, lo, hi, ...] per shard)."""
    port = conn.connection_pool.connection_kwargs["port"]
    owned: set[int] = set()
    for shard in conn.execute_command("CLUSTER", "SHARDS"):
        if any(int(_field(n, "port") or _field(n, "tls-port") or 0) == port for n in _field(shard, "nodes")):
            bounds = [int(b) for b in _field(shard, "slots")]
            for lo, hi in zip(bounds[::2], bounds[1::2], strict=True):
                owned.update(range(lo, hi + 1))
    return owned


def shard_slots(conn: redis.Redis) -> list[tuple[int, int]]:
    """The slot ranges of the shard `conn`'s node belongs to, as ranges."""
    return _ranges(_own_slots(conn))


def _ranges(slots: set[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for slot in sorted(slots):
        if out and out[-1][1] == slot - 1:
            out[-1] = (out[-1][0], slot)
        else:
            out.append((slot, slot))
    return out


def _missing(wanted: list[tuple[int, int]], owned: set[int]) -> list[tuple[int, int]]:
    return _ranges({s for lo, hi in wanted for s in range(lo, hi + 1)} - owned)


def _replicate(conn: redis.Redis, primary_id: str) -> bool:
    conn.execute_command("CLUSTER", "REPLICATE", primary_id)
    return True


def _raw_nodes(conn: redis.Redis) -> list[str]:
    reply: Any = conn.execute_command("CLUSTER", "NODES")
    if isinstance(reply, dict):
        return [f"{addr} {' '.join(str(v) for v in info.values())}" for addr, info in reply.items()]
    return [line for line in str(reply).splitlines() if line.strip()]


def _field(entry: Any, name: str) -> Any:
    if isinstance(entry, dict):
        return entry.get(name, [])
    items = list(entry)
    return items[items.index(name) + 1] if name in items else []


def describe(conn: redis.Redis, cluster: bool) -> dict[str, Any]:
    """Health and replication state of one node, for `local status`."""
    conn.ping()
    repl = conn.info("replication")
    out: dict[str, Any] = {"role": "primary" if repl.get("role") == "master" else "replica"}
    if out["role"] == "replica":
        out["replication"] = f"link {repl.get('master_link_status')}"
    else:
        out["replication"] = f"{repl.get('connected_slaves', 0)} replica(s)"
    if cluster:
        info = str(conn.execute_command("CLUSTER", "INFO"))
        state = next((line.split(":", 1)[1] for line in info.splitlines() if line.startswith("cluster_state")), "?")
        out["replication"] += f", cluster {state.strip()}"
    return out
