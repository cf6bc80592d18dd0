"""DatabaseBackupPlan and EnhancedMonitoringRole in a bare Stack."""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from cdk_constructs.database_backup_plan import DatabaseBackupPlan
from cdk_constructs.enhanced_monitoring_role import EnhancedMonitoringRole
from tests.unit.database_fixtures import ENV


def test_backup_plan_runs_daily_into_a_retained_vault() -> None:
    stack = cdk.Stack(cdk.App(), "Bare", env=ENV)
    DatabaseBackupPlan(stack, "Plan", key=kms.Key(stack, "Key"), retention=cdk.Duration.days(35), start_hour_utc=5,
                       resources=[backup.BackupResource.from_arn("arn:aws:rds:us-east-1:111111111111:db:x")])
    template = Template.from_stack(stack)
    template.has_resource("AWS::Backup::BackupVault", {"DeletionPolicy": "Retain"})
    (plan,) = template.find_resources("AWS::Backup::BackupPlan").values()
    (rule,) = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["ScheduleExpression"] == "cron(0 5 * * ? *)"
    assert rule["Lifecycle"] == {"DeleteAfterDays": 35}
    template.has_resource_properties("AWS::Backup::BackupSelection", {
        "BackupSelection": {"Resources": ["arn:aws:rds:us-east-1:111111111111:db:x"]}})


def test_monitoring_role_reaches_only_rdsosmetrics() -> None:
    stack = cdk.Stack(cdk.App(), "Bare", env=ENV)
    EnhancedMonitoringRole(stack, "Monitoring", instance_identifiers=["db-writer", "db-replica-1"])
    template = Template.from_stack(stack)
    (role,) = template.find_resources("AWS::IAM::Role").values()
    assert "ManagedPolicyArns" not in role["Properties"]
    # Only RDS acting for these two instances of this account may assume it.
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "111111111111"}
    sources = [arn["Fn::Join"][1][-1] for arn in trust["Condition"]["ArnLike"]["aws:SourceArn"]]
    assert sources == [":rds:us-east-1:111111111111:db:db-writer", ":rds:us-east-1:111111111111:db:db-replica-1"]
    (policy,) = template.find_resources("AWS::IAM::ManagedPolicy").values()
    resources = json.dumps([s["Resource"] for s in policy["Properties"]["PolicyDocument"]["Statement"]])
    assert resources.count("log-group:RDSOSMetrics") == 2
    assert "log-group:*" not in resources and "log-group:RDS*" not in resources
