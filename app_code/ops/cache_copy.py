"""ElastiCache's side of cache backups and restores: a snapshot of the replication group, and a new replication
group created from a snapshot with the source group's settings.

`create_replication_group(SnapshotName=...)` takes nothing from the snapshot but the data: node type, engine and
version, subnet group, security groups, parameter group, encryption in transit and at rest (with its KMS key),
shards and replicas, and the user groups or the AUTH token all have to be given again. They are read from the
source group (describe_replication_groups) and one of its member clusters (describe_cache_clusters, which alone
reports the security groups and parameter group; the snapshot also names the subnet group, parameter group and
engine version). The AUTH token is read from the cache's auth secret, as the stack stored it.
"""

from __future__ import annotations

import time
from typing import Any

from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.errors import BadInput
from cdk_data_tier.app.ops.copies import check_cache_id, tags

WAIT = {"Delay": 15, "MaxAttempts": 240}  # an hour: a new replication group takes ten minutes or more


def source_group(endpoints: Endpoints, ec: Any) -> str:
    from cdk_data_tier.app.drills.inject import replication_group

    return replication_group(endpoints, ec)


def group_exists(endpoints: Endpoints, name: str) -> bool:
    ec = endpoints.aws.client("elasticache")
    try:
        ec.describe_replication_groups(ReplicationGroupId=name)
    except ec.exceptions.ReplicationGroupNotFoundFault:
        return False
    return True


def snapshot(endpoints: Endpoints, *, label: str) -> dict[str, Any]:
    """create_snapshot `<group>-<label>` of the environment's replication group, tagged; its description."""
    ec = endpoints.aws.client("elasticache")
    group = source_group(endpoints, ec)
    name = check_cache_id("snapshot", f"{group}-{label}", 255)
    made = ec.create_snapshot(ReplicationGroupId=group, SnapshotName=name, Tags=tags(endpoints.env, **{
        "backup-label": label}))
    return dict(made["Snapshot"])


def _snapshot(ec: Any, name: str) -> dict[str, Any]:
    try:
        snap = ec.describe_snapshots(SnapshotName=name)["Snapshots"][0]
    except ec.exceptions.SnapshotNotFoundFault:
        raise BadInput(f"--snapshot {name}: no such ElastiCache snapshot") from None
    if snap.get("SnapshotStatus") != "available":
        raise BadInput(f"--snapshot {name}: the snapshot is {snap.get('SnapshotStatus')}, not available")
    return dict(snap)


def settings(endpoints: Endpoints, ec: Any, group_id: str, snap: dict[str, Any]) -> dict[str, Any]:
    """create_replication_group's arguments that make the copy a sibling of `group_id`."""
    group = ec.describe_replication_groups(ReplicationGroupId=group_id)["ReplicationGroups"][0]
    member = ec.describe_cache_clusters(CacheClusterId=group["MemberClusters"][0])["CacheClusters"][0]
    node_groups = group.get("NodeGroups", [])
    replicas = max(len(ng.get("NodeGroupMembers", [])) for ng in node_groups) - 1 if node_groups else 0
    cluster = bool(group.get("ClusterEnabled"))
    groups = [sg["SecurityGroupId"] for sg in member.get("SecurityGroups", [])]
    if not groups:
        # Without them the copy would land in the VPC's default security group, which the app host cannot reach.
        raise RuntimeError(f"cache cluster {member['CacheClusterId']} reports no security groups")
    parameter_group = member.get("CacheParameterGroup", {}).get("CacheParameterGroupName") \
        or snap.get("CacheParameterGroupName")
    args: dict[str, Any] = {
        "CacheNodeType": group.get("CacheNodeType") or member["CacheNodeType"],
        "Engine": group.get("Engine") or member["Engine"],
        "EngineVersion": member.get("EngineVersion") or snap["EngineVersion"],
        "CacheSubnetGroupName": member.get("CacheSubnetGroupName") or snap["CacheSubnetGroupName"],
        "SecurityGroupIds": groups, "CacheParameterGroupName": parameter_group,
        "TransitEncryptionEnabled": bool(group.get("TransitEncryptionEnabled")),
        "AtRestEncryptionEnabled": bool(group.get("AtRestEncryptionEnabled")),
        "AutomaticFailoverEnabled": group.get("AutomaticFailover") in ("enabled", "enabling"),
        "MultiAZEnabled": group.get("MultiAZ") == "enabled",
        "Port": int((group.get("ConfigurationEndpoint") or node_groups[0].get("PrimaryEndpoint") or {}).get(
            "Port") or endpoints.cache.port),
    }
    if group.get("KmsKeyId"):
        args["KmsKeyId"] = group["KmsKeyId"]
    if group.get("ClusterMode"):  # enabled | disabled | compatible (the parameter group says so too)
        args["ClusterMode"] = group["ClusterMode"]
    if group.get("TransitEncryptionMode"):
        args["TransitEncryptionMode"] = group["TransitEncryptionMode"]
    if cluster:
        args.update(NumNodeGroups=int(snap.get("NumNodeGroups") or len(node_groups)), ReplicasPerNodeGroup=replicas)
    else:
        args["NumCacheClusters"] = replicas + 1
    if group.get("UserGroupIds"):
        args["UserGroupIds"] = list(group["UserGroupIds"])
    elif group.get("AuthTokenEnabled"):
        arn = endpoints.cache.auth_secret_arn
        if not arn:
            raise BadInput(f"replication group {group_id} has an AUTH token, and {endpoints.source} names no "
                           "AuthSecretArn to read it from")
        args["AuthToken"] = str(endpoints.secret(arn)["password"])
    return args


def restore(endpoints: Endpoints, snapshot_name: str, target: str, *,
            wait: dict[str, int] | None = None) -> tuple[dict[str, Any], dict[str, str], float]:
    """A new replication group `target` from the snapshot; (its description, its endpoint outputs, seconds)."""
    ec = endpoints.aws.client("elasticache")
    target = check_cache_id("--target", target)
    if group_exists(endpoints, target):
        raise BadInput(f"--target {target}: a replication group of that name already exists")
    snap = _snapshot(ec, snapshot_name)
    group_id = source_group(endpoints, ec)
    args = settings(endpoints, ec, group_id, snap)
    started = time.monotonic()
    ec.create_replication_group(ReplicationGroupId=target, SnapshotName=snapshot_name,
                                ReplicationGroupDescription=f"restore of {group_id} from snapshot {snapshot_name}",
                                Tags=tags(endpoints.env, **{"copy-of": group_id}), **args)
    ec.get_waiter("replication_group_available").wait(ReplicationGroupId=target, WaiterConfig=wait or WAIT)
    made = ec.describe_replication_groups(ReplicationGroupId=target)["ReplicationGroups"][0]
    return made, _outputs(made, args["Port"]), time.monotonic() - started


def _outputs(group: dict[str, Any], port: int) -> dict[str, str]:
    if group.get("ClusterEnabled"):
        config = group["ConfigurationEndpoint"]
        return {"Endpoint": config["Address"], "Port": str(config.get("Port") or port)}
    node_group = group["NodeGroups"][0]
    values = {"Endpoint": node_group["PrimaryEndpoint"]["Address"],
              "Port": str(node_group["PrimaryEndpoint"].get("Port") or port)}
    if node_group.get("ReaderEndpoint"):
        values["ReaderEndpoint"] = node_group["ReaderEndpoint"]["Address"]
    return values


def remove_group(endpoints: Endpoints, name: str, *, wait: dict[str, int] | None = None) -> None:
    ec = endpoints.aws.client("elasticache")
    if name == source_group(endpoints, ec):
        raise BadInput(f"--target {name} is the environment's own replication group, not a copy")
    ec.delete_replication_group(ReplicationGroupId=name)
    ec.get_waiter("replication_group_deleted").wait(ReplicationGroupId=name, WaiterConfig=wait or WAIT)
