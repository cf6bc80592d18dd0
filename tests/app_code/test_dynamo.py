"""The DynamoDB workload against a real moto server, on tables shaped like the Dynamo stack's."""

from __future__ import annotations

import threading
import uuid

import pytest

from cdk_data_tier.app.data import products
from cdk_data_tier.app.dynamo import DynamoError, DynamoWorkload, ItemMapper, TableShape
from cdk_data_tier.app.endpoints import AwsTarget, DynamoEndpoints
from cdk_data_tier.app.metrics import Recorder


def _index(name, hash_, range_=None, projection="ALL"):
    schema = [{"AttributeName": hash_, "KeyType": "HASH"}]
    if range_:
        schema.append({"AttributeName": range_, "KeyType": "RANGE"})
    return {"IndexName": name, "KeySchema": schema, "Projection": {"ProjectionType": projection}}


def make_table(aws, *, types=None, gsis=(("gsi1", "gsi1pk", "gsi1sk", "ALL"),), lsis=(("lsi1", "lsi1sk", "ALL"),)):
    types = {"pk": "S", "sk": "S", **(types or {})}
    name = f"catalog-{uuid.uuid4().hex[:8]}"
    attrs = {"pk", "sk"} | {a for g in gsis for a in g[1:3] if a} | {lsi[1] for lsi in lsis}
    kwargs = {}
    if gsis:
        kwargs["GlobalSecondaryIndexes"] = [_index(n, h, r, p) for n, h, r, p in gsis]
    if lsis:
        kwargs["LocalSecondaryIndexes"] = [_index(n, "pk", r, p) for n, r, p in lsis]
    aws.client("dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": types.get(a, "S")} for a in sorted(attrs)],
        **kwargs,
    )
    return DynamoEndpoints(table_name=name, table_arn=f"arn:aws:dynamodb:us-east-1:123456789012:table/{name}",
                           gsi_names=tuple(g[0] for g in gsis), lsi_names=tuple(lsi[0] for lsi in lsis),
                           partition_key="pk", sort_key="sk")


def run(aws, endpoints, count=600):
    recorder = Recorder()
    DynamoWorkload(endpoints, aws, recorder, page_size=100, crud_items=5).run(products()[:count])
    return recorder


def test_the_stack_shaped_table_passes_every_check(aws):
    recorder = run(aws, make_table(aws))
    rows = {r.operation: r for r in recorder.rows()}
    assert not recorder.failures, recorder.failures
    for op in ("describe table", "batch load (BatchWriteItem)", "scan (paginated)", "put (if not exists)",
               "get (consistent)", "update (expression + condition)", "conditional write refused",
               "delete (conditional)", "query table", "query GSI gsi1", "query LSI lsi1", "transact write",
               "transact write cancelled"):
        assert rows[op].verified is True, op
    assert rows["batch load (BatchWriteItem)"].count == 600
    assert rows["scan (paginated)"].count == 600  # every product once, across pages
    assert rows["conditional write refused"].count == 10


def test_every_index_is_queried_whatever_its_keys_and_projection(aws):
    endpoints = make_table(
        aws, types={"gsi2sk": "N", "lsi2sk": "N"},
        gsis=(("byCategory", "gsi1pk", "gsi1sk", "KEYS_ONLY"), ("byColor", "gsi2pk", "gsi2sk", "ALL"),
              ("inverted", "sk", "pk", "ALL")),
        lsis=(("byPrice", "lsi1sk", "KEYS_ONLY"), ("byDate", "lsi2sk", "ALL")),
    )
    recorder = run(aws, endpoints, count=300)
    assert not recorder.failures, recorder.failures
    queried = {r.operation for r in recorder.rows() if r.operation.startswith("query ")}
    assert queried == {"query table", "query GSI byCategory", "query GSI byColor", "query GSI inverted",
                       "query LSI byPrice", "query LSI byDate"}


def test_key_attributes_come_from_describe_table(aws):
    endpoints = make_table(aws, types={"gsi1sk": "N"})
    shape = TableShape.describe(aws.client("dynamodb"), endpoints.table_name)
    item = ItemMapper(shape).item(products()[0])
    assert item["pk"] == f"BRAND#{products()[0].brand}" and item["sk"] == f"PRODUCT#{products()[0].sku}"
    assert item["gsi1pk"] == f"CATEGORY#{products()[0].category}"
    assert item["gsi1sk"] == products()[0].price  # a numeric sort key holds the number itself
    assert item["lsi1sk"].startswith("CREATED#")


def test_outputs_that_disagree_with_the_table_fail_verification(aws):
    endpoints = make_table(aws)
    wrong = DynamoEndpoints(**{**endpoints.__dict__, "gsi_names": ("gsi1", "gsi2")})
    recorder = Recorder()
    with pytest.raises(DynamoError, match="does not match the Dynamo stack's outputs"):
        DynamoWorkload(wrong, aws, recorder).describe()
    [failure] = recorder.failures
    assert failure.operation == "describe table" and "gsi2" in failure.detail


def test_a_lost_write_is_a_failure_not_a_warning(aws):
    endpoints = make_table(aws)
    recorder = Recorder()
    workload = DynamoWorkload(endpoints, aws, recorder)
    mapper = ItemMapper(workload.describe())
    items = [mapper.item(p) for p in products()[:50]]
    workload.batch_load(items)
    workload.table().delete_item(Key=mapper.key(items[7]))  # acknowledged, then lost
    workload.verify_scan(items, mapper)
    assert {r.operation for r in recorder.failures} == {"batch load (BatchWriteItem)", "scan (paginated)"}


@pytest.mark.parametrize("threads", [1, 4])
def test_batch_load_sends_full_batches_from_its_threads(aws, calls, monkeypatch, threads):
    """What makes the load fast, checked as calls rather than timed on a shared CPU (bench/dynamo_batch.py measures
    the speed): 200 items leave as 8 BatchWriteItem calls of 25 and no PutItem, and with 4 threads several calls
    are in flight at once (with 1, never more than one)."""
    lock, in_flight, most = threading.Lock(), [0], [0]

    def enter(**_):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])

    def leave(**_):
        with lock:
            in_flight[0] -= 1

    recording = AwsTarget.client

    def client(self, service, **kwargs):
        made = recording(self, service, **kwargs)
        made.meta.events.register("before-call.dynamodb.BatchWriteItem", enter)
        made.meta.events.register("after-call.dynamodb.BatchWriteItem", leave)
        return made

    monkeypatch.setattr(AwsTarget, "client", client)
    endpoints = make_table(aws, gsis=(), lsis=())
    workload = DynamoWorkload(endpoints, aws, Recorder(), threads=threads)
    mapper = ItemMapper(workload.describe())
    items = [mapper.item(p) for p in products()[:200]]
    calls.clear()

    workload.batch_load(items)

    sent = [len(params["RequestItems"][endpoints.table_name]) for op, params in calls if op == "BatchWriteItem"]
    assert sent == [25] * 8 and not [op for op, _ in calls if op == "PutItem"]
    assert (most[0] > 1) if threads > 1 else (most[0] == 1), most
    assert workload.table().scan(Select="COUNT")["Count"] == 200


class WithholdingClient:
    """The real moto client, except that the first calls hand back part of the batch as UnprocessedItems,
    as DynamoDB does under throttling."""

    def __init__(self, client, withhold: int, times: int):
        self.client, self.withhold, self.times, self.calls = client, withhold, times, 0

    def batch_write_item(self, RequestItems):
        self.calls += 1
        [(table, requests)] = RequestItems.items()
        if self.times:
            self.times -= 1
            kept, requests = requests[-self.withhold:], requests[:-self.withhold]
            if requests:
                self.client.batch_write_item(RequestItems={table: requests})
            return {"UnprocessedItems": {table: kept}}
        return self.client.batch_write_item(RequestItems={table: requests})


def test_unprocessed_items_are_resent_with_a_bound(aws):
    from cdk_data_tier.app.dynamo import DynamoError, write_batch
    from cdk_data_tier.app.retry import Backoff

    endpoints = make_table(aws, gsis=(), lsis=())
    workload = DynamoWorkload(endpoints, aws, Recorder())
    mapper = ItemMapper(workload.describe())
    items = [mapper.item(p) for p in products()[:25]]
    client = WithholdingClient(workload.table().meta.client, withhold=10, times=2)
    write_batch(client, endpoints.table_name, [{"PutRequest": {"Item": i}} for i in items])
    assert client.calls == 3
    assert workload.table().scan(Select="COUNT")["Count"] == 25

    stuck = WithholdingClient(workload.table().meta.client, withhold=1, times=99)
    with pytest.raises(DynamoError, match="1 items still unprocessed after 3 BatchWriteItem calls"):
        write_batch(stuck, endpoints.table_name, [{"PutRequest": {"Item": i}} for i in items[:5]],
                    Backoff(attempts=3, base=0.001))
