"""BackupPlan and EnhancedMonitoringRole in a bare Stack."""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from aws_cdk.assertions import Template

from cdk_data_tier.constructs.backup_plan import BackupPlan
from cdk_data_tier.constructs.enhanced_monitoring_role import EnhancedMonitoringRole
from tests.unit.database_fixtures import ENV


def test_backup_plan_runs_daily_into_a_retained_vault_of_its_own_that_nobody_may_empty() -> None:
    stack = cdk.Stack(cdk.App(), "Bare", env=ENV)
    BackupPlan(stack, "Plan", retention=cdk.Duration.days(35), start_hour_utc=5, description="bare",
               resources=[backup.BackupResource.from_arn("arn:aws:rds:us-east-1:111111111111:db:x")])
    template = Template.from_stack(stack)
    (vault,) = template.find_resources("AWS::Backup::BackupVault").values()
    assert vault["DeletionPolicy"] == "Retain"
    (key_id, key), = template.find_resources("AWS::KMS::Key").items()
    assert vault["Properties"]["EncryptionKeyArn"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["DeletionPolicy"] == "Retain" and key["Properties"]["EnableKeyRotation"] is True
    (deny,) = vault["Properties"]["AccessPolicy"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
    assert set(deny["Action"]) == {"backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"}
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
