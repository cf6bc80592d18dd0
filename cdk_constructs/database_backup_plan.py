"""A daily AWS Backup plan for RDS instances or Aurora clusters, on top of their automated backups.

Automated backups die with the database; AWS Backup recovery points live in a vault of their own, so
they survive a deleted instance and follow their own retention. The vault is always retained:
CloudFormation cannot delete a vault that holds recovery points.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from constructs import Construct


class DatabaseBackupPlan(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        resources: Sequence[backup.BackupResource],
        retention: Duration,
        start_hour_utc: int,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.vault = backup.BackupVault(self, "Vault", encryption_key=key, removal_policy=RemovalPolicy.RETAIN)
        self.plan = backup.BackupPlan(self, "Plan", backup_vault=self.vault)
        self.plan.add_rule(backup.BackupPlanRule(
            rule_name="Daily",
            schedule_expression=events.Schedule.cron(hour=str(start_hour_utc), minute="0"),
            start_window=Duration.hours(1),
            completion_window=Duration.hours(8),
            delete_after=retention,
        ))
        self.selection = self.plan.add_selection("Database", resources=list(resources))
        Validations.of(self.selection).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSBackupServiceRolePolicyForBackup]",
            reason="Deliberate trade-off: AWS keeps this service-role policy in step with what AWS Backup needs to "
            "snapshot RDS; a hand-written copy would drift, and the role is assumable by AWS Backup only.",
        ))
