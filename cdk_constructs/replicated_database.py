"""An RDS instance (PostgreSQL or MySQL) with same-region read replicas, its parameter group and alarms.

Production defaults are not optional here: storage and Performance Insights encrypted with the given
key, TLS enforced by the parameter group, IAM authentication, enhanced monitoring, every engine log
exported to a pre-created encrypted log group, no public access, and fixed identifiers (see
database_log_groups.py for why the names must be known before deploy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, ArnFormat, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from constructs import Construct, IConstruct

from cdk_data_tier.constructs.alarm_topic import AlarmTopic
from cdk_data_tier.constructs.checkov_skips import skip_checkov
from cdk_data_tier.constructs.database_alarms import AlarmThresholds, DatabaseAlarms
from cdk_data_tier.constructs.database_log_groups import DatabaseLogGroups
from cdk_data_tier.constructs.enhanced_monitoring_role import EnhancedMonitoringRole


@dataclass(frozen=True)
class Backups:
    retention: Duration
    window: str
    maintenance_window: str


@dataclass(frozen=True)
class Observability:
    log_exports: Sequence[str]
    log_retention: logs.RetentionDays
    monitoring_interval: Duration
    performance_insight_retention: rds.PerformanceInsightRetention


class ReplicatedDatabase(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        engine: rds.IInstanceEngine,
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
        allocated_storage_gib: int,
        max_allocated_storage_gib: int,
        multi_az: bool,
        read_replicas: int,
        backups: Backups,
        observability: Observability,
        deletion_protection: bool,
        removal_policy: RemovalPolicy,
        alarm_thresholds: AlarmThresholds,
        alarm_topic: AlarmTopic | None = None,
        option_group: rds.IOptionGroup | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.writer_identifier = f"{identifier}-writer"
        self.replica_identifiers = [f"{identifier}-replica-{i + 1}" for i in range(read_replicas)]
        # Replicas hold nothing the writer does not; they follow the writer only when it is kept whole.
        replica_removal = RemovalPolicy.RETAIN if removal_policy == RemovalPolicy.RETAIN else RemovalPolicy.DESTROY

        self.parameter_group = rds.ParameterGroup(
            self, "Parameters", engine=engine, parameters=dict(parameters),
            description=f"{identifier}: TLS only, slow statements and connections logged")
        self.log_groups = DatabaseLogGroups(
            self, "Logs", kind="instance", identifiers=[self.writer_identifier, *self.replica_identifiers],
            log_types=observability.log_exports, retention=observability.log_retention,
            removal_policy=RemovalPolicy.DESTROY if removal_policy == RemovalPolicy.DESTROY
            else RemovalPolicy.RETAIN)
        monitoring_role = EnhancedMonitoringRole(
            self, "Monitoring", instance_identifiers=[self.writer_identifier, *self.replica_identifiers]).role

        # What the writer and its replicas share.
        common: dict[str, Any] = dict(
            instance_type=instance_type,
            vpc=vpc,
            subnet_group=subnet_group,
            security_groups=[security_group],
            port=port,
            parameter_group=self.parameter_group,
            option_group=option_group,
            multi_az=multi_az,
            storage_type=rds.StorageType.GP3,
            max_allocated_storage=max_allocated_storage_gib,
            publicly_accessible=False,
            iam_authentication=True,
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
            auto_minor_version_upgrade=True,
            copy_tags_to_snapshot=True,
            cloudwatch_logs_exports=list(observability.log_exports),
            monitoring_interval=observability.monitoring_interval,
            monitoring_role=monitoring_role,
            enable_performance_insights=True,
            performance_insight_encryption_key=key,
            performance_insight_retention=observability.performance_insight_retention,
            preferred_maintenance_window=backups.maintenance_window,
            deletion_protection=deletion_protection,
        )
        self.writer = rds.DatabaseInstance(
            self,
            "Writer",
            engine=engine,
            instance_identifier=self.writer_identifier,
            credentials=credentials,
            allow_major_version_upgrade=False,
            database_name=database_name,
            allocated_storage=allocated_storage_gib,
            storage_encryption_key=key,
            backup_retention=backups.retention,
            preferred_backup_window=backups.window,
            # A clean `cdk destroy` also drops the automated backups; anything kept keeps them too.
            delete_automated_backups=removal_policy == RemovalPolicy.DESTROY,
            removal_policy=removal_policy,
            **common,
        )
        self.replicas = [
            rds.DatabaseInstanceReadReplica(
                self,
                f"Replica{i + 1}",
                source_database_instance=self.writer,
                instance_identifier=replica_id,
                # No storage key and no StorageEncrypted: a same-region replica inherits both from its source,
                # and CloudFormation rejects StorageEncrypted next to SourceDBInstanceIdentifier.
                removal_policy=replica_removal,
                **common,
            )
            for i, replica_id in enumerate(self.replica_identifiers)
        ]
        self.log_groups.before(self.writer, *self.replicas)
        for replica in self.replicas:
            _acknowledge_inherited_encryption(replica)
            _acknowledge_inherited_engine(replica, port)
        if not multi_az:
            for instance in (self.writer, *self.replicas):
                _acknowledge_single_az(instance)
        if not deletion_protection:
            for instance in (self.writer, *self.replicas):
                acknowledge_no_deletion_protection(instance)

        self.alarms = DatabaseAlarms(self, "Alarms", writer=self.writer_identifier, replicas=self.replica_identifiers,
                                     thresholds=alarm_thresholds, aurora=False, topic=alarm_topic)

    @property
    def instance_identifiers(self) -> list[str]:
        return [self.writer_identifier, *self.replica_identifiers]

    @property
    def writer_endpoint(self) -> rds.Endpoint:
        return self.writer.instance_endpoint

    @property
    def reader_hosts(self) -> list[str]:
        return [r.db_instance_endpoint_address for r in self.replicas]

    def acknowledge_backup_plan(self, *, in_plan: bool) -> None:
        """Settle HIPAA/NIST RDSInBackupPlan: `in_plan` says whether the writer is in an AWS Backup plan."""
        if not in_plan:
            acknowledge_no_backup_plan(self.writer)
        for replica in self.replicas:
            acknowledge_in_backup_plan(replica, "Rule is wrong here: a read replica is a copy of its writer, whose "
                                       "automated backups (and AWS Backup plan, where configured) cover its data.")

    def grant_connect(self, grantee: iam.IGrantable, db_user: str) -> None:
        """`rds-db:connect` as `db_user` on the writer and on every replica (each has its own resource ID).

        A replica's own grant_connect names its ARN instead of its resource ID unless the app sets the
        `setCorrectValueForDatabaseInstanceReadReplicaInstanceResourceId` flag, so the replicas' grant is
        built from their DbiResourceId attribute here, whatever the app's flags.
        """
        self.writer.grant_connect(grantee, db_user)
        stack = Stack.of(self)
        arns = [stack.format_arn(service="rds-db", resource="dbuser", arn_format=ArnFormat.COLON_RESOURCE_NAME,
                                 resource_name=f"{_cfn(replica).attr_dbi_resource_id}/{db_user}")
                for replica in self.replicas]
        if arns:
            iam.Grant.add_to_principal(grantee=grantee, actions=["rds-db:connect"], resource_arns=arns)


def _cfn(instance: rds.DatabaseInstanceBase) -> rds.CfnDBInstance:
    resource = instance.node.default_child
    assert isinstance(resource, rds.CfnDBInstance)
    return resource


def acknowledge_no_backup_plan(database: IConstruct) -> None:
    acknowledge_in_backup_plan(database, "Deliberate trade-off: automated backups with point-in-time restore "
                               "(backup_retention_days) protect this database, and no AWS Backup vault is configured "
                               "(backup_plan_retention_days: null) because a vault outlives `cdk destroy`.")


def acknowledge_in_backup_plan(construct: IConstruct, reason: str) -> None:
    Validations.of(construct).acknowledge(*[
        Acknowledgment(id=f"{pack}::{pack}-RDSInBackupPlan", reason=reason)
        for pack in ("HIPAA.Security", "NIST.800.53.R5")])


def _acknowledge_inherited_engine(replica: rds.DatabaseInstanceReadReplica, port: int) -> None:
    Validations.of(replica).acknowledge(Acknowledgment(
        id="AwsSolutions::AwsSolutions-RDS11",
        reason=f"Rule is wrong here: the replica listens on port {port}, not the engine default; the rule flags "
        "every DBInstance without an Engine property, and a read replica inherits its engine from the source.",
    ))


def _acknowledge_inherited_encryption(replica: rds.DatabaseInstanceReadReplica) -> None:
    reason = ("Rule is wrong here: a same-region read replica inherits storage encryption and the KMS key from its "
              "encrypted source, and CloudFormation forbids StorageEncrypted alongside SourceDBInstanceIdentifier.")
    Validations.of(replica).acknowledge(*[
        Acknowledgment(id=rule_id, reason=reason) for rule_id in (
            "AwsSolutions::AwsSolutions-RDS2",
            "HIPAA.Security::HIPAA.Security-RDSStorageEncrypted",
            "NIST.800.53.R5::NIST.800.53.R5-RDSStorageEncrypted",
        )])
    skip_checkov(replica.node.default_child, CKV_AWS_16=reason)


def _acknowledge_single_az(instance: rds.DatabaseInstanceBase) -> None:
    reason = ("Deliberate trade-off: this database is configured single-AZ (multi_az: false) to halve its cost; "
              "every environment that must survive an AZ outage sets multi_az: true.")
    Validations.of(instance).acknowledge(*[
        Acknowledgment(id=rule_id, reason=reason) for rule_id in (
            "AwsSolutions::AwsSolutions-RDS3",
            "HIPAA.Security::HIPAA.Security-RDSMultiAZSupport",
            "NIST.800.53.R5::NIST.800.53.R5-RDSMultiAZSupport",
        )])
    skip_checkov(instance.node.default_child, CKV_AWS_157=reason)


def acknowledge_no_deletion_protection(database: Construct) -> None:
    reason = ("Deliberate trade-off: this database is configured to tear down with `cdk destroy` "
              "(deletion_protection: false); environments that keep data set it to true.")
    Validations.of(database).acknowledge(*[
        Acknowledgment(id=rule_id, reason=reason) for rule_id in (
            "AwsSolutions::AwsSolutions-RDS10",
            "HIPAA.Security::HIPAA.Security-RDSInstanceDeletionProtectionEnabled",
            "NIST.800.53.R5::NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled",
        )])
    resource = database.node.default_child
    if isinstance(resource, rds.CfnDBInstance):
        skip_checkov(resource, CKV_AWS_293=reason)
