"""`<env>-Cache`: the Valkey/Redis OSS replication group; the bastion and the app host may reach it."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from cdk_data_tier.constructs.alarm_topic import AlarmTopic
from cdk_data_tier.constructs.cache_replication_group import (
    CacheAlarmThresholds,
    CacheAuth,
    CacheLogDelivery,
    CacheReplicationGroup,
)
from cdk_data_tier.constructs.local_grantee import LocalGrantee
from cdk_data_tier.stacks.config import EnvConfig
from cdk_data_tier.stacks.network_stack import NetworkStack


class CacheStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig, network: NetworkStack,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        cfg = config.cache
        # EnvConfig has resolved it from the environment's removal unless the config set it.
        assert cfg.removal is not None
        final_snapshot = cfg.removal == "snapshot"
        alarm_topic = AlarmTopic(self, "Alarms", description=f"{config.name} cache",
                                 removal_policy=RemovalPolicy.RETAIN if final_snapshot else RemovalPolicy.DESTROY,
                                 emails=config.notifications.emails, https_urls=config.notifications.https_urls)
        self.cache = CacheReplicationGroup(
            self,
            "Cache",
            vpc=network.vpc,
            vpc_subnets=network.data_subnets,
            engine=cfg.engine_spec,
            node_type=cfg.node_type,
            cluster_mode=cfg.cluster_mode,
            shards=cfg.shards,
            replicas_per_shard=cfg.replicas,
            port=cfg.port,
            # app_code reads the server version with INFO server, the one @dangerous command it sends.
            auth=CacheAuth.rbac_for_prefixes(cfg.username, cfg.key_prefixes, also_allow=("info",))
            if cfg.auth == "rbac" else CacheAuth.auth_token(),
            auth_rotation_days=cfg.auth_rotation_days,
            snapshot_retention_days=cfg.snapshot_retention_days,
            snapshot_window=cfg.snapshot_window,
            maintenance_window=cfg.maintenance_window,
            log_delivery=CacheLogDelivery(retention_days=cfg.log_retention_days),
            alarm_thresholds=CacheAlarmThresholds(**cfg.alarms.model_dump()),
            # Dev tears down clean; prod takes a final snapshot and keeps the keys that decrypt it.
            removal_policy=RemovalPolicy.SNAPSHOT if final_snapshot else RemovalPolicy.DESTROY,
            description=f"{config.name} cache ({cfg.engine})",
        )
        alarm_topic.notify(*self.cache.alarms)
        self.security_group = self.cache.security_group

        # Port forwarding through the bastion, and app_code on the app host: nobody else.
        self.cache.connections.allow_default_port_from(network.bastion_security_group, "bastion (SSM port forwarding)")
        self.cache.connections.allow_default_port_from(network.app_security_group, "app host (app_code)")
        # A policy in this stack, attached to the app role: granting the role itself would make Network depend on us.
        grantee = LocalGrantee(self, "AppHostAccess", role=network.app_role, description="app_code's cache credentials")
        self.cache.grant_read_auth_secret(grantee)

        cache = self.cache
        CfnOutput(self, "Endpoint", value=cache.endpoint_address,
                  description="Configuration endpoint (cluster mode on)" if cache.cluster_mode_enabled
                  else "Primary endpoint")
        if cache.reader_endpoint_address is not None:
            CfnOutput(self, "ReaderEndpoint", value=cache.reader_endpoint_address,
                      description="Reader endpoint (spreads reads over the replicas)")
        CfnOutput(self, "Port", value=str(cache.port))
        CfnOutput(self, "ClusterMode", value="enabled" if cache.cluster_mode_enabled else "disabled")
        CfnOutput(self, "TlsEnabled", value="true" if cache.transit_encryption else "false")
        # CloudFormation rejects empty outputs, so absent means "auth is off".
        if cache.auth_secret is not None:
            CfnOutput(self, "AuthSecretArn", value=cache.auth_secret.secret_arn,
                      description="Secrets Manager secret: JSON {password} (plus username under RBAC)")
        CfnOutput(self, "Engine", value=cache.engine.name)
