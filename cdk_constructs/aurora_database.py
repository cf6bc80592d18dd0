"""An Aurora cluster (PostgreSQL or MySQL compatible): one writer and N readers, with the same guarantees as
ReplicatedDatabase: encryption with the given key, TLS-only cluster parameters, IAM authentication, enhanced
monitoring, Performance Insights, exported logs in pre-created encrypted groups, and alarms per instance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from constructs import Construct

from cdk_data_tier.constructs.alarm_topic import AlarmTopic
from cdk_data_tier.constructs.database_alarms import AlarmThresholds, DatabaseAlarms
from cdk_data_tier.constructs.database_log_groups import DatabaseLogGroups
from cdk_data_tier.constructs.enhanced_monitoring_role import EnhancedMonitoringRole
from cdk_data_tier.constructs.replicated_database import (
    Backups,
    Observability,
    acknowledge_in_backup_plan,
    acknowledge_no_backup_plan,
    acknowledge_no_deletion_protection,
)


class AuroraDatabase(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        engine: rds.IClusterEngine,
        identifier: str,
        instance_type: ec2.InstanceType,
        vpc: ec2.IVpc,
        subnet_group: rds.ISubnetGroup,
        security_group: ec2.ISecurityGroup,
        port: int,
        credentials: rds.Credentials,
        database_name: str,
        key: kms.IKey,
        parameters: Mapping[str, str],
        readers: int,
        backups: Backups,
        observability: Observability,
        deletion_protection: bool,
        removal_policy: RemovalPolicy,
        alarm_thresholds: AlarmThresholds,
        alarm_topic: AlarmTopic | None = None,
        backtrack_window: Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.writer_identifier = f"{identifier}-writer"
        self.reader_identifiers = [f"{identifier}-reader-{i + 1}" for i in range(readers)]

        self.parameter_group = rds.ParameterGroup(
            self, "Parameters", engine=engine, parameters=dict(parameters),
            description=f"{identifier}: TLS only, slow statements and connections logged")
        self.log_groups = DatabaseLogGroups(
            self, "Logs", kind="cluster", identifiers=[identifier], log_types=observability.log_exports,
            retention=observability.log_retention,
            removal_policy=RemovalPolicy.DESTROY if removal_policy == RemovalPolicy.DESTROY
            else RemovalPolicy.RETAIN)

        def instance(construct_id: str, instance_identifier: str, **extra: Any) -> rds.IClusterInstance:
            return rds.ClusterInstance.provisioned(
                construct_id, instance_type=instance_type, instance_identifier=instance_identifier,
                publicly_accessible=False, auto_minor_version_upgrade=True, allow_major_version_upgrade=False,
                ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
                # Stated on each instance too: the cluster-level setting alone reads as "off" per instance.
                enable_performance_insights=True, performance_insight_encryption_key=key,
                performance_insight_retention=observability.performance_insight_retention, **extra)

        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=engine,
            cluster_identifier=identifier,
            writer=instance("Writer", self.writer_identifier),
            # Readers are the failover targets: same class as the writer, first in line for promotion.
            readers=[instance(f"Reader{i + 1}", r, promotion_tier=1)
                     for i, r in enumerate(self.reader_identifiers)],
            vpc=vpc,
            subnet_group=subnet_group,
            security_groups=[security_group],
            port=port,
            credentials=credentials,
            default_database_name=database_name,
            parameter_group=self.parameter_group,
            storage_encryption_key=key,
            iam_authentication=True,
            copy_tags_to_snapshot=True,
            cloudwatch_logs_exports=list(observability.log_exports),
            monitoring_interval=observability.monitoring_interval,
            monitoring_role=EnhancedMonitoringRole(
                self, "Monitoring", instance_identifiers=[self.writer_identifier, *self.reader_identifiers]).role,
            enable_performance_insights=True,
            performance_insight_encryption_key=key,
            performance_insight_retention=observability.performance_insight_retention,
            backup=rds.BackupProps(retention=backups.retention, preferred_window=backups.window),
            preferred_maintenance_window=backups.maintenance_window,
            backtrack_window=backtrack_window,
            delete_automated_backups=removal_policy == RemovalPolicy.DESTROY,
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
        )
        self.log_groups.before(self.cluster)
        if not deletion_protection:
            acknowledge_no_deletion_protection(self.cluster)
        self.alarms = DatabaseAlarms(self, "Alarms", writer=self.writer_identifier, replicas=self.reader_identifiers,
                                     thresholds=alarm_thresholds, aurora=True, topic=alarm_topic)

    @property
    def instance_identifiers(self) -> list[str]:
        return [self.writer_identifier, *self.reader_identifiers]

    @property
    def writer_endpoint(self) -> rds.Endpoint:
        return self.cluster.cluster_endpoint

    @property
    def reader_hosts(self) -> list[str]:
        # With no readers the reader endpoint only leads back to the writer, so it is not advertised.
        return [self.cluster.cluster_read_endpoint.hostname] if self.reader_identifiers else []

    def acknowledge_backup_plan(self, *, in_plan: bool) -> None:
        for child in self.cluster.node.children:
            if isinstance(child, rds.CfnDBInstance) or isinstance(child.node.default_child, rds.CfnDBInstance):
                if in_plan:
                    acknowledge_in_backup_plan(child, "Rule is wrong here: AWS Backup protects Aurora per cluster, "
                                               "and this instance's cluster is in the plan.")
                else:
                    acknowledge_no_backup_plan(child)

    def grant_connect(self, grantee: iam.IGrantable, db_user: str) -> None:
        self.cluster.grant_connect(grantee, db_user)
