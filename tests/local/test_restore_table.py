"""`ops restore-table` on the twin's moto server: a restore to a time holds what was there then and nothing
written after it, whatever moto itself would do; the copy's outputs file points the workloads at it."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cdk_data_tier.app.cli import main
from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.ops import copies
from cdk_data_tier.app.ops.restore_db import iso

pytestmark = pytest.mark.engines


def _put(ddb, table: str, pk: str) -> None:
    ddb.put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"S": "marker"}})


def _keys(ddb, table: str, prefix: str) -> set[str]:
    items = ddb.scan(TableName=table, FilterExpression="begins_with(pk, :p)",
                     ExpressionAttributeValues={":p": {"S": prefix}})["Items"]
    return {i["pk"]["S"] for i in items}


def _remove(twin, ddb, name: str) -> None:
    assert main(["ops", "remove-copy", "--outputs", str(twin.state_dir), "--target", name]) == 0
    assert name not in ddb.list_tables()["TableNames"]
    assert name not in copies.recorded(twin.state_dir)
    assert not (twin.state_dir / "copies" / name).exists()


def test_a_restore_to_a_time_holds_the_earlier_writes_and_none_of_the_later(twin, capsys):
    ddb = twin.client("dynamodb")
    table = twin.stack("Dynamo")["TableName"]
    run = uuid.uuid4().hex[:6]
    _put(ddb, table, f"RESTORE#{run}#t1")
    ddb.update_item(TableName=table, Key={"pk": {"S": f"RESTORE#{run}#t1"}, "sk": {"S": "marker"}},
                    UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "1"}})
    time.sleep(0.2)
    between = datetime.now(UTC)
    time.sleep(0.2)
    _put(ddb, table, f"RESTORE#{run}#t2")
    ddb.update_item(TableName=table, Key={"pk": {"S": f"RESTORE#{run}#t1"}, "sk": {"S": "marker"}},
                    UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "2"}})

    target = f"copy-{run}"
    capsys.readouterr()
    assert main(["ops", "restore-table", "--outputs", str(twin.state_dir), "--to-time", iso(between),
                 "--target", target]) == 0
    out = capsys.readouterr().out
    outputs = twin.state_dir / "copies" / target / "outputs.json"
    assert f"outputs: {outputs}" in out and f"ops remove-copy --outputs {twin.state_dir} --target {target}" in out
    try:
        assert _keys(ddb, target, f"RESTORE#{run}") == {f"RESTORE#{run}#t1"}
        item = ddb.get_item(TableName=target, Key={"pk": {"S": f"RESTORE#{run}#t1"}, "sk": {"S": "marker"}})["Item"]
        assert item["v"] == {"N": "1"}  # the update after the restore point is not in the copy either
        copy = Endpoints.from_outputs_file(outputs)
        assert copy.dynamo.table_name == target and copy.dynamo.stream_arn is None
        assert copy.aws.endpoint_url == twin.aws_endpoint_url  # twin.json beside it: the twin's moto
        stack = json.loads(outputs.read_text())[f"{twin.env}-Dynamo"]
        assert stack["RestoredTo"] == iso(between) and stack["CopyOf"] == table
        assert main(["run", "dynamo", "--outputs", str(outputs), "--no-progress"]) == 0  # the workload runs on it
    finally:
        _remove(twin, ddb, target)


def test_latest_and_backup_restores(twin):
    ddb = twin.client("dynamodb")
    table = twin.stack("Dynamo")["TableName"]
    run = uuid.uuid4().hex[:6]
    _put(ddb, table, f"RESTORE#{run}#before")
    arn = ddb.create_backup(TableName=table, BackupName=f"test-{run}")["BackupDetails"]["BackupArn"]
    _put(ddb, table, f"RESTORE#{run}#after")
    made = []
    try:
        for name, how in ((f"latest-{run}", ["--latest"]), (f"backup-{run}", ["--backup", arn])):
            assert main(["ops", "restore-table", "--outputs", str(twin.state_dir), *how, "--target", name]) == 0
            made.append(name)
        assert _keys(ddb, f"latest-{run}", f"RESTORE#{run}") == {f"RESTORE#{run}#before", f"RESTORE#{run}#after"}
        assert _keys(ddb, f"backup-{run}", f"RESTORE#{run}") == {f"RESTORE#{run}#before"}
    finally:
        for name in made:
            _remove(twin, ddb, name)
        ddb.delete_backup(BackupArn=arn)


def test_limits_are_checked_before_anything_is_made(twin, capsys, tmp_path: Path):
    state = str(twin.state_dir)
    table = twin.stack("Dynamo")["TableName"]
    ddb = twin.client("dynamodb")
    before = set(ddb.list_tables()["TableNames"])
    earliest = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]["EarliestRestorableDateTime"]
    cases = [
        (["--latest", "--target", "no"], "app_code ops: --target 'no' is not a valid DynamoDB table name: 3-255 "
                                         "letters, digits, '_', '-' or '.'"),
        (["--latest", "--target", table], f"app_code ops: --target {table}: a table of that name already exists"),
        (["--to-time", "2001-01-01T00:00:00Z", "--target", "copy-x"],
         f"app_code ops: --to-time 2001-01-01T00:00:00.000Z: outside the restorable window of table {table} "
         f"({iso(earliest)} to "),
        (["--to-time", "yesterday", "--target", "copy-x"], "app_code ops: --to-time 'yesterday' is not a time: "
                                                          "expected ISO 8601 such as 2025-05-01T12:00:00Z"),
        (["--backup", "arn:aws:dynamodb:us-east-1:1:table/t/backup/0", "--target", "copy-x"],
         "app_code ops: --backup arn:aws:dynamodb:us-east-1:1:table/t/backup/0: no such DynamoDB backup"),
    ]
    for args, expected in cases:
        capsys.readouterr()
        assert main(["ops", "restore-table", "--outputs", state, *args]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(expected), err
        assert "\n" not in err
    assert set(ddb.list_tables()["TableNames"]) == before
    assert not (twin.state_dir / "copies").exists() or not any((twin.state_dir / "copies").iterdir())
