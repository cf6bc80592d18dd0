"""AuroraDatabase in a bare Stack: writer plus readers, cluster-level encryption, TLS, logs, alarms, backtrack."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_rds as rds
from aws_cdk.assertions import Match, Template

from cdk_data_tier.constructs.aurora_database import AuroraDatabase
from cdk_data_tier.constructs.replicated_database import Observability
from tests.unit.database_fixtures import logical_id, scaffold

AURORA_PG = rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_17_9)
AURORA_MY = rds.DatabaseClusterEngine.aurora_mysql(version=rds.AuroraMysqlEngineVersion.VER_3_10_1)


def _observability(*log_exports: str) -> Observability:
    return Observability(log_exports=log_exports, log_retention=cdk.aws_logs.RetentionDays.ONE_WEEK,
                         monitoring_interval=cdk.Duration.seconds(60),
                         performance_insight_retention=rds.PerformanceInsightRetention.DEFAULT)


def _build(**overrides: Any) -> tuple[cdk.Stack, AuroraDatabase, Template]:
    s = scaffold()
    props = {"engine": AURORA_PG, "readers": 2, "observability": _observability("postgresql"), **overrides}
    db = AuroraDatabase(s.stack, "Db", **s.common(**props))
    return s.stack, db, Template.from_stack(s.stack)


def test_cluster_is_encrypted_private_and_authenticates_with_iam() -> None:
    stack, db, template = _build()
    key_id = stack.get_logical_id(stack.node.find_child("Key").node.default_child)
    template.has_resource_properties("AWS::RDS::DBCluster", {
        "DBClusterIdentifier": "bare-db",
        "Engine": "aurora-postgresql",
        "EngineVersion": "17.9",
        "StorageEncrypted": True,
        "KmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
        "Port": 5433,
        "MasterUsername": "dbadmin",
        "DatabaseName": "app",
        "EnableIAMDatabaseAuthentication": True,
        "EnableCloudwatchLogsExports": ["postgresql"],
        "BackupRetentionPeriod": 7,
        "PreferredBackupWindow": "03:00-03:30",
        "PerformanceInsightsEnabled": True,
        "PerformanceInsightsKmsKeyId": {"Fn::GetAtt": [key_id, "Arn"]},
        "DeletionProtection": False,
    })
    template.has_resource_properties("AWS::RDS::DBClusterParameterGroup", {
        "Family": "aurora-postgresql17", "Parameters": {"rds.force_ssl": "1"}})


def test_writer_and_readers_are_private_monitored_instances() -> None:
    stack, db, template = _build()
    cluster_id = logical_id(stack, db.cluster)
    instances = template.find_resources("AWS::RDS::DBInstance")
    assert sorted(i["Properties"]["DBInstanceIdentifier"] for i in instances.values()) == [
        "bare-db-reader-1", "bare-db-reader-2", "bare-db-writer"]
    for instance in instances.values():
        props = instance["Properties"]
        assert props["DBClusterIdentifier"] == {"Ref": cluster_id}
        assert props["PubliclyAccessible"] is False
        assert props["MonitoringInterval"] == 60
        assert props["EnablePerformanceInsights"] is True
        assert props["PromotionTier"] == (0 if props["DBInstanceIdentifier"].endswith("writer") else 1)


def test_cluster_log_groups_and_reader_lag_in_milliseconds() -> None:
    _, _, template = _build()
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert [g["Properties"]["LogGroupName"] for g in groups.values()] == ["/aws/rds/cluster/bare-db/postgresql"]
    (cluster,) = template.find_resources("AWS::RDS::DBCluster").values()
    assert set(cluster["DependsOn"]) >= set(groups)
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "MetricName": "AuroraReplicaLag", "Threshold": 60_000,
        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "bare-db-reader-1"}]})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "FreeLocalStorage"})
    assert not template.find_resources("AWS::CloudWatch::Alarm", {"Properties": {"MetricName": "FreeStorageSpace"}})


def test_aurora_mysql_backtracks() -> None:
    _, _, template = _build(engine=AURORA_MY, backtrack_window=cdk.Duration.hours(24), readers=0,
                            parameters={"require_secure_transport": "ON"},
                            observability=_observability("audit", "error", "general", "slowquery"))
    template.has_resource_properties("AWS::RDS::DBCluster", {"Engine": "aurora-mysql", "BacktrackWindow": 86400})
    template.has_resource_properties("AWS::RDS::DBClusterParameterGroup", {
        "Parameters": {"require_secure_transport": "ON"}})
    assert len(template.find_resources("AWS::RDS::DBInstance")) == 1


def test_no_readers_means_no_advertised_reader_endpoint() -> None:
    _, db, _ = _build(readers=0)
    assert db.reader_hosts == []
    _, db, _ = _build(readers=1)
    assert len(db.reader_hosts) == 1


def test_snapshot_removal_and_protection_reach_the_cluster() -> None:
    _, _, template = _build(removal_policy=cdk.RemovalPolicy.SNAPSHOT, deletion_protection=True)
    template.has_resource("AWS::RDS::DBCluster", {
        "DeletionPolicy": "Snapshot", "Properties": Match.object_like({"DeletionProtection": True})})
