"""`<env>-Dynamo`: assertions on every security and reliability property, snapshots per environment.

cdk-nag's DynamoDB rules only look at `AWS::DynamoDB::Table`, never at the `AWS::DynamoDB::GlobalTable`
that TableV2 synthesizes, so PITR (DynamoDB.2) and prod deletion protection (DynamoDB.6) are asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match

from tests.fixtures_synth import Synthesized

BIN = Path(sys.executable).parent
CAP = {"min": 5, "max": 100, "target_utilization": 60}
GSI2_READ = {"min": 2, "max": 40, "target_utilization": 50}
# Prod, provisioned: the table's autoscaling, and gsi2 with a read capacity of its own.
PROVISIONED = {"dynamo": {
    "billing": "provisioned", "read_capacity": CAP, "write_capacity": CAP, "capacity_alarm_percent": 80,
    "gsis": [
        {"name": "gsi1", "partition_key": {"name": "gsi1pk"}, "sort_key": {"name": "gsi1sk"}},
        {"name": "gsi2", "partition_key": {"name": "gsi2pk"}, "sort_key": {"name": "gsi2sk", "type": "N"},
         "projection": "INCLUDE", "non_key_attributes": ["status", "total"], "read_capacity": GSI2_READ},
    ],
}}
# Dev with everything optional switched off (`false`, since CDK drops nulls from context).
BARE = {"dynamo": {"sort_key": False, "gsis": [], "lsis": [], "stream": False, "ttl_attribute": False}}


def _table(synth: Synthesized) -> dict[str, Any]:
    tables = synth.template("Dynamo").find_resources("AWS::DynamoDB::GlobalTable")
    assert len(tables) == 1
    return next(iter(tables.values()))


@pytest.fixture(scope="module")
def provisioned(synth_variant) -> Synthesized:
    return synth_variant("prod", PROVISIONED)


@pytest.fixture(scope="module")
def bare(synth_variant) -> Synthesized:
    return synth_variant("dev", BARE)


# --- the project's own DynamoDB.2 / DynamoDB.4 / DynamoDB.6 -----------------------------------------------


def test_prod_table_is_in_an_aws_backup_plan_and_dev_has_none(dev: Synthesized, prod: Synthesized) -> None:
    """DynamoDB.4, which cdk-nag does not check on TableV2."""
    assert not dev.template("Dynamo").find_resources("AWS::Backup::BackupPlan")
    template = prod.template("Dynamo")
    table_id = prod.tier.dynamo.get_logical_id(prod.tier.dynamo.table.table.node.default_child)
    (selection,) = template.find_resources("AWS::Backup::BackupSelection").values()
    assert selection["Properties"]["BackupSelection"]["Resources"] == [{"Fn::GetAtt": [table_id, "Arn"]}]
    (plan,) = template.find_resources("AWS::Backup::BackupPlan").values()
    (rule,) = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    cfg = prod.config.dynamo
    assert rule["Lifecycle"]["DeleteAfterDays"] == cfg.backup_plan_retention_days
    assert rule["ScheduleExpression"] == f"cron(0 {cfg.backup_plan_start_hour_utc} * * ? *)"
    (vault,) = template.find_resources("AWS::Backup::BackupVault").values()
    assert vault["DeletionPolicy"] == "Retain" and "AccessPolicy" in vault["Properties"]


def test_pitr_is_on_with_the_configured_recovery_period(each_env: Synthesized) -> None:
    """DynamoDB.2 (and checkov CKV_AWS_165), which cdk-nag does not check on TableV2."""
    replicas = _table(each_env)["Properties"]["Replicas"]
    assert replicas
    for replica in replicas:
        assert replica["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True,
            "RecoveryPeriodInDays": each_env.config.dynamo.pitr_recovery_days,
        }


def test_prod_keeps_the_table_and_dev_tears_it_down(dev: Synthesized, prod: Synthesized) -> None:
    """DynamoDB.6 in prod; a `cdk destroy` in dev that leaves no table behind."""
    prod_table, dev_table = _table(prod), _table(dev)
    assert prod_table["DeletionPolicy"] == prod_table["UpdateReplacePolicy"] == "Retain"
    assert all(r["DeletionProtectionEnabled"] is True for r in prod_table["Properties"]["Replicas"])
    assert dev_table["DeletionPolicy"] == dev_table["UpdateReplacePolicy"] == "Delete"
    assert all(r["DeletionProtectionEnabled"] is False for r in dev_table["Properties"]["Replicas"])
    for synth in (dev, prod):
        # Keys and topics follow the table, so that dev leaves nothing and prod loses no key its data needs.
        expected = "Retain" if synth.config.dynamo.removal == "retain" else "Delete"
        for key in synth.template("Dynamo").find_resources("AWS::KMS::Key").values():
            assert key["DeletionPolicy"] == expected
    assert prod.tier.dynamo.termination_protection is True
    assert dev.tier.dynamo.termination_protection is False


# --- schema --------------------------------------------------------------------------------------------------


def test_key_schema_attribute_definitions_and_indexes_follow_config(each_env: Synthesized) -> None:
    cfg = each_env.config.dynamo
    assert cfg.sort_key is not None
    props = _table(each_env)["Properties"]
    assert props["KeySchema"] == [{"AttributeName": cfg.partition_key.name, "KeyType": "HASH"},
                                  {"AttributeName": cfg.sort_key.name, "KeyType": "RANGE"}]
    gsis = {g["IndexName"]: g for g in props["GlobalSecondaryIndexes"]}
    assert list(gsis) == [g.name for g in cfg.gsis]
    for g in cfg.gsis:
        schema = [{"AttributeName": g.partition_key.name, "KeyType": "HASH"}]
        if g.sort_key:
            schema.append({"AttributeName": g.sort_key.name, "KeyType": "RANGE"})
        assert gsis[g.name]["KeySchema"] == schema
        assert gsis[g.name]["Projection"]["ProjectionType"] == g.projection
    assert cfg.lsis, "both environments configure an LSI so that the twin and the workloads exercise one"
    lsis = {i["IndexName"]: i for i in props["LocalSecondaryIndexes"]}
    assert list(lsis) == [i.name for i in cfg.lsis]
    for lsi in cfg.lsis:
        assert lsis[lsi.name]["KeySchema"] == [{"AttributeName": cfg.partition_key.name, "KeyType": "HASH"},
                                               {"AttributeName": lsi.sort_key.name, "KeyType": "RANGE"}]
        assert lsis[lsi.name]["Projection"] == {"ProjectionType": lsi.projection}
    definitions = {d["AttributeName"]: d["AttributeType"] for d in props["AttributeDefinitions"]}
    keys = [cfg.partition_key, cfg.sort_key, *(k for g in cfg.gsis for k in (g.partition_key, g.sort_key) if k),
            *(i.sort_key for i in cfg.lsis)]
    assert definitions == {k.name: k.type for k in keys}


def test_on_demand_ttl_and_stream_follow_config(each_env: Synthesized) -> None:
    cfg = each_env.config.dynamo
    props = _table(each_env)["Properties"]
    assert cfg.billing == "on_demand"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert "WriteProvisionedThroughputSettings" not in props
    assert props["TimeToLiveSpecification"] == {"AttributeName": cfg.ttl_attribute, "Enabled": True}
    assert props["StreamSpecification"] == {"StreamViewType": cfg.stream}


def test_encryption_follows_config(dev: Synthesized, prod: Synthesized) -> None:
    assert dev.config.dynamo.encryption == "aws_owned"
    dev_props = _table(dev)["Properties"]
    assert dev_props.get("SSESpecification", {}).get("SSEEnabled", False) is False
    assert all("KMSMasterKeyId" not in r.get("SSESpecification", {}) for r in dev_props["Replicas"])

    assert prod.config.dynamo.encryption == "customer_managed"
    template = prod.template("Dynamo")
    key = Capture()
    template.has_resource_properties("AWS::DynamoDB::GlobalTable", {
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
        "Replicas": [Match.object_like({"SSESpecification": {"KMSMasterKeyId": {"Fn::GetAtt": [key, "Arn"]}}})],
    })
    assert template.to_json()["Resources"][key.as_string()]["Properties"]["EnableKeyRotation"] is True


# --- access --------------------------------------------------------------------------------------------------


def test_app_host_reads_and_writes_through_a_managed_policy_of_this_stack(each_env: Synthesized) -> None:
    template = each_env.template("Dynamo")
    assert template.find_resources("AWS::IAM::Policy") == {}  # no inline policies (HIPAA, NIST)
    policies = template.find_resources("AWS::IAM::ManagedPolicy")
    assert len(policies) == 1
    policy = next(iter(policies.values()))["Properties"]
    # Attached to the app host's role, which the Network stack publishes; Network never names this stack.
    (role,) = policy["Roles"]
    network = each_env.template_json("Network")
    assert role["Fn::GetStackOutput"]["StackName"] == each_env.config.stack_name("Network")
    published = network["Outputs"][role["Fn::GetStackOutput"]["OutputName"]]["Value"]["Ref"]
    assert network["Resources"][published]["Type"] == "AWS::IAM::Role"
    assert each_env.config.stack_name("Dynamo") not in json.dumps(network)
    table_id = next(iter(template.find_resources("AWS::DynamoDB::GlobalTable")))
    statements = policy["PolicyDocument"]["Statement"]
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert len(dynamo) == 1
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
            "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchWriteItem"} <= set(dynamo[0]["Action"])
    assert not any("*" in a or a in {"dynamodb:DeleteTable", "dynamodb:UpdateTable"} for a in dynamo[0]["Action"])
    assert dynamo[0]["Resource"] == [
        {"Fn::GetAtt": [table_id, "Arn"]},
        {"Fn::Join": ["", [{"Fn::GetAtt": [table_id, "Arn"]}, "/index/*"]]},
    ]
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert statement["Resource"] != "*"


# --- alarms --------------------------------------------------------------------------------------------------


def test_on_demand_alarms_notify_an_encrypted_topic(each_env: Synthesized) -> None:
    template = each_env.template("Dynamo")
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    descriptions = sorted(a["Properties"]["AlarmDescription"] for a in alarms.values())
    assert descriptions == ["DynamoDB returned HTTP 500s", "Requests throttled by DynamoDB"]
    topic = next(iter(template.find_resources("AWS::SNS::Topic")))
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == alarm["Properties"]["OKActions"] == [{"Ref": topic}]
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


# --- provisioned ---------------------------------------------------------------------------------------------


def _scaling(cap: dict[str, int]) -> dict[str, Any]:
    return {"MinCapacity": cap["min"], "MaxCapacity": cap["max"],
            "TargetTrackingScalingPolicyConfiguration": {"TargetValue": cap["target_utilization"]}}


def test_provisioned_autoscales_the_table_and_every_gsi_inside_the_global_table(provisioned: Synthesized) -> None:
    template = provisioned.template("Dynamo")
    # TableV2 configures Application Auto Scaling through the GlobalTable itself.
    assert template.find_resources("AWS::ApplicationAutoScaling::ScalableTarget") == {}
    assert template.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy") == {}
    props = _table(provisioned)["Properties"]
    assert props["BillingMode"] == "PROVISIONED"
    assert props["WriteProvisionedThroughputSettings"] == {"WriteCapacityAutoScalingSettings": _scaling(CAP)}
    for gsi in props["GlobalSecondaryIndexes"]:
        assert gsi["WriteProvisionedThroughputSettings"] == {"WriteCapacityAutoScalingSettings": _scaling(CAP)}
    (replica,) = props["Replicas"]
    assert replica["ReadProvisionedThroughputSettings"] == {"ReadCapacityAutoScalingSettings": _scaling(CAP)}
    reads = {g["IndexName"]: g["ReadProvisionedThroughputSettings"]["ReadCapacityAutoScalingSettings"]
             for g in replica["GlobalSecondaryIndexes"]}
    assert reads == {"gsi1": _scaling(CAP), "gsi2": _scaling(GSI2_READ)}
    gsi2 = next(g for g in props["GlobalSecondaryIndexes"] if g["IndexName"] == "gsi2")
    assert gsi2["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["status", "total"]}
    # The provisioned variant keeps prod's data protections.
    assert _table(provisioned)["DeletionPolicy"] == "Retain"
    assert replica["DeletionProtectionEnabled"] is True


def test_provisioned_alarms_on_consumption_near_each_ceiling(provisioned: Synthesized) -> None:
    alarms = provisioned.template("Dynamo").find_resources("AWS::CloudWatch::Alarm")
    thresholds = {a["Properties"]["AlarmDescription"].split(" above")[0]: a["Properties"]["Threshold"]
                  for a in alarms.values() if "capacity" in a["Properties"]["AlarmDescription"]}
    assert thresholds == {
        "Consumed read capacity of the table": 80, "Consumed write capacity of the table": 80,
        "Consumed read capacity of the index gsi1": 80, "Consumed write capacity of the index gsi1": 80,
        "Consumed read capacity of the index gsi2": 32, "Consumed write capacity of the index gsi2": 80,
    }


# --- outputs -------------------------------------------------------------------------------------------------


def test_outputs_are_the_contract(each_env: Synthesized) -> None:
    cfg = each_env.config.dynamo
    assert cfg.sort_key is not None
    outputs = each_env.template_json("Dynamo")["Outputs"]
    table_id = next(iter(each_env.template("Dynamo").find_resources("AWS::DynamoDB::GlobalTable")))
    assert outputs == {
        "TableName": {"Value": {"Ref": table_id}},
        "TableArn": {"Value": {"Fn::GetAtt": [table_id, "Arn"]}},
        "PartitionKey": {"Value": cfg.partition_key.name},
        "SortKey": {"Value": cfg.sort_key.name},
        "GsiNames": {"Value": ",".join(g.name for g in cfg.gsis)},
        "LsiNames": {"Value": ",".join(i.name for i in cfg.lsis)},
        "StreamArn": {"Value": {"Fn::GetAtt": [table_id, "StreamArn"]}},
    }


def test_a_bare_table_leaves_out_the_outputs_it_has_no_value_for(bare: Synthesized) -> None:
    outputs = bare.template_json("Dynamo")["Outputs"]
    assert set(outputs) == {"TableName", "TableArn", "PartitionKey"}
    props = _table(bare)["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    for absent in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification",
                   "TimeToLiveSpecification"):
        assert absent not in props
    # PITR has no off switch.
    assert props["Replicas"][0]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


# --- the file gates on the variants (the compliance suite covers dev and prod) -------------------------------


@pytest.mark.parametrize("variant", ["provisioned", "bare"])
def test_variants_pass_cfn_lint_and_checkov(variant: str, request: pytest.FixtureRequest) -> None:
    synth: Synthesized = request.getfixturevalue(variant)
    path = synth.outdir / f"{synth.config.stack_name('Dynamo')}.template.json"
    lint = subprocess.run([str(BIN / "cfn-lint"), "--", str(path)], capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0 and lint.stdout.strip() == "", lint.stdout + lint.stderr
    checkov = subprocess.run([str(BIN / "checkov"), "-f", str(path), "--framework", "cloudformation",
                              "--skip-download", "--compact", "-o", "json"],
                             capture_output=True, text=True, timeout=300)
    report = json.loads(checkov.stdout)
    assert report["summary"]["failed"] == 0, report["results"]["failed_checks"]
    assert report["summary"]["parsing_errors"] == 0
    passed = {c["check_id"] for c in report["results"]["passed_checks"]}
    assert "CKV_AWS_165" in passed  # PITR on the GlobalTable


# --- snapshots -----------------------------------------------------------------------------------------------


def test_snapshot(each_env: Synthesized, snapshot) -> None:
    assert each_env.template_json("Dynamo") == snapshot
