"""dynamo-throttle: the batch load runs while DynamoDB pushes back, and must still store every item.

The faults are injected on the client, through botocore's event hooks, so the drill runs the same against
the twin's moto (which never throttles) and against a real table:

- `before-send` answers a share of BatchWriteItem requests with HTTP 400 ProvisionedThroughputExceededException
  or ThrottlingException instead of sending them: botocore's standard retry mode backs off and resends;
- `before-parameter-build` takes some items out of a request that is sent, and `after-call` hands them back as
  UnprocessedItems, which app_code.dynamo.write_batch resends with its own bounded backoff.

`resend_unprocessed=False` is the protection switched off (UnprocessedItems ignored): items go missing.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from typing import Any

from cdk_data_tier.app.drills.ledger import Ledger, Report
from cdk_data_tier.app.dynamo import BATCH, MAX_ATTEMPTS, UNPROCESSED_BACKOFF, ItemMapper, TableShape, write_batch
from cdk_data_tier.app.endpoints import Endpoints

ITEMS = 100
THROTTLE_EVERY = 3  # every third request is refused (alternately each error)
DROP_EVERY = 2  # every second request that is sent loses items to UnprocessedItems
DROPPED_PER_REQUEST = 5
ERRORS = (("ProvisionedThroughputExceededException", "com.amazonaws.dynamodb.v20120810",
           "The level of configured provisioned throughput for the table was exceeded."),
          ("ThrottlingException", "com.amazon.coral.availability", "Rate of requests exceeds the allowed throughput."))


class _Raw:
    """The body of a made-up HTTP response, as botocore reads it."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


class Faults:
    """The hooks, and what they did (counted under a lock: the load runs in several threads)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.counts: Counter = Counter()
        self._lock = threading.Lock()

    def install(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-send.dynamodb.BatchWriteItem", self.throttle)
        events.register("before-parameter-build.dynamodb.BatchWriteItem", self.drop)
        events.register("after-call.dynamodb.BatchWriteItem", self.hand_back)

    def throttle(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        with self._lock:
            self.counts["sends"] += 1
            n = self.counts["sends"]
            if n % THROTTLE_EVERY:
                return None
            code, namespace, message = ERRORS[(n // THROTTLE_EVERY) % len(ERRORS)]
            self.counts[code] += 1
        body = json.dumps({"__type": f"{namespace}#{code}", "message": message}).encode()
        return AWSResponse(request.url, 400, {"x-amzn-RequestId": uuid.uuid4().hex,
                                              "Content-Type": "application/x-amz-json-1.0"}, _Raw(body))

    def drop(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        requests = params.get("RequestItems", {}).get(self.table, [])
        with self._lock:
            self.counts["calls"] += 1
            if self.counts["calls"] % DROP_EVERY or len(requests) <= DROPPED_PER_REQUEST:
                return
            self.counts["unprocessed"] += DROPPED_PER_REQUEST
        context["drill_dropped"] = requests[-DROPPED_PER_REQUEST:]
        del requests[-DROPPED_PER_REQUEST:]

    def hand_back(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        dropped = context.pop("drill_dropped", None)
        if dropped and "Error" not in parsed:
            parsed.setdefault("UnprocessedItems", {}).setdefault(self.table, []).extend(dropped)


def run(endpoints: Endpoints, *, resend_unprocessed: bool = True, items: int = ITEMS) -> Report:
    from boto3.dynamodb.types import TypeSerializer

    dynamo = endpoints.dynamo
    client = endpoints.aws.client("dynamodb", max_attempts=MAX_ATTEMPTS, parameter_validation=False)
    mapper = ItemMapper(TableShape.describe(client, dynamo.table_name))
    run_id = uuid.uuid4().hex[:12]
    serialize = TypeSerializer().serialize
    keys = [mapper.raw_key(f"DRILL#{run_id}", f"ITEM#{i:05d}") for i in range(items)]
    requests = [{"PutRequest": {"Item": {k: serialize(v) for k, v in {**key, "entity": "drill", "seq": i}.items()}}}
                for i, key in enumerate(keys)]
    faults = Faults(dynamo.table_name)
    faults.install(client)
    ledger = Ledger()
    batches = [requests[i:i + BATCH] for i in range(0, len(requests), BATCH)]
    for n, batch in enumerate(batches):
        names = [f"{run_id}:{i}" for i in range(n * BATCH, n * BATCH + len(batch))]

        def load(batch: list[dict[str, Any]] = batch) -> None:
            if resend_unprocessed:
                write_batch(client, dynamo.table_name, batch)
            else:
                client.batch_write_item(RequestItems={dynamo.table_name: batch})

        if ledger.write(names[0], load, lambda exc: False, unknown=(Exception,)):
            ledger.acknowledged[-1:] = names  # one call acknowledges its whole batch
        else:
            ledger.unacknowledged[-1:] = names
    counts = _present(endpoints, mapper, run_id, keys)
    report = Report("dynamo-throttle", f"table {dynamo.table_name}", _injected(faults.counts), ledger)
    report.settle(counts)
    sends, calls = faults.counts["sends"], faults.counts["calls"]
    report.checks = {"every item present": report.present == items and report.lost == 0,
                     "retries bounded": calls <= len(batches) * UNPROCESSED_BACKOFF.attempts
                     and sends <= calls * MAX_ATTEMPTS}
    report.extra = {"items": items, "batches": len(batches), "batch_calls": calls, "http_sends": sends,
                    "botocore_retries": sends - calls, "unprocessed_resends": calls - len(batches),
                    "resend_unprocessed": resend_unprocessed}
    return report


def _injected(counts: Counter) -> str:
    return (f"{counts['ProvisionedThroughputExceededException']} ProvisionedThroughputExceededException, "
            f"{counts['ThrottlingException']} ThrottlingException, {counts['unprocessed']} items as UnprocessedItems")


def _present(endpoints: Endpoints, mapper: ItemMapper, run_id: str, keys: list[dict[str, Any]]) -> dict[str, int]:
    """Which keys are in the table (a client without the faults, consistent reads); the run's items go after."""
    from boto3.dynamodb.types import TypeSerializer

    serialize = TypeSerializer().serialize
    client = endpoints.aws.client("dynamodb", max_attempts=MAX_ATTEMPTS)
    name = endpoints.dynamo.table_name
    wire = [{k: serialize(v) for k, v in key.items()} for key in keys]
    ident = {json.dumps(w, sort_keys=True): i for i, w in enumerate(wire)}
    found = {f"{run_id}:{i}": 0 for i in range(len(keys))}
    for start in range(0, len(wire), 100):  # BatchGetItem's limit
        pending: dict[str, Any] = {name: {"Keys": wire[start:start + 100], "ConsistentRead": True}}
        for _ in range(UNPROCESSED_BACKOFF.attempts):
            reply = client.batch_get_item(RequestItems=pending)
            for item in reply["Responses"].get(name, []):
                key = {k: item[k] for k in wire[0]}
                found[f"{run_id}:{ident[json.dumps(key, sort_keys=True)]}"] = 1
            pending = reply.get("UnprocessedKeys") or {}
            if not pending:
                break
    present = [w for w, i in zip(wire, found.values(), strict=True) if i]
    for start in range(0, len(present), BATCH):
        write_batch(client, name, [{"DeleteRequest": {"Key": k}} for k in present[start:start + BATCH]])
    return found
