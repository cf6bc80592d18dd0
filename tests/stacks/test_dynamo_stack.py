"""`<env>-Dynamo`: the project's own assertions (cdk-nag's DynamoDB rules skip AWS::DynamoDB::GlobalTable)."""

from __future__ import annotations

from typing import Any

from tests.fixtures_synth import Synthesized


def _table(synth: Synthesized) -> dict[str, Any]:
    tables = synth.template("Dynamo").find_resources("AWS::DynamoDB::GlobalTable")
    assert len(tables) == 1
    return next(iter(tables.values()))


def test_pitr_is_on_everywhere(each_env: Synthesized) -> None:
    """DynamoDB.2 / CKV_AWS_165, which cdk-nag does not check on TableV2."""
    for replica in _table(each_env)["Properties"]["Replicas"]:
        spec = replica["PointInTimeRecoverySpecification"]
        assert spec["PointInTimeRecoveryEnabled"] is True
        assert spec["RecoveryPeriodInDays"] == each_env.config.dynamo.pitr_recovery_days


def test_prod_keeps_the_table_and_dev_tears_it_down(dev: Synthesized, prod: Synthesized) -> None:
    """DynamoDB.6 in prod; a clean `cdk destroy` in dev."""
    prod_table, dev_table = _table(prod), _table(dev)
    assert prod_table["DeletionPolicy"] == prod_table["UpdateReplacePolicy"] == "Retain"
    assert all(r["DeletionProtectionEnabled"] for r in prod_table["Properties"]["Replicas"])
    assert dev_table["DeletionPolicy"] == "Delete"
    assert not any(r["DeletionProtectionEnabled"] for r in dev_table["Properties"]["Replicas"])
    assert prod.template_json("Dynamo").get("Description")
    assert prod.tier.dynamo.termination_protection is True
    assert dev.tier.dynamo.termination_protection is False


def test_key_schema_and_indexes_follow_config(each_env: Synthesized) -> None:
    cfg = each_env.config.dynamo
    props = _table(each_env)["Properties"]
    assert props["KeySchema"][0] == {"AttributeName": cfg.partition_key.name, "KeyType": "HASH"}
    assert [g["IndexName"] for g in props["GlobalSecondaryIndexes"]] == [g.name for g in cfg.gsis]
    assert [i["IndexName"] for i in props.get("LocalSecondaryIndexes", [])] == [i.name for i in cfg.lsis]
    for lsi in props.get("LocalSecondaryIndexes", []):
        assert lsi["KeySchema"][0] == {"AttributeName": cfg.partition_key.name, "KeyType": "HASH"}
    assert props["TimeToLiveSpecification"] == {"AttributeName": cfg.ttl_attribute, "Enabled": True}
    assert props["StreamSpecification"] == {"StreamViewType": cfg.stream}


def test_encryption_follows_config(dev: Synthesized, prod: Synthesized) -> None:
    assert "KMSMasterKeyId" not in _table(dev)["Properties"]["Replicas"][0].get("SSESpecification", {})
    assert "KMSMasterKeyId" in _table(prod)["Properties"]["Replicas"][0]["SSESpecification"]


def test_app_host_gets_data_access_but_no_admin(each_env: Synthesized) -> None:
    policies = each_env.template("Dynamo").find_resources("AWS::IAM::ManagedPolicy")
    actions = [a for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]
               for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    assert "dynamodb:PutItem" in actions and "dynamodb:Query" in actions
    assert "dynamodb:*" not in actions and "dynamodb:DeleteTable" not in actions


def test_provisioned_variant_autoscales_and_alarms_on_capacity(synth_variant) -> None:
    cap = {"min": 5, "max": 100, "target_utilization": 70}
    synth = synth_variant("prod", {"dynamo": {"billing": "provisioned", "read_capacity": cap, "write_capacity": cap}})
    props = _table(synth)["Properties"]
    assert props["BillingMode"] == "PROVISIONED"
    for gsi in props["GlobalSecondaryIndexes"]:
        assert gsi["WriteProvisionedThroughputSettings"]["WriteCapacityAutoScalingSettings"]["MaxCapacity"] == 100
    alarms = synth.template("Dynamo").find_resources("AWS::CloudWatch::Alarm")
    assert sum("capacity" in a["Properties"].get("AlarmDescription", "") for a in alarms.values()) == 2


def test_outputs_are_the_contract(each_env: Synthesized) -> None:
    outputs = each_env.template_json("Dynamo")["Outputs"]
    assert {"TableName", "TableArn", "GsiNames", "LsiNames", "StreamArn", "PartitionKey", "SortKey"} <= set(outputs)
    assert outputs["GsiNames"]["Value"] == ",".join(g.name for g in each_env.config.dynamo.gsis)


def test_snapshot(each_env: Synthesized, snapshot) -> None:
    assert each_env.template_json("Dynamo") == snapshot
