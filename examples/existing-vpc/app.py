#!/usr/bin/env python3
"""A CDK app of the kind a user writes: the data tier's constructs in a VPC that exists already.

The VPC is imported by its attributes (ids written below, no lookups, so synth needs no AWS account), and the
app adds a Valkey replication group and a PostgreSQL writer with a read replica, both reachable from the app's
own security group only. The config is the `Config` below, not cdk.json. With cdk-data-tier installed (its
wheel, or `pip install path/to/cdk-data-tier`), `cdk synth` here writes the templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# cdk_data_tier first: importing it points jsii at the venv's Node 24 before aws_cdk starts node.
from cdk_data_tier.constructs import (
    AlarmThresholds,
    AlarmTopic,
    Backups,
    CacheEngine,
    CacheReplicationGroup,
    Observability,
    PrivateRotation,
    ReplicatedDatabase,
)
from cdk_data_tier.stacks.compliance import add_compliance_checks

# isort: split
import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from constructs import Construct


@dataclass(frozen=True)
class Config:
    """The existing network, and the few choices this app makes."""

    account: str = "123456789012"
    region: str = "eu-west-1"
    vpc_id: str = "vpc-0a1b2c3d4e5f60718"
    vpc_cidr: str = "10.40.0.0/16"
    availability_zones: tuple[str, ...] = ("eu-west-1a", "eu-west-1b")
    # Subnets without a route out, one per AZ: the data stores and the rotation functions go here.
    isolated_subnet_ids: tuple[str, ...] = ("subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002")
    isolated_route_table_ids: tuple[str, ...] = ("rtb-0a1b2c3d4e5f60001", "rtb-0a1b2c3d4e5f60002")
    # The application's security group: the only one let in to the cache and the database.
    app_security_group_id: str = "sg-0a1b2c3d4e5f60718"
    postgres: rds.PostgresEngineVersion = rds.PostgresEngineVersion.VER_17_9
    # Not the engine's default port (cdk-nag's AwsSolutions-RDS11).
    database_port: int = 5433
    cache_node_type: str = "cache.t4g.small"
    alarm_emails: tuple[str, ...] = ("oncall@example.com",)


class DataStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: Config, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        vpc = ec2.Vpc.from_vpc_attributes(
            self, "Vpc", vpc_id=config.vpc_id, vpc_cidr_block=config.vpc_cidr,
            availability_zones=list(config.availability_zones),
            isolated_subnet_ids=list(config.isolated_subnet_ids),
            isolated_subnet_route_table_ids=list(config.isolated_route_table_ids))
        isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        app = ec2.SecurityGroup.from_security_group_id(self, "AppSecurityGroup", config.app_security_group_id,
                                                       mutable=False)

        alarms = AlarmTopic(self, "Alarms", description="orders data tier", emails=config.alarm_emails)
        cache = CacheReplicationGroup(self, "Cache", vpc=vpc, engine=CacheEngine.valkey("8.1"),
                                      node_type=config.cache_node_type, replicas_per_shard=1,
                                      removal_policy=cdk.RemovalPolicy.DESTROY)
        cache.connections.allow_default_port_from(app, "the application")
        alarms.notify(*cache.alarms)

        key = kms.Key(self, "DatabaseKey", enable_key_rotation=True, removal_policy=cdk.RemovalPolicy.DESTROY,
                      description="Encrypts the database, its Performance Insights and its secret")
        security_group = ec2.SecurityGroup(self, "DatabaseSecurityGroup", vpc=vpc, allow_all_outbound=False,
                                           description="PostgreSQL from the application only")
        security_group.connections.allow_from(app, ec2.Port.tcp(config.database_port), "the application")
        secret = rds.DatabaseSecret(self, "DatabaseSecret", username="dbadmin", encryption_key=key)
        database = ReplicatedDatabase(
            self, "Database", engine=rds.DatabaseInstanceEngine.postgres(version=config.postgres),
            identifier="orders", instance_type=ec2.InstanceType("t4g.medium"), vpc=vpc,
            subnet_group=rds.SubnetGroup(self, "DatabaseSubnets", vpc=vpc, vpc_subnets=isolated,
                                         description="orders: isolated subnets"),
            security_group=security_group, port=config.database_port,
            credentials=rds.Credentials.from_secret(secret), database_name="orders", key=key,
            parameters={"rds.force_ssl": "1", "log_connections": "1", "log_disconnections": "1",
                        "log_min_duration_statement": "500"},
            allocated_storage_gib=20, max_allocated_storage_gib=100, multi_az=True, read_replicas=1,
            backups=Backups(retention=cdk.Duration.days(7), window="03:00-03:30",
                            maintenance_window="sun:04:00-sun:04:30"),
            observability=Observability(log_exports=("postgresql", "upgrade", "iam-db-auth-error"),
                                        log_retention=logs.RetentionDays.ONE_MONTH,
                                        monitoring_interval=cdk.Duration.seconds(60),
                                        performance_insight_retention=rds.PerformanceInsightRetention.DEFAULT),
            deletion_protection=True, removal_policy=cdk.RemovalPolicy.SNAPSHOT, alarm_thresholds=AlarmThresholds(),
            alarm_topic=alarms)
        database.acknowledge_backup_plan(in_plan=False)
        PrivateRotation(self, "Rotation", target=database.writer, port=config.database_port, vpc=vpc,
                        subnets=isolated, every=cdk.Duration.days(30), log_retention=logs.RetentionDays.ONE_MONTH,
                        removal_policy=cdk.RemovalPolicy.RETAIN)

        cdk.CfnOutput(self, "CacheEndpoint", value=cache.endpoint_address)
        cdk.CfnOutput(self, "DatabaseEndpoint", value=database.writer_endpoint.hostname)
        cdk.CfnOutput(self, "DatabaseSecretArn", value=secret.secret_arn)


def main() -> None:
    config = Config()
    app = cdk.App()
    DataStack(app, "orders-data", config=config, env=cdk.Environment(account=config.account, region=config.region))
    add_compliance_checks(app)  # cdk-nag's AwsSolutions, HIPAA and NIST 800-53 packs: synth fails on a finding
    app.synth()


if __name__ == "__main__":
    main()
