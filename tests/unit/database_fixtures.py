"""Shared bare-stack scaffolding for the database construct tests: a VPC, a key, a secret, a subnet group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds

from cdk_data_tier.constructs.database_alarms import AlarmThresholds
from cdk_data_tier.constructs.replicated_database import Backups, Observability

ENV = cdk.Environment(account="111111111111", region="us-east-1")
ISOLATED = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


@dataclass
class Scaffold:
    stack: cdk.Stack
    vpc: ec2.Vpc
    security_group: ec2.SecurityGroup
    key: kms.Key
    secret: rds.DatabaseSecret

    def common(self, **overrides: Any) -> dict[str, Any]:
        """The props ReplicatedDatabase and AuroraDatabase share, with test-sized values."""
        props: dict[str, Any] = dict(
            identifier="bare-db",
            instance_type=ec2.InstanceType("t4g.medium"),
            vpc=self.vpc,
            subnet_group=rds.SubnetGroup(self.stack, "SubnetGroup", vpc=self.vpc, vpc_subnets=ISOLATED,
                                         description="isolated"),
            security_group=self.security_group,
            port=5433,
            credentials=rds.Credentials.from_secret(self.secret, "dbadmin"),
            database_name="app",
            key=self.key,
            parameters={"rds.force_ssl": "1"},
            backups=Backups(retention=cdk.Duration.days(7), window="03:00-03:30",
                            maintenance_window="sun:04:00-sun:04:30"),
            observability=Observability(log_exports=("postgresql", "upgrade"),
                                        log_retention=logs.RetentionDays.ONE_MONTH,
                                        monitoring_interval=cdk.Duration.seconds(60),
                                        performance_insight_retention=rds.PerformanceInsightRetention.DEFAULT),
            deletion_protection=False,
            removal_policy=cdk.RemovalPolicy.DESTROY,
            alarm_thresholds=AlarmThresholds(),
        )
        props.update(overrides)
        return props


def scaffold() -> Scaffold:
    stack = cdk.Stack(cdk.App(), "Bare", env=ENV)
    vpc = ec2.Vpc(stack, "Vpc", availability_zones=["us-east-1a", "us-east-1b"], nat_gateways=0,
                  subnet_configuration=[ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)])
    sg = ec2.SecurityGroup(stack, "DbSg", vpc=vpc, allow_all_outbound=False)
    key = kms.Key(stack, "Key")
    secret = rds.DatabaseSecret(stack, "Secret", username="dbadmin", dbname="app", encryption_key=key)
    return Scaffold(stack=stack, vpc=vpc, security_group=sg, key=key, secret=secret)


def logical_id(stack: cdk.Stack, construct: Any) -> str:
    return stack.get_logical_id(construct.node.default_child)
