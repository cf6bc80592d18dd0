"""How a drill makes its event happen: the twin's own control, or AWS's failover APIs.

On the twin (`--outputs .twin/<env>`) the operations of app_code.local.failover run against its state
directory and report the promotion time they measured. On AWS (`--env NAME`) the same drill calls
`reboot_db_instance(ForceFailover=True)` (Aurora: `failover_db_cluster`) or ElastiCache's `test_failover`
on one node group, then waits with the service's waiter; AWS does not say how long promotion took.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cdk_data_tier.app.endpoints import AwsTarget, Endpoints
from cdk_data_tier.app.errors import BadInput

WAIT = {"Delay": 10, "MaxAttempts": 90}  # 15 minutes: RDS and ElastiCache failovers take one to several


@dataclass
class Event:
    injected: str
    promotion_ms: float | None = None
    detail: dict[str, Any] | None = None


class Injector(Protocol):
    @property
    def where(self) -> str: ...

    def fail_over_database(self, *, partition: bool) -> Event: ...
    def fail_over_cache(self, *, shard: int, partition: bool) -> Event: ...
    def pause_replay(self) -> list[str]: ...
    def resume_replay(self) -> list[str]: ...


def twin_dir(outputs: Path | None) -> Path | None:
    """The twin's state directory behind `--outputs`, or None when the outputs are a deployment's."""
    if outputs is None:
        return None
    root = outputs if outputs.is_dir() else outputs.parent
    return root if (root / "state.json").exists() else None


@dataclass
class TwinInjector:
    """The twin's control. Failovers run in a process of their own (app_code.local.failover's CLI), so the
    drill's clients share no interpreter, and no CPU time, with the operation that disrupts them."""

    state_dir: Path

    @property
    def where(self) -> str:
        return f"twin {self.state_dir}"

    def _op(self, *args: str) -> Any:
        import json
        import subprocess
        import sys

        from cdk_data_tier.app.local.failover import FailoverError
        from cdk_data_tier.app.local.procs import IMPORT_ROOT

        done = subprocess.run([sys.executable, "-m", "cdk_data_tier.app.local.failover", args[0], str(self.state_dir),
                               *args[1:]], capture_output=True, text=True, timeout=600, cwd=IMPORT_ROOT)
        if done.returncode == 2:
            raise FailoverError(done.stderr.strip().removeprefix("failover: "))
        if done.returncode != 0:
            raise RuntimeError(f"twin failover operation {args[0]} failed:\n{done.stderr.strip()[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def _event(self, result: dict[str, Any]) -> Event:
        return Event(result["injected"], result["promotion_ms"], result)

    def fail_over_database(self, *, partition: bool) -> Event:
        from cdk_data_tier.app.local.failover import FailoverError
        from cdk_data_tier.app.local.state import State

        state = State.load(self.state_dir)
        nodes = (state.data.get("postgres") or {}).get("nodes", []) if state else []
        if partition and nodes and not any(n["role"] == "standby" for n in nodes):
            raise FailoverError("partition_standby_first: a single-AZ database has no standby to cut off")
        return self._event(self._op("database", *(["--partition-first"] if partition else [])))

    def fail_over_cache(self, *, shard: int, partition: bool) -> Event:
        return self._event(self._op("cache", "--shard", str(shard), *(["--partition-first"] if partition else [])))

    # In this process: a pause is a statement on each replica, and a process start would outlast the lag bound.
    def pause_replay(self) -> list[str]:
        from cdk_data_tier.app.local.failover import pause_replay

        return pause_replay(self.state_dir)

    def resume_replay(self) -> list[str]:
        from cdk_data_tier.app.local.failover import resume_replay

        return resume_replay(self.state_dir)


@dataclass
class AwsInjector:
    endpoints: Endpoints
    aws: AwsTarget
    wait: dict[str, int] = field(default_factory=lambda: dict(WAIT))  # the waiters' polling

    @property
    def where(self) -> str:
        return f"AWS {self.endpoints.env}"

    def fail_over_database(self, *, partition: bool) -> Event:
        if partition:
            raise BadInput("--partition-first is a fault of the local twin; AWS's failover APIs cannot cut a "
                           "standby off")
        rds = self.aws.client("rds")
        kind, ident = database_identifier(self.endpoints, rds)
        if kind == "cluster":
            rds.failover_db_cluster(DBClusterIdentifier=ident)
            rds.get_waiter("db_cluster_available").wait(DBClusterIdentifier=ident, WaiterConfig=self.wait)
            return Event(f"failover_db_cluster({ident})")
        rds.reboot_db_instance(DBInstanceIdentifier=ident, ForceFailover=True)
        rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=ident, WaiterConfig=self.wait)
        return Event(f"reboot_db_instance({ident}, ForceFailover=True)")

    def fail_over_cache(self, *, shard: int, partition: bool) -> Event:
        if partition:
            raise BadInput("--partition-first is a fault of the local twin; ElastiCache's test_failover cannot cut "
                           "replicas off")
        ec = self.aws.client("elasticache")
        group = replication_group(self.endpoints, ec)
        node_group = f"{shard:04d}"
        ec.test_failover(ReplicationGroupId=group, NodeGroupId=node_group)
        ec.get_waiter("replication_group_available").wait(ReplicationGroupId=group, WaiterConfig=self.wait)
        return Event(f"test_failover({group}, {node_group})")

    def pause_replay(self) -> list[str]:
        raise BadInput("replica-lag delays replay with pg_wal_replay_pause(), which RDS does not grant; run it on the "
                       "twin (--outputs .twin/<env>)")

    def resume_replay(self) -> list[str]:
        return []


def database_identifier(endpoints: Endpoints, rds: Any) -> tuple[str, str]:
    """("instance"|"cluster", id) of the writer: from the identifier keys the attachment adds to the app user's
    secret (the one the drill's workload reads; the admin's is not for app_code), else by its endpoint."""
    db = endpoints.database
    secret = endpoints.secret(db.app_login_arn)
    if secret.get("dbClusterIdentifier"):
        return "cluster", str(secret["dbClusterIdentifier"])
    if secret.get("dbInstanceIdentifier"):
        return "instance", str(secret["dbInstanceIdentifier"])
    for page in rds.get_paginator("describe_db_instances").paginate():
        for inst in page["DBInstances"]:
            if inst.get("Endpoint", {}).get("Address") == db.writer.host:
                return "instance", inst["DBInstanceIdentifier"]
    raise BadInput(f"no RDS instance has the writer endpoint {db.writer.host} ({endpoints.source})")


def replication_group(endpoints: Endpoints, ec: Any) -> str:
    """The replication group whose primary or configuration endpoint is the cache's endpoint."""
    host = endpoints.cache.endpoint.host
    for page in ec.get_paginator("describe_replication_groups").paginate():
        for group in page["ReplicationGroups"]:
            addresses = {group.get("ConfigurationEndpoint", {}).get("Address")}
            addresses |= {ng.get("PrimaryEndpoint", {}).get("Address") for ng in group.get("NodeGroups", [])}
            if host in addresses:
                return str(group["ReplicationGroupId"])
    raise BadInput(f"no ElastiCache replication group has the endpoint {host} ({endpoints.source})")
