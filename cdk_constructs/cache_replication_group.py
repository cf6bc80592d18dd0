"""An ElastiCache (Valkey or Redis OSS) replication group, as an L2 would build it.

aws-cdk-lib has only `CfnReplicationGroup` (aws/aws-cdk#6908). This construct adds what production
needs around it: a subnet group, a security group with a default port (`ec2.IConnectable`), a parameter
group whose family matches the engine, TLS, at-rest encryption with a customer-managed key, an AUTH token
or RBAC users generated into Secrets Manager, snapshots, log delivery to encrypted log groups, and
per-node alarms. Props are validated before anything is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jsii
from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_data_tier.constructs.cache_alarms import CacheAlarmThresholds, node_alarms, node_suffixes
from cdk_data_tier.constructs.cache_auth import CacheAuth, generated_secret, rbac_user_group
from cdk_data_tier.constructs.cache_auth_rotation import CacheAuthRotation
from cdk_data_tier.constructs.cache_props import (
    DEFAULT_PORT,
    CacheEngine,
    CacheLogDelivery,
    CachePropsError,
    ClusterMode,
    check_node_type,
    check_port,
    check_rotation_days,
    check_snapshot_retention,
    check_topology,
    check_windows,
)
from cdk_data_tier.constructs.checkov_skips import skip_checkov
from cdk_data_tier.constructs.encrypted_log_group import EncryptedLogGroup
from cdk_data_tier.constructs.log_retention import retention_days
from cdk_data_tier.constructs.subnet_selection import ISOLATED, select

DEFAULT_LOG_DELIVERY = CacheLogDelivery()
DEFAULT_ALARMS = CacheAlarmThresholds()

__all__ = ["CacheAlarmThresholds", "CacheAuth", "CacheEngine", "CacheLogDelivery", "CachePropsError",
           "CacheReplicationGroup"]


@jsii.implements(ec2.IConnectable)
class CacheReplicationGroup(Construct):
    """`cache.connections.allow_default_port_from(app_sg)`, `cache.grant_read_auth_secret(role)`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        vpc_subnets: ec2.SubnetSelection | None = None,
        engine: CacheEngine | None = None,
        node_type: str = "cache.t4g.micro",
        cluster_mode: ClusterMode = "disabled",
        shards: int = 1,
        replicas_per_shard: int = 1,
        automatic_failover: bool | None = None,
        multi_az: bool | None = None,
        port: int = DEFAULT_PORT,
        transit_encryption: bool = True,
        auth: CacheAuth | None = None,
        auth_rotation_days: int | None = 30,
        rotation_subnets: ec2.SubnetSelection | None = None,
        encryption_key: kms.IKey | None = None,
        secret_encryption_key: kms.IKey | None = None,
        parameters: Mapping[str, str] | None = None,
        parameter_group: elasticache.CfnParameterGroup | str | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        snapshot_retention_days: int = 15,
        snapshot_window: str | None = None,
        maintenance_window: str | None = None,
        log_delivery: CacheLogDelivery | None = DEFAULT_LOG_DELIVERY,
        alarm_thresholds: CacheAlarmThresholds | None = DEFAULT_ALARMS,
        removal_policy: RemovalPolicy = RemovalPolicy.SNAPSHOT,
        auto_minor_version_upgrade: bool = True,
        description: str = "Valkey/Redis OSS replication group",
    ) -> None:
        """
        vpc_subnets: where the nodes go (default: the isolated subnets).
        cluster_mode / shards / replicas_per_shard: 'disabled' has exactly 1 shard; 0-5 replicas per shard.
        automatic_failover / multi_az: default on whenever there is a replica.
        auth: CacheAuth.auth_token() (default), CacheAuth.rbac(...) or CacheAuth.none(); tokens need TLS.
        auth_rotation_days: rotate the token or password this often (1-365); None leaves it unrotated, and
          the compliance rules then say so. rotation_subnets: where that function runs (default: vpc_subnets).
        encryption_key: at-rest CMK (created, with rotation, when omitted); secret_encryption_key likewise.
        parameters: engine parameters for the group this construct creates; or parameter_group: an existing
          CfnParameterGroup, or the name of one (a default group's name must match engine and cluster mode).
        removal_policy: DESTROY, or SNAPSHOT (a final snapshot; keys, secrets and log groups are then retained).
        log_delivery / alarm_thresholds: None turns them off.
        """
        super().__init__(scope, construct_id)
        engine = engine or CacheEngine.valkey()
        auth = auth or CacheAuth.auth_token()
        topology = check_topology(cluster_mode=cluster_mode, shards=shards, replicas_per_shard=replicas_per_shard,
                                  automatic_failover=automatic_failover, multi_az=multi_az)
        check_port(port)
        check_node_type(node_type)
        check_snapshot_retention(snapshot_retention_days)
        check_rotation_days(auth_rotation_days)
        check_windows(snapshot_window, maintenance_window)
        if auth.mode != "none" and not transit_encryption:
            raise CachePropsError(f"transit_encryption=False is not allowed with auth {auth.mode!r}: ElastiCache "
                                  f"accepts AUTH tokens and RBAC passwords only over TLS (use CacheAuth.none())")
        if removal_policy not in (RemovalPolicy.DESTROY, RemovalPolicy.SNAPSHOT):
            raise CachePropsError(f"removal_policy={removal_policy.name} is not allowed: DESTROY or SNAPSHOT (a "
                                  f"retained group would keep its subnet and security groups in use)")
        if parameters is not None and parameter_group is not None:
            raise CachePropsError("parameters is not allowed with parameter_group: parameters configure the group "
                                  "this construct creates")
        _check_parameter_group(parameter_group, engine, cluster_mode)
        _check_cluster_parameter(parameters or {}, cluster_mode)

        kept = RemovalPolicy.RETAIN if removal_policy == RemovalPolicy.SNAPSHOT else RemovalPolicy.DESTROY
        self.engine = engine
        self.cluster_mode: ClusterMode = cluster_mode
        self.transit_encryption = transit_encryption
        self.port = port

        self.encryption_key = encryption_key or kms.Key(
            self, "Key", description=f"Encrypts {description} at rest (nodes and snapshots)",
            enable_key_rotation=True, removal_policy=kept)

        self.auth_secret: secretsmanager.ISecret | None = None
        user_group: elasticache.CfnUserGroup | None = None
        if auth.mode != "none":
            secret_key = secret_encryption_key or kms.Key(
                self, "SecretKey", description=f"Encrypts the credentials of {description}",
                enable_key_rotation=True, removal_policy=kept)
            self.auth_secret = generated_secret(
                self, "AuthSecret", key=secret_key, removal_policy=kept, username=auth.username,
                description=f"Credentials of {description}: JSON with password"
                + (" and username (RBAC)" if auth.mode == "rbac" else " (the AUTH token)"))
            if auth.mode == "rbac":
                user_group, app_user = rbac_user_group(self, auth=auth, engine=engine, secret=self.auth_secret,
                                                       key=secret_key, removal_policy=kept)

        self.security_group: ec2.SecurityGroup | None = None
        if not security_groups:
            self.security_group = ec2.SecurityGroup(
                self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
                description=f"{description}: port {port} from the peers this stack allows, nothing else")
            security_groups = [self.security_group]
        self._connections = ec2.Connections(security_groups=list(security_groups), default_port=ec2.Port.tcp(port))

        subnets = select(vpc, vpc_subnets)
        self.subnet_group = elasticache.CfnSubnetGroup(self, "SubnetGroup", description=f"Subnets of {description}",
                                                       subnet_ids=subnets.subnet_ids)

        self.parameter_group_name, self.parameter_group = _parameter_group(
            self, parameter_group, engine, cluster_mode, parameters or {}, description)

        self.log_groups: dict[str, logs.ILogGroup] = {}
        log_policy = None
        if log_delivery:
            log_policy = self._log_groups(log_delivery, kept, description)

        self.replication_group = elasticache.CfnReplicationGroup(
            self,
            "Resource",
            replication_group_description=description,
            engine=engine.name,
            engine_version=engine.version,
            cache_node_type=node_type,
            cluster_mode=cluster_mode,
            num_node_groups=shards,
            replicas_per_node_group=replicas_per_shard,
            automatic_failover_enabled=topology.automatic_failover,
            multi_az_enabled=topology.multi_az,
            port=port,
            cache_subnet_group_name=self.subnet_group.ref,
            security_group_ids=[sg.security_group_id for sg in security_groups],
            cache_parameter_group_name=self.parameter_group_name,
            transit_encryption_enabled=transit_encryption,
            at_rest_encryption_enabled=True,
            kms_key_id=self.encryption_key.key_arn,
            auth_token=(self.auth_secret.secret_value_from_json("password").unsafe_unwrap()
                        if auth.mode == "auth_token" and self.auth_secret else None),
            user_group_ids=[user_group.ref] if user_group else None,
            snapshot_retention_limit=snapshot_retention_days,
            snapshot_window=snapshot_window,
            preferred_maintenance_window=maintenance_window,
            auto_minor_version_upgrade=auto_minor_version_upgrade,
            log_delivery_configurations=_deliveries(self.log_groups, log_delivery) if log_delivery else None,
        )
        self.replication_group.apply_removal_policy(removal_policy)
        if log_policy is not None:
            # Delivery is set up when the group is created: the log groups must already admit it.
            self.replication_group.node.add_dependency(log_policy)
        if auth.mode == "rbac":
            self._acknowledge_rbac()

        self.auth_rotation: CacheAuthRotation | None = None
        if self.auth_secret is not None and auth_rotation_days is not None:
            assert auth.mode != "none" and secret_key is not None
            self.auth_rotation = CacheAuthRotation(
                self, "AuthRotation", secret=self.auth_secret, mode=auth.mode,
                target_id=app_user.ref if auth.mode == "rbac" else self.replication_group.ref,
                vpc=vpc, subnets=rotation_subnets or vpc_subnets or ISOLATED, every=Duration.days(
                    auth_rotation_days), key=secret_key,
                log_retention=retention_days(log_delivery.retention_days if log_delivery else 30),
                removal_policy=kept)

        self.replication_group_id = self.replication_group.ref
        if cluster_mode == "enabled":
            self.endpoint_address = self.replication_group.attr_configuration_end_point_address
            self.reader_endpoint_address: str | None = None
        else:
            self.endpoint_address = self.replication_group.attr_primary_end_point_address
            self.reader_endpoint_address = self.replication_group.attr_reader_end_point_address

        self.node_suffixes = node_suffixes(cluster_mode, shards, replicas_per_shard)
        self.alarms: list[cloudwatch.Alarm] = []
        if alarm_thresholds:
            self.alarms = node_alarms(self, replication_group_id=self.replication_group_id,
                                      suffixes=self.node_suffixes, replicas_per_shard=replicas_per_shard,
                                      thresholds=alarm_thresholds)

    @property
    def connections(self) -> ec2.Connections:
        return self._connections

    @property
    def cluster_mode_enabled(self) -> bool:
        return self.cluster_mode == "enabled"

    def grant_read_auth_secret(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the credentials secret (and decrypt it with its key); a no-op grant when auth is off."""
        if self.auth_secret is None:
            return iam.Grant.drop(grantee, "read the cache's credentials (auth is off: there are none)")
        return self.auth_secret.grant_read(grantee)

    def _log_groups(self, delivery: CacheLogDelivery, removal: RemovalPolicy, description: str) -> logs.ResourcePolicy:
        key = None
        for log_type in delivery.log_types:
            name = "SlowLog" if log_type == "slow-log" else "EngineLog"
            group = EncryptedLogGroup(self, name, retention=retention_days(delivery.retention_days),
                                      removal_policy=removal, description=f"{description} {log_type}", key=key)
            key = group.key
            self.log_groups[log_type] = group.log_group
        stack = Stack.of(self)
        # One policy for both groups: CloudWatch Logs allows only 10 resource policies per region, and without
        # one here ElastiCache would add an account-wide policy that outlives `cdk destroy`.
        return logs.ResourcePolicy(self, "LogDeliveryPolicy", policy_statements=[iam.PolicyStatement(
            principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[g.log_group_arn for g in self.log_groups.values()],
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {"aws:SourceArn": stack.format_arn(service="logs", resource="*")},
            },
        )])

    def _acknowledge_rbac(self) -> None:
        reason = ("Rule is wrong here: it only recognises AUTH tokens, and this group authenticates every client "
                  "as an RBAC user (UserGroupIds) with a generated password, over TLS, which replaces the token.")
        Validations.of(self.replication_group).acknowledge(
            Acknowledgment(id="AwsSolutions::AwsSolutions-AEC6", reason=reason))
        skip_checkov(self.replication_group, CKV_AWS_31=reason)


_Delivery = elasticache.CfnReplicationGroup.LogDeliveryConfigurationRequestProperty


def _deliveries(groups: Mapping[str, logs.ILogGroup], delivery: CacheLogDelivery) -> list[_Delivery]:
    rg = elasticache.CfnReplicationGroup
    return [
        rg.LogDeliveryConfigurationRequestProperty(
            destination_type="cloudwatch-logs",
            destination_details=rg.DestinationDetailsProperty(
                cloud_watch_logs_details=rg.CloudWatchLogsDestinationDetailsProperty(log_group=group.log_group_name)),
            log_format=delivery.log_format,
            log_type=log_type,
        )
        for log_type, group in groups.items()
    ]


def _check_parameter_group(group: elasticache.CfnParameterGroup | str | None, engine: CacheEngine,
                           cluster_mode: ClusterMode) -> None:
    if group is None:
        return
    if isinstance(group, str):
        if group.startswith("default."):
            expected = engine.default_parameter_group(cluster_mode)
            if group != expected:
                raise CachePropsError(f"parameter_group={group!r} is not allowed for {engine.name} {engine.version} "
                                      f"with cluster mode {cluster_mode!r}: expected {expected!r}")
        return
    family = group.cache_parameter_group_family
    if family != engine.family:
        raise CachePropsError(f"parameter_group family {family!r} is not allowed for {engine.name} "
                              f"{engine.version}: expected {engine.family!r}")
    props = group.properties if group.properties is not None else {}
    if isinstance(props, Mapping):  # a token can only be checked by ElastiCache at deploy time
        # A group starts from its family's defaults, where cluster mode is off.
        _check_cluster_parameter({"cluster-enabled": "no", **props}, cluster_mode, where="parameter_group")


def _check_cluster_parameter(params: Mapping[str, str], cluster_mode: ClusterMode, where: str = "parameters") -> None:
    wanted = "yes" if cluster_mode == "enabled" else "no"
    value = params.get("cluster-enabled")
    if value is not None and value != wanted:
        raise CachePropsError(f"{where} cluster-enabled={value!r} is not allowed with cluster mode {cluster_mode!r}: "
                              f"it must be {wanted!r}")


def _parameter_group(scope: Construct, given: elasticache.CfnParameterGroup | str | None, engine: CacheEngine,
                     cluster_mode: ClusterMode, parameters: Mapping[str, str],
                     description: str) -> tuple[str, elasticache.CfnParameterGroup | None]:
    if isinstance(given, str):
        return given, None
    if given is not None:
        return given.ref, given
    # Always a group of our own, so that a parameter change later is an update, not a swap of groups.
    group = elasticache.CfnParameterGroup(
        scope, "ParameterGroup", cache_parameter_group_family=engine.family,
        description=f"Parameters of {description} ({engine.name} {engine.version}, cluster mode {cluster_mode})",
        properties={**parameters, "cluster-enabled": "yes" if cluster_mode == "enabled" else "no"})
    return group.ref, group
