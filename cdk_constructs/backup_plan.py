"""A daily AWS Backup plan (RDS instances, Aurora clusters, DynamoDB tables) into a vault of its own.

Automated backups and PITR die with the database or table; AWS Backup recovery points live in a vault of their
own, so they survive a deleted store and follow their own retention. The vault has its own rotating key, and
its access policy denies everyone (the account's administrators too) deleting a recovery point or shortening
its lifecycle: recovery points leave only by expiring. Vault and key are always retained: CloudFormation cannot
delete a vault that holds recovery points, so `cdk destroy` leaves them, and environments that tear down clean
have no plan at all (stacks/database_config.py, stacks/dynamo_config.py). Removing the access policy remains
possible for an administrator; an irreversible Vault Lock is a step this construct deliberately does not take.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_kms as kms
from constructs import Construct

START_WINDOW = Duration.hours(1)


class BackupPlan(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        resources: Sequence[backup.BackupResource],
        retention: Duration,
        start_hour_utc: int,
        description: str,
        selection_name: str = "Resources",
    ) -> None:
        """start_hour_utc: jobs start within the hour after it (START_WINDOW), every day."""
        super().__init__(scope, construct_id)
        if not 0 <= start_hour_utc <= 23:
            raise ValueError(f"start_hour_utc={start_hour_utc} is not allowed: 0-23")
        self.key = kms.Key(self, "VaultKey", description=f"Encrypts the {description} backup vault",
                           enable_key_rotation=True, removal_policy=RemovalPolicy.RETAIN)
        # Not "Vault": a vault's key is fixed at creation, so a vault of the same name encrypted with another key
        # would be a replacement CloudFormation cannot make; the earlier, retained vault keeps its points.
        self.vault = backup.BackupVault(self, "KeyedVault", encryption_key=self.key,
                                        removal_policy=RemovalPolicy.RETAIN, block_recovery_point_deletion=True)
        self.plan = backup.BackupPlan(self, "Plan", backup_vault=self.vault)
        self.plan.add_rule(backup.BackupPlanRule(
            rule_name="Daily",
            schedule_expression=events.Schedule.cron(hour=str(start_hour_utc), minute="0"),
            start_window=START_WINDOW,
            completion_window=Duration.hours(8),
            delete_after=retention,
        ))
        self.selection = self.plan.add_selection(selection_name, resources=list(resources))
        Validations.of(self.selection).acknowledge(Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSBackupServiceRolePolicyForBackup]",
            reason="Deliberate trade-off: AWS keeps this service-role policy in step with what AWS Backup needs to "
            "back up RDS and DynamoDB; a hand-written copy would drift, and the role is assumable by AWS Backup only.",
        ))
