"""`<env>-Database`: security and reliability properties per environment and per engine, the outputs
contract, snapshots, and the linters on every engine variant (the gate test covers dev and prod only).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match

from tests.fixtures_synth import Synthesized

BIN = Path(sys.executable).parent
_AURORA = {"multi_az": None, "allocated_storage_gib": None, "max_allocated_storage_gib": None}
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "dev-mysql": ("dev", {"database": {"engine": "mysql", "engine_version": "8.4.8", "port": 3307}}),
    "dev-aurora-postgresql": ("dev", {"database": {"engine": "aurora-postgresql", **_AURORA}}),
    "prod-aurora-mysql": ("prod", {"database": {"engine": "aurora-mysql", "engine_version": "8.0.mysql_aurora.3.10.1",
                                                "port": 3307, "read_replicas": 1, **_AURORA}}),
    "dev-no-replicas": ("dev", {"database": {"read_replicas": 0, "alarm_topic": False}}),
}


@pytest.fixture(scope="session", params=list(VARIANTS), ids=list(VARIANTS))
def variant(request: pytest.FixtureRequest, synth_variant: Callable[..., Synthesized]) -> Synthesized:
    env, overrides = VARIANTS[request.param]
    # The compliance gate runs here too: synth raises on any unacknowledged finding in the variant.
    return synth_variant(env, overrides)


@pytest.fixture(scope="session", params=["dev", "prod", *VARIANTS], ids=["dev", "prod", *VARIANTS])
def any_database(request: pytest.FixtureRequest, synth_variant: Callable[..., Synthesized]) -> Synthesized:
    if request.param in ("dev", "prod"):
        return request.getfixturevalue(request.param)
    env, overrides = VARIANTS[request.param]
    return synth_variant(env, overrides)


def _resources(synth: Synthesized, kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synth.template_json("Database")["Resources"].items() if v["Type"] == kind}


def _writer(synth: Synthesized) -> dict[str, Any]:
    (writer,) = [i for i in _resources(synth, "AWS::RDS::DBInstance").values()
                 if "SourceDBInstanceIdentifier" not in i["Properties"]]
    return writer


def _replicas(synth: Synthesized) -> list[dict[str, Any]]:
    return [i for i in _resources(synth, "AWS::RDS::DBInstance").values()
            if "SourceDBInstanceIdentifier" in i["Properties"]]


def _id(synth: Synthesized, construct: Any) -> str:
    stack = synth.tier.database
    return stack.get_logical_id(construct.node.default_child)


# --- RDS instance engines (dev and prod are PostgreSQL) ------------------------------------------------------


def test_multi_az_and_replicas_follow_config(each_env: Synthesized) -> None:
    cfg = each_env.config.database
    writer, replicas = _writer(each_env), _replicas(each_env)
    assert writer["Properties"]["MultiAZ"] is bool(cfg.multi_az)
    assert len(replicas) == cfg.read_replicas
    writer_id = _id(each_env, each_env.tier.database.database.writer)
    for replica in replicas:
        assert {"Ref": writer_id} in replica["Properties"]["SourceDBInstanceIdentifier"]["Fn::Join"][1]
        assert replica["Properties"]["MultiAZ"] is bool(cfg.multi_az)
    assert each_env.config.name == "dev" or cfg.multi_az is True


def test_storage_is_encrypted_with_the_stack_key_and_replicas_inherit_it(each_env: Synthesized) -> None:
    key_id = _id(each_env, each_env.tier.database.key)
    props = _writer(each_env)["Properties"]
    assert props["StorageEncrypted"] is True
    assert props["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert props["PerformanceInsightsKMSKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    for replica in _replicas(each_env):
        # CloudFormation's schema excludes StorageEncrypted when SourceDBInstanceIdentifier is set (F3020).
        assert "StorageEncrypted" not in replica["Properties"] and "KmsKeyId" not in replica["Properties"]
    assert _resources(each_env, "AWS::KMS::Key")[key_id]["Properties"]["EnableKeyRotation"] is True
    secrets = _resources(each_env, "AWS::SecretsManager::Secret").values()
    assert len(secrets) == 2 and all(s["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]} for s in secrets)


def test_no_public_access_nondefault_port_and_admin_name(each_env: Synthesized) -> None:
    cfg = each_env.config.database
    template = each_env.template("Database")
    template.has_resource_properties("AWS::RDS::DBInstance", {
        "PubliclyAccessible": False, "Port": str(cfg.port), "MasterUsername": cfg.admin_username,
        "EnableIAMDatabaseAuthentication": True, "DBName": cfg.database_name})
    assert cfg.port != 5432 and cfg.admin_username not in ("postgres", "admin")
    for instance in _resources(each_env, "AWS::RDS::DBInstance").values():
        assert instance["Properties"]["PubliclyAccessible"] is False
        assert instance["Properties"]["Port"] == str(cfg.port)
    secret = _resources(each_env, "AWS::SecretsManager::Secret")[_id(each_env, each_env.tier.database.secret)]
    template_json = json.loads(secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"])
    assert template_json == {"username": cfg.admin_username, "dbname": cfg.database_name}


def test_admin_secret_rotates_single_user_from_the_isolated_subnets(each_env: Synthesized) -> None:
    template = each_env.template("Database")
    secret_target = Capture()
    template.has_resource_properties("AWS::SecretsManager::RotationSchedule", {
        "SecretId": {"Ref": secret_target},
        "RotationRules": {"ScheduleExpression": f"rate({each_env.config.database.secret_rotation_days} days)"}})
    assert secret_target.as_string().startswith("SecretAttachment")
    (app,) = [a for a in _resources(each_env, "AWS::Serverless::Application").values()
              if "masterSecretArn" not in a["Properties"]["Parameters"]]
    assert "PostgreSQLRotationSingleUser" in json.dumps(each_env.template_json("Database")["Mappings"])
    assert "dataSubnet" in json.dumps(app["Properties"]["Parameters"]["vpcSubnetIds"])


def _app_secret(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    secret_id = _id(synth, synth.tier.database.app_secret)
    return secret_id, _resources(synth, "AWS::SecretsManager::Secret")[secret_id]


def test_app_user_secret_is_its_own_encrypted_rotated_multi_user_secret(any_database: Synthesized) -> None:
    cfg = any_database.config.database
    database = any_database.tier.database
    secret_id, secret = _app_secret(any_database)
    admin_id = _id(any_database, database.secret)
    assert secret_id != admin_id
    assert secret["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [_id(any_database, database.key), "Arn"]}
    template_parts = secret["Properties"]["GenerateSecretString"]["SecretStringTemplate"]["Fn::Join"][1]
    assert json.loads(template_parts[0] + "x" + template_parts[2]) == {
        "username": cfg.app_username, "dbname": cfg.database_name, "masterarn": "x"}
    assert template_parts[1] == {"Ref": admin_id}
    # Attached to the writer (or the cluster), so it carries the endpoint the rotation and app_code need.
    attachments = [a["Properties"] for a in _resources(any_database, "AWS::SecretsManager::SecretTargetAttachment")
                   .values() if a["Properties"]["SecretId"] == {"Ref": secret_id}]
    (attachment,) = attachments
    assert attachment["TargetType"] in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster")
    schedules = [s["Properties"] for s in _resources(any_database, "AWS::SecretsManager::RotationSchedule").values()]
    assert len(schedules) == 2
    (app_schedule,) = [s for s in schedules if s["SecretId"]["Ref"].startswith("AppSecretAttachment")]
    assert app_schedule["RotationRules"] == {"ScheduleExpression": f"rate({cfg.secret_rotation_days} days)"}
    function = app_schedule["RotationLambdaARN"]["Fn::GetAtt"][0]
    multi = _resources(any_database, "AWS::Serverless::Application")[function]["Properties"]["Parameters"]
    assert multi["masterSecretArn"]["Ref"].startswith("SecretAttachment")
    mappings = json.dumps(any_database.template_json("Database")["Mappings"])
    family = "PostgreSQL" if "postgres" in cfg.engine else "MySQL"
    assert f"{family}RotationMultiUser" in mappings
    outputs = any_database.template_json("Database")["Outputs"]
    assert outputs["AppSecretArn"]["Value"] == {"Ref": secret_id}
    assert outputs["SecretArn"]["Value"] == {"Ref": admin_id}


def test_backups_and_windows_follow_config(each_env: Synthesized) -> None:
    cfg = each_env.config.database
    each_env.template("Database").has_resource_properties("AWS::RDS::DBInstance", {
        "BackupRetentionPeriod": cfg.backup_retention_days, "PreferredBackupWindow": cfg.backup_window,
        "PreferredMaintenanceWindow": cfg.maintenance_window, "CopyTagsToSnapshot": True})


def test_prod_keeps_data_and_dev_tears_down(dev: Synthesized, prod: Synthesized) -> None:
    prod_writer, dev_writer = _writer(prod), _writer(dev)
    assert prod_writer["DeletionPolicy"] == prod_writer["UpdateReplacePolicy"] == "Snapshot"
    assert prod_writer["Properties"]["DeletionProtection"] is True
    assert prod_writer["Properties"]["DeleteAutomatedBackups"] is False
    assert dev_writer["DeletionPolicy"] == "Delete"
    assert dev_writer["Properties"]["DeletionProtection"] is False
    assert dev_writer["Properties"]["DeleteAutomatedBackups"] is True
    # What a final snapshot needs to be restored (its key, the password) outlives the prod database.
    key_id, secret_id = _id(prod, prod.tier.database.key), _id(prod, prod.tier.database.secret)
    assert _resources(prod, "AWS::KMS::Key")[key_id]["DeletionPolicy"] == "Retain"
    assert _resources(prod, "AWS::SecretsManager::Secret")[secret_id]["DeletionPolicy"] == "Retain"
    assert _resources(prod, "AWS::SecretsManager::Secret")[_id(prod, prod.tier.database.app_secret)][
        "DeletionPolicy"] == "Retain"
    for kind in ("AWS::KMS::Key", "AWS::SecretsManager::Secret", "AWS::RDS::DBSubnetGroup"):
        assert {r.get("DeletionPolicy", "Delete") for r in _resources(dev, kind).values()} == {"Delete"}
    assert all(r["DeletionPolicy"] == "Retain" for r in _resources(prod, "AWS::Logs::LogGroup").values())
    assert all(r["DeletionPolicy"] == "Delete" for r in _resources(dev, "AWS::Logs::LogGroup").values())
    assert prod.tier.database.termination_protection is True
    assert dev.tier.database.termination_protection is False


def test_prod_is_in_an_aws_backup_plan(dev: Synthesized, prod: Synthesized) -> None:
    assert not _resources(dev, "AWS::Backup::BackupPlan")
    writer_id = _id(prod, prod.tier.database.database.writer)
    (selection,) = _resources(prod, "AWS::Backup::BackupSelection").values()
    assert writer_id in json.dumps(selection["Properties"]["BackupSelection"]["Resources"])
    (plan,) = _resources(prod, "AWS::Backup::BackupPlan").values()
    (rule,) = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert rule["Lifecycle"]["DeleteAfterDays"] == prod.config.database.backup_plan_retention_days
    assert rule["ScheduleExpression"] == f"cron(0 {prod.config.database_backup_plan_hour} * * ? *)"
    # A vault with a key of its own (not the data key), whose recovery points nobody may delete.
    (vault,) = _resources(prod, "AWS::Backup::BackupVault").values()
    vault_key = vault["Properties"]["EncryptionKeyArn"]["Fn::GetAtt"][0]
    assert vault_key != _id(prod, prod.tier.database.key)
    assert _resources(prod, "AWS::KMS::Key")[vault_key]["DeletionPolicy"] == "Retain"
    (deny,) = vault["Properties"]["AccessPolicy"]["Statement"]
    assert (deny["Effect"], deny["Principal"]) == ("Deny", {"AWS": "*"})
    assert "backup:DeleteRecoveryPoint" in deny["Action"]


def test_security_group_admits_the_port_from_bastion_app_and_rotation_only(each_env: Synthesized) -> None:
    network, database = each_env.tier.network, each_env.tier.database
    db_sg = _id(each_env, database.security_group)
    rules = [r["Properties"] for r in _resources(each_env, "AWS::EC2::SecurityGroupIngress").values()
             if r["Properties"]["GroupId"] == {"Fn::GetAtt": [db_sg, "GroupId"]}]
    network_outputs = each_env.template_json("Network")["Outputs"]

    def source(rule: dict[str, Any]) -> str:
        ref = rule["SourceSecurityGroupId"]
        if "Fn::GetStackOutput" in ref:  # a group of the Network stack, through its published output
            value = network_outputs[ref["Fn::GetStackOutput"]["OutputName"]]["Value"]
            return "network:" + value["Fn::GetAtt"][0]
        return "local:" + ref["Fn::GetAtt"][0]

    port = each_env.config.database.port
    assert all(r["IpProtocol"] == "tcp" and r["FromPort"] == r["ToPort"] == port for r in rules)
    assert "CidrIp" not in json.dumps(rules)
    assert sorted(source(r) for r in rules) == sorted([
        "network:" + network.get_logical_id(network.bastion_security_group.node.default_child),
        "network:" + network.get_logical_id(network.app_security_group.node.default_child),
        "local:" + _id(each_env, database.rotation.security_group),
    ])
    (sg,) = [s for k, s in _resources(each_env, "AWS::EC2::SecurityGroup").items() if k == db_sg]
    assert "0.0.0.0/0" not in json.dumps(sg)


def test_tls_is_forced_ddl_and_roles_are_audited_and_logs_are_exported(each_env: Synthesized) -> None:
    template = each_env.template("Database")
    template.has_resource_properties("AWS::RDS::DBParameterGroup", {
        "Family": "postgres17", "Parameters": Match.object_like({
            "rds.force_ssl": "1", "shared_preload_libraries": "pg_stat_statements,pgaudit", "pgaudit.log": "ddl,role"})})
    template.has_resource_properties("AWS::RDS::DBInstance", {
        "EnableCloudwatchLogsExports": ["postgresql", "upgrade", "iam-db-auth-error"],
        "MonitoringInterval": each_env.config.database.monitoring_interval_seconds,
        "EnablePerformanceInsights": True, "CACertificateIdentifier": "rds-ca-rsa2048-g1"})
    names = {g["Properties"]["LogGroupName"] for g in _resources(each_env, "AWS::Logs::LogGroup").values()}
    writer = f"/aws/rds/instance/{each_env.config.name}-database-writer"
    assert {f"{writer}/postgresql", f"{writer}/iam-db-auth-error"} <= names
    for group in _resources(each_env, "AWS::Logs::LogGroup").values():
        assert "KmsKeyId" in group["Properties"]


def test_alarms_use_config_thresholds_and_notify_the_topic(each_env: Synthesized) -> None:
    alarms_cfg = each_env.config.database.alarms
    alarms = _resources(each_env, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 4 * (1 + each_env.config.database.read_replicas) + each_env.config.database.read_replicas
    by_metric = {a["Properties"]["MetricName"]: a["Properties"] for a in alarms.values()}
    assert by_metric["CPUUtilization"]["Threshold"] == alarms_cfg.cpu_percent
    assert by_metric["ReplicaLag"]["Threshold"] == alarms_cfg.replica_lag_seconds
    assert by_metric["DatabaseConnections"]["Threshold"] == alarms_cfg.connections
    assert by_metric["FreeableMemory"]["Threshold"] == alarms_cfg.freeable_memory_mib * 1024**2
    (topic_id,) = _resources(each_env, "AWS::SNS::Topic")
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    (topic,) = _resources(each_env, "AWS::SNS::Topic").values()
    assert "KmsMasterKeyId" in topic["Properties"]


def _policy(synth: Synthesized, prefix: str) -> list[dict[str, Any]]:
    (policy,) = [p for k, p in _resources(synth, "AWS::IAM::ManagedPolicy").items() if k.startswith(prefix)]
    # Attached to a Network role by name, in this stack: the Network stack does not depend on this one.
    assert "Fn::GetStackOutput" in json.dumps(policy["Properties"]["Roles"])
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_app_host_reads_the_app_secret_and_connects_as_the_iam_user(each_env: Synthesized) -> None:
    database = each_env.tier.database
    statements = _policy(each_env, "AppHostAccess")
    text = json.dumps(statements)
    assert '"*"' not in text and "secretsmanager:*" not in text and "rds-db:*" not in text
    (secret_stmt,) = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
    app_secret = {"Ref": _id(each_env, database.app_secret)}
    assert secret_stmt["Resource"] == app_secret
    (decrypt,) = [s for s in statements if s["Action"] == "kms:Decrypt"]
    assert decrypt["Resource"] == {"Fn::GetAtt": [_id(each_env, database.key), "Arn"]}
    assert decrypt["Condition"] == {"StringEquals": {
        "kms:ViaService": f"secretsmanager.{each_env.config.region}.amazonaws.com",
        "kms:EncryptionContext:SecretARN": app_secret}}
    connect = [s for s in statements if s["Action"] == "rds-db:connect"]
    arns = [r for s in connect for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    assert len(arns) == 1 + each_env.config.database.read_replicas
    assert all(a["Fn::Join"][1][-1] == f"/{each_env.config.database.iam_auth_user}" for a in arns)


def test_the_bastion_role_runs_the_bootstrap_with_both_secrets(each_env: Synthesized) -> None:
    database = each_env.tier.database
    statements = _policy(each_env, "BootstrapAccess")
    (read,) = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
    secrets = [{"Ref": _id(each_env, database.secret)}, {"Ref": _id(each_env, database.app_secret)}]
    assert sorted(read["Resource"], key=json.dumps) == sorted(secrets, key=json.dumps)
    contexts = [s["Condition"]["StringEquals"]["kms:EncryptionContext:SecretARN"] for s in statements
                if s["Action"] == "kms:Decrypt"]
    assert sorted(contexts, key=json.dumps) == sorted(secrets, key=json.dumps)
    network_outputs = each_env.template_json("Network")["Outputs"]
    (policy,) = [p for k, p in _resources(each_env, "AWS::IAM::ManagedPolicy").items() if k.startswith("Bootstrap")]
    role_output = policy["Properties"]["Roles"][0]["Fn::GetStackOutput"]["OutputName"]
    assert network_outputs[role_output]["Value"]["Ref"].startswith("BastionHostRole")


def test_outputs_are_the_contract(each_env: Synthesized) -> None:
    outputs = each_env.template_json("Database")["Outputs"]
    cfg = each_env.config.database
    assert {"WriterEndpoint", "ReaderEndpoints", "Port", "SecretArn", "AppSecretArn", "IamAuthUser", "Engine",
            "DatabaseName"} <= set(outputs)
    assert outputs["Port"]["Value"] == str(cfg.port)
    assert outputs["IamAuthUser"]["Value"] == cfg.iam_auth_user  # what the bootstrap creates for IAM login
    assert outputs["Engine"]["Value"] == "postgres"
    assert outputs["DatabaseName"]["Value"] == cfg.database_name
    assert outputs["WriterEndpoint"]["Value"]["Fn::GetAtt"][1] == "Endpoint.Address"
    readers = outputs["ReaderEndpoints"]["Value"]
    hosts = readers["Fn::Join"][1] if "Fn::Join" in readers else [readers]
    assert [h for h in hosts if h != ","] and len([h for h in hosts if isinstance(h, dict)]) == cfg.read_replicas


def test_snapshot(each_env: Synthesized, snapshot) -> None:
    assert each_env.template_json("Database") == snapshot


# --- engine variants -----------------------------------------------------------------------------------------


def test_variant_outputs_name_its_engine(variant: Synthesized) -> None:
    cfg = variant.config.database
    outputs = variant.template_json("Database")["Outputs"]
    assert outputs["Engine"]["Value"] == cfg.engine
    assert outputs["Port"]["Value"] == str(cfg.port)
    # No readers means no ReaderEndpoints output: CloudFormation rejects an empty value.
    assert ("ReaderEndpoints" in outputs) is (cfg.read_replicas > 0)


def test_mysql_forces_tls_and_audits(synth_variant: Callable[..., Synthesized]) -> None:
    synth = synth_variant(*VARIANTS["dev-mysql"])
    template = synth.template("Database")
    template.has_resource_properties("AWS::RDS::DBParameterGroup", {
        "Family": "mysql8.4", "Parameters": Match.object_like({"require_secure_transport": "1", "slow_query_log": "1"})})
    template.has_resource_properties("AWS::RDS::OptionGroup", {
        "EngineName": "mysql", "OptionConfigurations": [Match.object_like({"OptionName": "MARIADB_AUDIT_PLUGIN"})]})
    template.has_resource_properties("AWS::RDS::DBInstance", {
        "Engine": "mysql", "EngineVersion": "8.4.8", "Port": "3307", "MasterUsername": "dbadmin",
        "EnableCloudwatchLogsExports": ["audit", "error", "general", "slowquery"]})
    assert "MySQLRotationSingleUser" in json.dumps(synth.template_json("Database")["Mappings"])
    assert len(_replicas(synth)) == 1


@pytest.mark.parametrize("name", ["dev-aurora-postgresql", "prod-aurora-mysql"])
def test_aurora_builds_a_cluster_with_the_same_guarantees(name: str,
                                                         synth_variant: Callable[..., Synthesized]) -> None:
    synth = synth_variant(*VARIANTS[name])
    cfg = synth.config.database
    database = synth.tier.database
    key_id = _id(synth, database.key)
    (cluster_id, cluster), = _resources(synth, "AWS::RDS::DBCluster").items()
    props = cluster["Properties"]
    assert props["Engine"] == cfg.engine and props["EngineVersion"] == cfg.engine_version
    assert props["StorageEncrypted"] is True and props["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert props["Port"] == cfg.port and props["MasterUsername"] == cfg.admin_username
    assert props["EnableIAMDatabaseAuthentication"] is True
    assert props["BackupRetentionPeriod"] == cfg.backup_retention_days
    assert props["DeletionProtection"] is cfg.deletion_protection
    assert props["DBSubnetGroupName"] == {"Ref": "SubnetGroup"}
    assert props["VpcSecurityGroupIds"] == [{"Fn::GetAtt": [_id(synth, database.security_group), "GroupId"]}]
    assert cluster["DeletionPolicy"] == ("Snapshot" if cfg.removal == "snapshot" else "Delete")
    instances = _resources(synth, "AWS::RDS::DBInstance")
    assert len(instances) == 1 + cfg.read_replicas
    assert all(i["Properties"]["DBClusterIdentifier"] == {"Ref": cluster_id} for i in instances.values())
    assert all(i["Properties"]["PubliclyAccessible"] is False for i in instances.values())
    tls = {"rds.force_ssl": "1", "shared_preload_libraries": "pg_stat_statements,pgaudit", "pgaudit.log": "ddl,role"
           } if cfg.engine == "aurora-postgresql" else {"require_secure_transport": "ON", "server_audit_logging": "1"}
    synth.template("Database").has_resource_properties("AWS::RDS::DBClusterParameterGroup", {
        "Parameters": Match.object_like(tls)})
    if cfg.engine == "aurora-mysql":
        assert props["BacktrackWindow"] == 86400
    outputs = synth.template_json("Database")["Outputs"]
    assert outputs["WriterEndpoint"]["Value"] == {"Fn::GetAtt": [cluster_id, "Endpoint.Address"]}
    assert outputs["ReaderEndpoints"]["Value"] == {"Fn::GetAtt": [cluster_id, "ReadEndpoint.Address"]}
    schedules = _resources(synth, "AWS::SecretsManager::RotationSchedule").values()
    assert len(schedules) == 2  # the admin's and the app user's
    assert all(s["Properties"]["RotationRules"]["ScheduleExpression"].startswith("rate(") for s in schedules)


def test_variant_templates_pass_cfn_lint_and_checkov(variant: Synthesized) -> None:
    path = str(variant.outdir / f"{variant.config.stack_name('Database')}.template.json")
    lint = subprocess.run([str(BIN / "cfn-lint"), "--", path], capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0 and lint.stdout.strip() == "", lint.stdout + lint.stderr
    checkov = subprocess.run([str(BIN / "checkov"), "--framework", "cloudformation", "--skip-download", "--quiet",
                              "--compact", "-o", "json", "-f", path], capture_output=True, text=True, timeout=600)
    report = json.loads(checkov.stdout)
    assert report["summary"]["failed"] == 0 and report["summary"]["parsing_errors"] == 0, checkov.stdout[-3000:]
