"""`local up`, `down` and `status`: the twin as a whole.

`up` reads the templates, checks that every binary they need is installed, then starts the
database, the cache and moto side by side, creates the table and secrets, and writes outputs.json
and twin.json. If anything fails on the way, everything already started is stopped and the state
directory removed before the error is raised.
"""

from __future__ import annotations

import fcntl
import json
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdk_data_tier.app.aws_session import TWIN_CREDENTIALS
from cdk_data_tier.app.endpoints import AwsTarget
from cdk_data_tier.app.local import app_user, binaries, db_backups, engines, ports, templates
from cdk_data_tier.app.local.moto_server import MotoTwin, http_ok
from cdk_data_tier.app.local.outputs import Physical, Resolver
from cdk_data_tier.app.local.postgres import PostgresTwin
from cdk_data_tier.app.local.procs import is_running, stop
from cdk_data_tier.app.local.redis_nodes import RedisTwin
from cdk_data_tier.app.local.spec import DatabaseSpec, SecretSpec, TwinSpec
from cdk_data_tier.app.local.state import OUTPUTS_FILE, STATE_FILE, TWIN_FILE, State, default_state_dir, write_json
from cdk_data_tier.app.local.tls import make_tls

Echo = Callable[[str], None]
LOCK_FILE = "lock"


class TwinError(RuntimeError):
    """The twin cannot be brought up or down as asked."""


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class Twin:
    """A running twin as its clients see it: the outputs file plus twin.json."""

    env: str
    state_dir: Path
    outputs_file: Path
    twin_file: Path
    outputs: dict[str, dict[str, str]]
    aws_endpoint_url: str
    region: str
    account: str
    ca_bundle: str
    components: list[dict[str, Any]] = field(default_factory=list)
    # component -> {"template": "postgres 17.9", "local": "postgresql 15.20", "matches": False}
    engines: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path) -> Twin:
        info = json.loads((state_dir / TWIN_FILE).read_text())
        return cls(env=info["env"], state_dir=state_dir, outputs_file=state_dir / OUTPUTS_FILE,
                   twin_file=state_dir / TWIN_FILE, outputs=json.loads((state_dir / OUTPUTS_FILE).read_text()),
                   aws_endpoint_url=info["aws_endpoint_url"], region=info["region"], account=info.get("account", ""),
                   ca_bundle=info["ca_bundle"], components=info.get("components", []),
                   engines=info.get("engines", {}))

    def stack(self, concern: str) -> dict[str, str]:
        """Outputs of `<env>-<concern>` (Database, Dynamo, Cache, Network)."""
        return self.outputs[f"{self.env}-{concern}"]

    def client(self, service: str) -> Any:
        """A boto3 client of the twin's moto, isolated from the user's AWS configuration."""
        return AwsTarget(region=self.region, endpoint_url=self.aws_endpoint_url,
                         static_credentials=TWIN_CREDENTIALS).client(service)


# -- up ------------------------------------------------------------------------------------------
def up(env: str = "dev", *, state_dir: Path | None = None, cdk_out: Path | None = None,
       echo: Echo = _quiet) -> Twin:
    root = Path(state_dir) if state_dir else default_state_dir(env)
    _clear_stale(root, echo)
    outdir = templates.locate(env, Path(cdk_out) if cdk_out else None, echo=echo)
    spec = templates.load(env, outdir)
    check_binaries(spec)
    root.parent.mkdir(parents=True, exist_ok=True)
    try:
        state = State.create(root.resolve(), env)
    except FileExistsError:
        raise TwinError(f"another `local up` just created {root}") from None
    # Held until up returns, so a concurrent up or status tells "starting" from "crashed while starting".
    with open(state.path(LOCK_FILE), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            return _build(state, spec, echo)
        except BaseException:
            echo("up failed: stopping what was started")
            _teardown(state)
            raise


def _starting(root: Path) -> bool:
    """True while a `local up` holds the state dir's lock."""
    try:
        with open(root / LOCK_FILE) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        return False
    except BlockingIOError:
        return True
    return False


def check_binaries(spec: TwinSpec) -> None:
    """Fail before anything starts when a binary the templates need is missing."""
    if spec.database is not None:
        if spec.database.family == "postgres":
            binaries.postgres_bindir()
        else:
            binaries.mariadb_bindir()
    if spec.cache is not None:
        binaries.redis_server()
    if needs_proxy(spec):
        binaries.haproxy()


def needs_proxy(spec: TwinSpec) -> bool:
    """A Multi-AZ PostgreSQL writer and a replicated cache (cluster mode off) have endpoints that move on failover."""
    db, cache = spec.database, spec.cache
    return bool((db is not None and db.multi_az and db.family == "postgres")
                or (cache is not None and not cache.cluster_mode and cache.replicas_per_shard > 0))


def _clear_stale(root: Path, echo: Echo) -> None:
    if not root.exists():
        return
    state = State.load(root)
    if state is None:
        if any(root.iterdir()):
            raise TwinError(f"{root} exists and is not a twin state directory (no {STATE_FILE}); pick another "
                            "--state-dir")
        root.rmdir()
        return
    if _starting(root):
        raise TwinError(f"another `local up` is starting the {state.env} twin in {root}")
    if state.data.get("status") == "up" and any(is_running(p) for p in state.procs):
        raise TwinError(f"the {state.env} twin is already up in {root}: `local down` first")
    # A twin that crashed, or an up that was killed half way: whatever of it still runs goes.
    echo(f"removing a twin that is no longer whole ({root})")
    _teardown(state)


def _build(state: State, spec: TwinSpec, echo: Echo) -> Twin:
    tls = make_tls(state.path("tls"), spec.env)
    db_password = secrets.token_urlsafe(24)
    # An AUTH token and RBAC users exclude each other on ElastiCache.
    cache_token = secrets.token_urlsafe(32) if spec.cache and spec.cache.auth and not spec.cache.users else None
    user_passwords = {u.name: secrets.token_urlsafe(32) for u in spec.cache.users if u.secret_id} if spec.cache else {}
    db = _database(state, spec.database, db_password, tls) if spec.database else None
    cache = RedisTwin(state, spec.cache, cache_token, tls, user_passwords, secrets.token_urlsafe(32)) \
        if spec.cache else None
    cache_user, cache_password = cache.credentials if cache else (None, None)
    state.set("secrets", {"database": {"username": spec.database.username if spec.database else None,
                                       "password": db_password},
                          "cache": {"username": cache_user, "token": cache_password}})
    moto = MotoTwin(state, spec.account, spec.region)
    physical: dict[tuple[str, str], Physical] = {}

    def aws() -> None:
        moto.start()
        echo(f"moto on {moto.endpoint_url}")
        for table in spec.tables:
            name = table.table_name or f"{table.stack}-{table.logical_id}"
            attrs = moto.create_table(table, name)
            physical[(table.stack, table.logical_id)] = Physical(name, attrs)
            echo(f"table {name}: {len(table.gsis)} GSI, {len(table.lsis)} LSI, {table.billing_mode}")
        for key, attrs in moto.create_network(spec.network).items():
            physical[key] = Physical(attrs.pop("Ref"), attrs)

    def database() -> None:
        assert db is not None
        db.start()
        echo(f"{spec.database.engine if spec.database else ''}: primary :{db.primary.port}, "
             f"{len(db.replicas)} replica(s) {' '.join(str(r.port) for r in db.replicas)}")

    def redis_group() -> None:
        assert cache is not None
        cache.start()
        echo(f"redis: {len(cache.nodes)} node(s), cluster mode {'on' if cache.spec.cluster_mode else 'off'}")

    jobs = {"moto": aws, **({"database": database} if db else {}), **({"cache": redis_group} if cache else {})}
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {name: pool.submit(job) for name, job in jobs.items()}
    errors = {name: f.exception() for name, f in futures.items() if f.exception() is not None}
    if errors:
        first = next(iter(errors.values()))
        if len(errors) > 1:
            others = "; ".join(f"{n}: {str(e).splitlines()[0]}" for n, e in list(errors.items())[1:])
            raise TwinError(f"{first}\n(also failed: {others})") from first
        raise first  # type: ignore[misc]

    if db is not None and spec.database is not None:
        physical.update(_database_physical(spec, db))
    if cache is not None and spec.cache is not None:
        physical.update(_cache_physical(spec, cache))
    resolver = Resolver(spec.templates, physical, spec.account, spec.region)
    # The app user's secret names the admin's (`masterarn`), so it comes after it.
    for secret in sorted(spec.secrets, key=lambda s: s.role == "app"):
        value = app_user.secret_value(secret, spec, resolver, _rds_secret(spec, db, "", {})) \
            if secret.role == "app" and db is not None else \
            _secret_value(secret, spec, db, db_password, cache_token, user_passwords)
        arn = moto.create_secret(secret.name or f"{secret.stack}/{secret.logical_id}", value,
                                 f"local twin of {secret.stack}/{secret.logical_id}")
        physical[(secret.stack, secret.logical_id)] = Physical(arn, {"Id": arn})
        _attachments(spec, secret, arn, physical)
    if db is not None and spec.database is not None and spec.database.managed_secret:
        arn = moto.create_secret(f"rds!{spec.database.stack}-{spec.database.writer_id}".lower(),
                                 _rds_secret(spec, db, db_password, {}), "RDS-managed master secret (twin)")
        for lid in (spec.database.cluster_id or spec.database.writer_id,):
            physical[(spec.database.stack, lid)].attrs["MasterUserSecret.SecretArn"] = arn

    outputs, unfilled = Resolver(spec.templates, physical, spec.account, spec.region).outputs()
    components = _components(spec, db, cache, moto)
    write_json(state.path(OUTPUTS_FILE), outputs)
    info: dict[str, Any] = {"env": spec.env, "region": spec.region, "aws_endpoint_url": moto.endpoint_url,
                            "ca_bundle": str(tls.ca), "components": components, "account": spec.account,
                            "templates": spec.source, "engines": engines.describe(spec)}
    if spec.database is not None:
        d = spec.database
        info["database"] = {"engine": d.engine, "identifier": physical[(d.stack, d.writer_id)].ref,
                            **({"cluster_identifier": physical[(d.stack, d.cluster_id)].ref} if d.cluster_id else {}),
                            **db_backups.window(state).to_json()}
    if spec.cache is not None:  # the name its snapshots and restored copies refer to
        info["cache"] = {"replication_group_id": physical[(spec.cache.stack, spec.cache.logical_id)].ref}
    if unfilled:
        info["unfilled_outputs"] = unfilled
        for stack, keys in unfilled.items():
            for key, why in keys.items():
                echo(f"warning: output {stack}.{key} not filled: {why}")
    write_json(state.path(TWIN_FILE), info)
    if app_user.has_app_user(spec):
        app_user.bootstrap(state, echo)
    state.set("status", "up")
    return Twin.load(state.root)


def _database(state: State, spec: DatabaseSpec, password: str, tls: Any) -> Any:
    if spec.family == "postgres":
        return PostgresTwin(state, spec, password, tls)
    from cdk_data_tier.app.local.mariadb import MariaDbTwin  # noqa: PLC0415 - only MySQL templates need it

    return MariaDbTwin(state, spec, password, tls)


def _addr(port: int) -> str:
    return f"{ports.HOST}:{port}"


def _identifier(spec: TwinSpec, stack: str, lid: str, key: str) -> str:
    value = spec.templates[stack]["Resources"][lid].get("Properties", {}).get(key)
    return value if isinstance(value, str) else f"{stack}-{lid}".lower()[:63]


def _database_physical(spec: TwinSpec, db: Any) -> dict[tuple[str, str], Physical]:
    d = spec.database
    assert d is not None
    out: dict[tuple[str, str], Physical] = {}
    for node in db.nodes():
        if node.role == "standby":
            continue  # RDS's standby has no endpoint of its own
        # The writer's endpoint is the proxy when there is one: the name a failover moves.
        port = _writer_port(db) if node is db.primary else node.port
        ident = _identifier(spec, d.stack, node.name, "DBInstanceIdentifier")
        out[(d.stack, node.name)] = Physical(ident, {
            "Endpoint.Address": _addr(port), "Endpoint.Port": str(port),
            "DBInstanceArn": f"arn:aws:rds:{spec.region}:{spec.account}:db:{ident}", "DbiResourceId": f"db-{ident}"})
    if d.cluster_id:
        ident = _identifier(spec, d.stack, d.cluster_id, "DBClusterIdentifier")
        reader = db.replicas[0] if db.replicas else db.primary
        out[(d.stack, d.cluster_id)] = Physical(ident, {
            "Endpoint.Address": _addr(db.primary.port), "Endpoint.Port": str(db.primary.port),
            "ReadEndpoint.Address": _addr(reader.port),
            "DBClusterArn": f"arn:aws:rds:{spec.region}:{spec.account}:cluster:{ident}",
            "DBClusterResourceId": f"cluster-{ident}"})
    return out


def _cache_physical(spec: TwinSpec, cache: RedisTwin) -> dict[tuple[str, str], Physical]:
    c = spec.cache
    assert c is not None
    ident = _identifier(spec, c.stack, c.logical_id, "ReplicationGroupId")
    first = cache.primaries[0]
    # Only the attributes ElastiCache itself has in each mode: a stack that asks for the wrong one
    # fails in the twin as it would on AWS.
    if c.cluster_mode:
        attrs = {"ConfigurationEndPoint.Address": _addr(first.port), "ConfigurationEndPoint.Port": str(first.port)}
    else:
        # Proxy frontends (when there are replicas): the names ElastiCache moves on failover.
        primary, reader = cache.primary_port, cache.reader_port or first.port
        attrs = {"PrimaryEndPoint.Address": _addr(primary), "PrimaryEndPoint.Port": str(primary),
                 "ReaderEndPoint.Address": _addr(reader), "ReaderEndPoint.Port": str(reader),
                 "ReadEndPoint.Addresses": ",".join(_addr(n.port) for n in cache.replicas),
                 "ReadEndPoint.Ports": ",".join(str(n.port) for n in cache.replicas)}
    return {(c.stack, c.logical_id): Physical(ident, attrs)}


def _rds_secret(spec: TwinSpec, db: Any, password: str, template: dict[str, Any]) -> dict[str, Any]:
    d = spec.database
    assert d is not None
    if d.cluster_id:
        ident = {"dbClusterIdentifier": _identifier(spec, d.stack, d.cluster_id, "DBClusterIdentifier")}
    else:
        ident = {"dbInstanceIdentifier": _identifier(spec, d.stack, d.writer_id, "DBInstanceIdentifier")}
    return {**template, "username": d.username, "password": password, "engine": d.engine, "host": ports.HOST,
            "port": _writer_port(db), "dbname": d.dbname, **ident}


def _writer_port(db: Any) -> int:
    return int(getattr(db, "writer_port", db.primary.port))


def _secret_value(secret: SecretSpec, spec: TwinSpec, db: Any, db_password: str, cache_token: str | None,
                  user_passwords: dict[str, str]) -> dict[str, Any] | str:
    template = dict(secret.string_template or {})
    if secret.role == "database" and spec.database is not None:
        return _rds_secret(spec, db, db_password, template)
    if secret.role == "cache" and spec.cache is not None:
        user = next((u for u in spec.cache.users if u.secret_id == secret.logical_id), None)
        if user is not None:
            return {**template, "username": user.name, secret.generate_key or "password": user_passwords[user.name]}
        return {**template, secret.generate_key or "password": cache_token}
    if secret.secret_string is not None:
        return secret.secret_string
    if secret.generate_key:
        return {**template, secret.generate_key: secrets.token_urlsafe(24)}
    return template or secrets.token_urlsafe(24)


def _attachments(spec: TwinSpec, secret: SecretSpec, arn: str, physical: dict[tuple[str, str], Physical]) -> None:
    # A SecretTargetAttachment's Ref is the ARN of the secret it completes.
    for lid, res in spec.templates[secret.stack].get("Resources", {}).items():
        if res.get("Type") == "AWS::SecretsManager::SecretTargetAttachment" and \
                secret.logical_id in templates.refs(res.get("Properties", {}).get("SecretId")):
            physical[(secret.stack, lid)] = Physical(arn, {})


def _components(spec: TwinSpec, db: Any, cache: RedisTwin | None, moto: MotoTwin) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"name": "moto", "kind": "moto", "role": "aws-apis", "endpoint": moto.endpoint_url,
                                  "port": moto.port}]
    if db is not None and spec.database is not None:
        for node in db.nodes():
            out.append({"name": f"{spec.database.family}-{node.name}", "kind": spec.database.family,
                        "role": node.role, "stack": spec.database.stack, "logical_id": node.name,
                        "endpoint": _addr(node.port), "port": node.port, "tls_required": spec.database.force_tls})
    if cache is not None and spec.cache is not None:
        for rnode in cache.nodes:
            out.append({"name": f"redis-{rnode.name}", "kind": "redis", "role": rnode.role, "shard": rnode.shard + 1,
                        "stack": spec.cache.stack, "logical_id": spec.cache.logical_id,
                        "endpoint": _addr(rnode.port), "port": rnode.port, "tls": spec.cache.tls,
                        "auth": spec.cache.auth, "cluster_mode": spec.cache.cluster_mode})
    return out


# -- down ----------------------------------------------------------------------------------------
def _teardown(state: State) -> list[str]:
    stopped = stop(state.procs)
    state.remove()
    return stopped


def down(env: str = "dev", *, state_dir: Path | None = None) -> list[str]:
    """Stop every process of the twin and remove its state; the names of the processes it stopped."""
    root = Path(state_dir) if state_dir else default_state_dir(env)
    if not root.exists():
        return []
    state = State.load(root)
    if state is None:
        if any(root.iterdir()):
            raise TwinError(f"{root} is not a twin state directory (no {STATE_FILE}): left alone")
        root.rmdir()
        return []
    stopped = _teardown(state)
    if state_dir is None and root.parent.exists() and not any(root.parent.iterdir()):
        root.parent.rmdir()  # .twin/ itself, when this was its last twin
    return stopped


# -- status --------------------------------------------------------------------------------------
def engine_versions(env: str = "dev", *, state_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """twin.json's `engines`: the template's engine and version next to the local one, per component."""
    root = Path(state_dir) if state_dir else default_state_dir(env)
    try:
        return dict(json.loads((root / TWIN_FILE).read_text()).get("engines", {}))
    except (OSError, ValueError):
        return {}


def restorable(env: str = "dev", *, state_dir: Path | None = None) -> dict[str, Any]:
    """The database's restorable window now (recorded in twin.json), its snapshots and restored copies."""
    root = Path(state_dir) if state_dir else default_state_dir(env)
    state = State.load(root)
    if state is None or "db_backups" not in state.data:
        return {}
    try:
        found: dict[str, Any] = db_backups.window(state).to_json()
    except Exception as err:  # noqa: BLE001 - status reports, it does not fail
        found = {"error": str(err).splitlines()[0]}
    return {**found, "snapshots": db_backups.snapshot_ids(state), "copies": sorted(state.data.get("db_copies", {}))}


def status(env: str = "dev", *, state_dir: Path | None = None) -> list[dict[str, Any]]:
    """One row per process: name, role, port, running, health and replication."""
    root = Path(state_dir) if state_dir else default_state_dir(env)
    state = State.load(root)
    if state is None:
        return []
    info = json.loads(state.path(TWIN_FILE).read_text()) if state.path(TWIN_FILE).exists() else {}
    by_port = {c.get("port"): c for c in info.get("components", [])}
    creds = state.data.get("secrets", {})
    rows = []
    for rec in state.procs:
        comp = by_port.get(rec.port, {})
        row: dict[str, Any] = {"name": rec.name, "kind": rec.kind, "role": comp.get("role", rec.extra.get("role", "")),
                               "port": rec.port, "pid": rec.pid, "running": is_running(rec), "health": "down",
                               "replication": ""}
        if row["running"] and rec.kind == "proxy":
            row.update(_probe_proxy(state, rec.name.removeprefix("proxy-")))
        elif row["running"]:
            try:
                row.update(_probe(rec.kind, rec.port, comp, creds, info))
            except Exception as err:  # noqa: BLE001 - status reports, it does not fail
                row["health"] = f"unhealthy: {str(err).splitlines()[0][:80]}"
        rows.append(row)
    return rows


def _probe_proxy(state: State, name: str) -> dict[str, Any]:
    from cdk_data_tier.app.local.proxy import Proxy, command  # noqa: PLC0415

    proxy = Proxy.load(state, name)
    try:
        command(proxy.socket_path, "show info")
    except OSError as err:
        return {"health": f"unhealthy: {err}"}
    return {"health": "ok", "replication": ", ".join(f"{fe.name} :{fe.port} -> {'+'.join(fe.ready) or 'none'}"
                                                     for fe in proxy.frontends)}


def _probe(kind: str, port: int | None, comp: dict[str, Any], creds: dict[str, Any],
           info: dict[str, Any]) -> dict[str, Any]:
    assert port is not None
    if kind == "moto":
        return {"health": "ok" if http_ok(f"http://{ports.HOST}:{port}/moto-api/") else "unhealthy"}
    if kind == "postgres":
        from cdk_data_tier.app.local.postgres import describe  # noqa: PLC0415

        db = creds.get("database", {})
        conninfo = (f"host={ports.HOST} port={port} user={db.get('username')} password={db.get('password')} "
                    f"dbname=postgres sslmode=verify-full sslrootcert={info.get('ca_bundle')} connect_timeout=3")
        return {"health": "ok", **_strip_role(describe(conninfo))}
    if kind == "mysql":
        from cdk_data_tier.app.local.mariadb import describe as describe_mysql  # noqa: PLC0415

        db = creds.get("database", {})
        return {"health": "ok", **_strip_role(describe_mysql(port, db, info.get("ca_bundle")))}
    if kind == "redis":
        from cdk_data_tier.app.local import redis_nodes  # noqa: PLC0415

        conn = redis_nodes.client(port, tls=bool(comp.get("tls")), ca=info.get("ca_bundle"),
                                  username=creds.get("cache", {}).get("username"),
                                  password=creds.get("cache", {}).get("token"))
        return {"health": "ok", **_strip_role(redis_nodes.describe(conn, bool(comp.get("cluster_mode"))))}
    return {"health": "?"}


def _strip_role(described: dict[str, Any]) -> dict[str, Any]:
    out = dict(described)
    lag = out.pop("lag_s", None)
    if lag is not None:
        out["replication"] = f"{out.get('replication', '')}, lag {lag}s"
    out.pop("role", None)
    return out
