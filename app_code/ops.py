"""Operations on a deployed environment: on-demand backups, a point-in-time restore of the table, and teardown
verification (what `cdk destroy` left behind).

Teardown verification asks the Resource Groups Tagging API for anything still tagged
`aws:cloudformation:stack-name = <env>-<Stack>`: CloudFormation tags every resource it creates that supports
tags, and resources kept by a RETAIN or SNAPSHOT policy keep the tag after the stack is gone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from app_code.endpoints import STACK_SUFFIXES, AwsTarget, Endpoints


@dataclass(frozen=True)
class Leftover:
    kind: str
    name: str
    stack: str


def teardown_report(env: str, aws: AwsTarget) -> list[Leftover]:
    stacks = [f"{env}-{suffix}" for suffix in STACK_SUFFIXES]
    left: list[Leftover] = []
    cfn = aws.client("cloudformation")
    for name in stacks:
        try:
            for stack in cfn.describe_stacks(StackName=name)["Stacks"]:
                if stack["StackStatus"] != "DELETE_COMPLETE":
                    left.append(Leftover("AWS::CloudFormation::Stack", name, f"{name} ({stack['StackStatus']})"))
        except cfn.exceptions.ClientError as exc:
            if "does not exist" not in str(exc):
                raise
    tagging = aws.client("resourcegroupstaggingapi")
    pages = tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": "aws:cloudformation:stack-name", "Values": stacks}])
    for page in pages:
        for res in page["ResourceTagMappingList"]:
            arn = res["ResourceARN"]
            stack = next(t["Value"] for t in res["Tags"] if t["Key"] == "aws:cloudformation:stack-name")
            left.append(Leftover(":".join(arn.split(":")[2:3]) or "unknown", arn, stack))
    return left


@dataclass(frozen=True)
class Backup:
    what: str
    id: str
    detail: str


def backup(endpoints: Endpoints, *, label: str | None = None) -> list[Backup]:
    """An on-demand DynamoDB backup and an RDS snapshot (instance or Aurora cluster); PITR status alongside."""
    label = label or datetime.now(UTC).strftime("app-code-%Y%m%d-%H%M%S")
    made: list[Backup] = []
    if f"{endpoints.env}-Dynamo" in endpoints.stacks:
        table = endpoints.dynamo.table_name
        ddb = endpoints.aws.client("dynamodb")
        arn = ddb.create_backup(TableName=table, BackupName=f"{table}-{label}"[:255])["BackupDetails"]["BackupArn"]
        pitr = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
        status = pitr.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus", "DISABLED")
        made.append(Backup("dynamodb backup", arn, f"PITR {status}"))
    if f"{endpoints.env}-Database" in endpoints.stacks:
        db = endpoints.database
        rds = endpoints.aws.client("rds")
        # RDS endpoints are <identifier>.<hash>.<region>.rds.amazonaws.com (Aurora: <cluster>.cluster-<hash>...).
        identifier = db.writer.host.split(".")[0]
        if db.engine.startswith("aurora"):
            snap = rds.create_db_cluster_snapshot(DBClusterIdentifier=identifier,
                                                  DBClusterSnapshotIdentifier=f"{identifier}-{label}")
            made.append(Backup("rds cluster snapshot", snap["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"],
                               snap["DBClusterSnapshot"].get("Status", "")))
        else:
            snap = rds.create_db_snapshot(DBInstanceIdentifier=identifier, DBSnapshotIdentifier=f"{identifier}-{label}")
            made.append(Backup("rds snapshot", snap["DBSnapshot"]["DBSnapshotIdentifier"],
                               snap["DBSnapshot"].get("Status", "")))
    return made


def restore_table_to_latest(endpoints: Endpoints, target: str, *, timeout: float = 600) -> dict:
    """Point-in-time restore of the table into `target` (a new table), waiting until it is ACTIVE."""
    ddb = endpoints.aws.client("dynamodb")
    ddb.restore_table_to_point_in_time(SourceTableName=endpoints.dynamo.table_name, TargetTableName=target,
                                       UseLatestRestorableTime=True)
    deadline = time.monotonic() + timeout
    while True:
        desc = ddb.describe_table(TableName=target)["Table"]
        if desc["TableStatus"] == "ACTIVE":
            return desc
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {target} still {desc['TableStatus']} after {timeout:.0f}s")
        time.sleep(2)
