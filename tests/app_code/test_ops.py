"""Backups and point-in-time restore against a real moto server (teardown verification: test_teardown.py)."""

from __future__ import annotations

import uuid

from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.ops.backup import backup
from cdk_data_tier.app.ops.restore import restore_table_to_latest
from tests.app_code.conftest import REGION, cdk_outputs


def test_backup_and_point_in_time_restore_of_the_table(aws, outputs_file):
    env = f"t{uuid.uuid4().hex[:6]}"
    ddb, rds = aws.client("dynamodb"), aws.client("rds")
    table = f"{env}-catalog"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    ddb.update_continuous_backups(TableName=table,
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    ddb.put_item(TableName=table, Item={"pk": {"S": "PRODUCT#1"}})
    rds.create_db_instance(DBInstanceIdentifier=f"{env}-primary", Engine="postgres", DBInstanceClass="db.t3.micro",
                           MasterUsername="dbadmin", MasterUserPassword="not-a-real-one-1", AllocatedStorage=20)
    data = cdk_outputs(env, Dynamo={"TableName": table},
                       Database={"WriterEndpoint": f"{env}-primary.c9akciq32.{REGION}.rds.amazonaws.com"})
    endpoints = Endpoints.from_outputs_file(outputs_file(data))
    endpoints.aws = aws
    made = {b.what: b for b in backup(endpoints, label="nightly")}
    assert made["dynamodb backup"].id.startswith(f"arn:aws:dynamodb:{REGION}:") and \
        made["dynamodb backup"].detail == "PITR ENABLED"
    assert made["rds snapshot"].id == f"{env}-primary-nightly"
    assert rds.describe_db_snapshots(DBSnapshotIdentifier=f"{env}-primary-nightly")["DBSnapshots"]
    restored = restore_table_to_latest(endpoints, f"{table}-restored")
    assert restored["TableStatus"] == "ACTIVE"
    assert ddb.get_item(TableName=f"{table}-restored", Key={"pk": {"S": "PRODUCT#1"}}).get("Item")
