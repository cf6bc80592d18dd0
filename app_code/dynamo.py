"""DynamoDB workload: CRUD, conditional writes, batch load of the catalog, queries on the table and every index,
a paginated scan, and transactions, each verified by reading back what it wrote.

Key attribute names and types come from DescribeTable, not from this file, so the same code runs on whatever
key schema the Dynamo stack declares: each key attribute is filled from a facet of the product (brand, category,
price, ...), and every query's expected result is computed from the very items that were written.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cdk_data_tier.app.data import Product, products
from cdk_data_tier.app.endpoints import AwsTarget, DynamoEndpoints
from cdk_data_tier.app.metrics import Recorder
from cdk_data_tier.app.retry import Backoff

W = "dynamo"
MAX_ATTEMPTS = 8  # botocore standard mode: jittered backoff on throttling and 5xx, never unbounded
ENTITY = "entity"
BATCH = 25  # BatchWriteItem's limit
LOAD_OP = "batch load (BatchWriteItem)"


class DynamoError(Exception):
    pass


@dataclass(frozen=True)
class KeyAttr:
    name: str
    type: str  # S, N or B


@dataclass(frozen=True)
class IndexShape:
    name: str
    kind: str  # GSI or LSI
    hash: KeyAttr
    range: KeyAttr | None
    projection: str


@dataclass(frozen=True)
class TableShape:
    name: str
    hash: KeyAttr
    range: KeyAttr | None
    gsis: tuple[IndexShape, ...]
    lsis: tuple[IndexShape, ...]

    @classmethod
    def describe(cls, client, table_name: str) -> TableShape:
        desc = client.describe_table(TableName=table_name)["Table"]
        types = {a["AttributeName"]: a["AttributeType"] for a in desc["AttributeDefinitions"]}

        def keys(schema: list[dict]) -> tuple[KeyAttr, KeyAttr | None]:
            by_type = {k["KeyType"]: KeyAttr(k["AttributeName"], types[k["AttributeName"]]) for k in schema}
            return by_type["HASH"], by_type.get("RANGE")

        def indexes(kind: str, raw: list[dict]) -> tuple[IndexShape, ...]:
            return tuple(IndexShape(i["IndexName"], kind, *keys(i["KeySchema"]), i["Projection"]["ProjectionType"])
                         for i in raw)

        return cls(desc["TableName"], *keys(desc["KeySchema"]),
                   indexes("GSI", desc.get("GlobalSecondaryIndexes", [])),
                   indexes("LSI", desc.get("LocalSecondaryIndexes", [])))

    @property
    def indexes(self) -> tuple[IndexShape, ...]:
        return self.gsis + self.lsis


# --- items: product facets mapped onto whatever key attributes the table has ----------------------------

DETAILS = ("brand", "category", "subcategory", "currency", "rating", "review_count", "color", "weight_grams", "tags",
           "created_at", "description")

HASH_FACETS: list[tuple[str, Callable[[Product], str]]] = [
    ("CATEGORY", lambda p: p.category), ("SUBCATEGORY", lambda p: p.subcategory),
    ("COLOR", lambda p: p.color), ("BRAND", lambda p: p.brand),
]
RANGE_FACETS: list[tuple[str, Callable[[Product], str]]] = [
    ("PRICE", lambda p: f"{p.price:012.2f}"), ("CREATED", lambda p: p.created_at.isoformat()),
    ("RATING", lambda p: f"{p.rating}"), ("REVIEWS", lambda p: f"{p.review_count:08d}"),
]


def encode(attr: KeyAttr, facet: str, raw: str) -> Any:
    """S keys read `FACET#value` (zero-padded so text order is numeric order); N and B keys get a stable number
    or bytes of the same text, so a table keyed on numbers still holds the catalog."""
    text = f"{facet}#{raw}"
    if attr.type == "S":
        return text
    if attr.type == "B":
        return text.encode()
    try:
        return Decimal(raw.replace("-", ""))
    except ArithmeticError:
        return Decimal(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=6).digest(), "big"))


class ItemMapper:
    """Decides once which product facet fills each key attribute of the table and its indexes."""

    def __init__(self, shape: TableShape):
        self.shape = shape
        self.facets: dict[str, tuple[str, Callable[[Product], str]]] = {}
        if shape.range:
            self.facets[shape.hash.name] = ("BRAND", lambda p: p.brand)
            self.facets[shape.range.name] = ("PRODUCT", lambda p: p.sku)
        else:
            # A partition key alone must tell the products apart (by brand, they would overwrite each other).
            self.facets[shape.hash.name] = ("PRODUCT", lambda p: p.sku)
        hashes, ranges = iter(HASH_FACETS), iter(RANGE_FACETS)
        for index in shape.indexes:
            for attr, pool in ((index.hash, hashes), (index.range, ranges)):
                if attr and attr.name not in self.facets:
                    # More indexes than facets: reuse a facet under another attribute rather than leave it empty.
                    self.facets[attr.name] = next(pool, None) or RANGE_FACETS[len(self.facets) % len(RANGE_FACETS)]
        self.types = {a.name: a for i in shape.indexes for a in (i.hash, i.range) if a}
        self.types[shape.hash.name] = shape.hash
        if shape.range:
            self.types[shape.range.name] = shape.range

    def item(self, p: Product) -> dict[str, Any]:
        """Keys and what conditions, updates and checks touch are top-level; the descriptive rest is one map.

        Fewer top-level attributes is also what keeps moto's per-item work small: it re-sizes the whole item
        for every attribute it sets (getmoto/moto#1874), quadratic in their number."""
        item: dict[str, Any] = {ENTITY: "product", "sku": p.sku, "name": p.name, "price": p.price, "stock": p.stock}
        for name, (facet, fn) in self.facets.items():
            item[name] = encode(self.types[name], facet, fn(p))
        details = p.to_json()
        item["details"] = {k: details[k] for k in DETAILS} | {"rating": p.rating}
        return item

    def key(self, item: dict[str, Any]) -> dict[str, Any]:
        key = {self.shape.hash.name: item[self.shape.hash.name]}
        if self.shape.range:
            key[self.shape.range.name] = item[self.shape.range.name]
        return key

    def ident(self, item: dict[str, Any]) -> tuple:
        return tuple(str(v) for v in self.key(item).values())

    def raw_key(self, hash_raw: str, range_raw: str) -> dict[str, Any]:
        """A key outside the catalog (carts, orders), in the table's key types; without a sort key, both parts
        go into the partition key, so the lines of one cart or order stay distinct items."""
        if not self.shape.range:
            return {self.shape.hash.name: encode(self.shape.hash, "ENTITY", f"{hash_raw}#{range_raw}")}
        return {self.shape.hash.name: encode(self.shape.hash, "ENTITY", hash_raw),
                self.shape.range.name: encode(self.shape.range, "ENTITY", range_raw)}


# --- the workload ----------------------------------------------------------------------------------------

@dataclass
class DynamoWorkload:
    endpoints: DynamoEndpoints
    aws: AwsTarget
    recorder: Recorder
    progress: Callable[[str, int], Callable[[int], None]] | None = None  # (label, total) -> advance(n)
    threads: int = 8  # parallel BatchWriteItem streams
    crud_items: int = 25
    page_size: int = 1000  # scan pages: small enough that the catalog takes several
    orders: int = 3  # moto deep-copies the whole table per transaction item: keep the twin's run short

    def __post_init__(self) -> None:
        self.client = self.aws.client("dynamodb", max_attempts=MAX_ATTEMPTS, max_pool_connections=self.threads * 2)
        self.run_id = uuid.uuid4().hex[:12]
        self._local = threading.local()

    def table(self):
        # boto3 resources are not thread-safe: one per thread.
        if not hasattr(self._local, "table"):
            resource = self.aws.resource("dynamodb", max_attempts=MAX_ATTEMPTS, max_pool_connections=self.threads * 2)
            self._local.table = resource.Table(self.endpoints.table_name)
        return self._local.table

    def run(self, catalog: Sequence[Product] | None = None) -> None:
        catalog = list(catalog or products())
        shape = self.describe()
        mapper = ItemMapper(shape)
        items = [mapper.item(p) for p in catalog]
        self.batch_load(items)
        self.verify_scan(items, mapper)
        self.crud(mapper)
        self.query_base(items, mapper)
        for index in shape.indexes:
            self.query_index(index, items, mapper)
        self.transactions(mapper, items[0], self.orders)

    def describe(self) -> TableShape:
        with self.recorder.timed(W, "describe table"):
            shape = TableShape.describe(self.client, self.endpoints.table_name)
        gsis, lsis = {i.name for i in shape.gsis}, {i.name for i in shape.lsis}
        ep = self.endpoints
        ok = (gsis == set(ep.gsi_names) and lsis == set(ep.lsi_names) and shape.hash.name == ep.partition_key
              and (shape.range.name if shape.range else None) == ep.sort_key)
        table_keys = f"{shape.hash.name}/{shape.range.name if shape.range else '-'}"
        self.recorder.verify(W, "describe table", ok,
                             f"keys {table_keys}, GSIs {','.join(sorted(gsis)) or '-'}, "
                             f"LSIs {','.join(sorted(lsis)) or '-'}: as in the outputs",
                             fail=f"outputs say GSIs {sorted(ep.gsi_names)} LSIs {sorted(ep.lsi_names)} keys "
                                  f"{ep.partition_key}/{ep.sort_key}; table has GSIs {sorted(gsis)} "
                                  f"LSIs {sorted(lsis)} keys {table_keys}")
        if not ok:
            raise DynamoError(f"table {shape.name} does not match the Dynamo stack's outputs (see describe table)")
        return shape

    def batch_load(self, items: list[dict[str, Any]], op: str = LOAD_OP) -> None:
        """BatchWriteItem of 25 from several threads on one (thread-safe) client.

        Not boto3's batch_writer: it re-sends UnprocessedItems at once and forever, where AWS asks for backoff
        and a bound (write_batch)."""
        from boto3.dynamodb.types import TypeSerializer

        advance = self.progress("dynamo batch load", len(items)) if self.progress else None
        # A low-level client without client-side parameter validation: DynamoDB validates every item anyway,
        # and walking thousands of nested items through botocore's validator costs more CPU than the requests.
        client = self.aws.client("dynamodb", max_attempts=MAX_ATTEMPTS, max_pool_connections=self.threads * 2,
                                 parameter_validation=False)
        serialize = TypeSerializer().serialize
        chunks = [items[i:i + BATCH] for i in range(0, len(items), BATCH)]

        def load(chunk: list[dict[str, Any]]) -> None:
            requests = [{"PutRequest": {"Item": {k: serialize(v) for k, v in item.items()}}} for item in chunk]
            write_batch(client, self.endpoints.table_name, requests)
            if advance:
                advance(len(chunk))

        start = time.perf_counter()
        with ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(load, chunks))
        self.recorder.add(W, op, time.perf_counter() - start, len(items))

    def scan_products(self) -> tuple[list[dict[str, Any]], int]:
        from boto3.dynamodb.conditions import Attr

        # Only what the check compares: less to read (RCUs on AWS) and to serialize (moto).
        found, pages = [], 0
        kwargs: dict[str, Any] = {
            "FilterExpression": Attr(ENTITY).eq("product"), "Limit": self.page_size,
            "ProjectionExpression": "#sku, #price, #stock, #name",
            "ExpressionAttributeNames": {f"#{a}": a for a in ("sku", "price", "stock", "name")},
        }
        while True:
            start = time.perf_counter()
            page = self.table().scan(**kwargs)
            self.recorder.add(W, "scan (paginated)", time.perf_counter() - start, len(page["Items"]))
            found += page["Items"]
            pages += 1
            if "LastEvaluatedKey" not in page:
                return found, pages
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def verify_scan(self, items: list[dict[str, Any]], mapper: ItemMapper) -> None:
        found, pages = self.scan_products()

        def fingerprint(rows: Iterable[dict[str, Any]]) -> Counter:
            return Counter((r["sku"], r["price"], int(r["stock"]), r["name"]) for r in rows)

        want, got = fingerprint(items), fingerprint(found)
        ok = want == got
        detail = f"{len(found)} items in {pages} pages" if ok else (
            f"scan found {len(found)} items, wrote {len(items)}; {len(want - got)} missing or different")
        self.recorder.verify(W, LOAD_OP, ok, detail)
        self.recorder.verify(W, "scan (paginated)", ok and (pages > 1 or len(items) <= self.page_size), detail)

    def crud(self, mapper: ItemMapper) -> None:
        from botocore.exceptions import ClientError

        table = self.table()
        keys = [mapper.raw_key(f"CART#{self.run_id}", f"ITEM#{i:04d}") for i in range(self.crud_items)]
        not_exists = "attribute_not_exists(#h)"
        names = {"#h": mapper.shape.hash.name}
        get_ok = upd_ok = rej_ok = del_ok = True
        for i, key in enumerate(keys):
            item = {**key, ENTITY: "cart-line", "sku": f"SKU-{i}", "qty": 1, "version": 1,
                    "price": Decimal("19.99")}
            with self.recorder.timed(W, "put (if not exists)"):
                table.put_item(Item=item, ConditionExpression=not_exists, ExpressionAttributeNames=names)
            with self.recorder.timed(W, "get (consistent)"):
                got = table.get_item(Key=key, ConsistentRead=True).get("Item")
            get_ok &= got == item
            with self.recorder.timed(W, "update (expression + condition)"):
                new = table.update_item(
                    Key=key,
                    UpdateExpression="SET qty = qty + :n, price = :p ADD version :one",
                    ConditionExpression="version = :v AND qty < :max",
                    ExpressionAttributeValues={":n": 2, ":p": Decimal("17.49"), ":one": 1, ":v": 1, ":max": 10},
                    ReturnValues="ALL_NEW",
                )["Attributes"]
            upd_ok &= (new["qty"], new["version"], new["price"]) == (3, 2, Decimal("17.49"))
            # Both writes below must be refused by their conditions and leave the item as it was.
            for attempt in (
                lambda item=item: table.put_item(Item=item, ConditionExpression=not_exists,
                                                 ExpressionAttributeNames=names),
                lambda key=key: table.update_item(Key=key, UpdateExpression="SET qty = :z",
                                                  ConditionExpression="version = :v",
                                                  ExpressionAttributeValues={":z": 0, ":v": 1}),
            ):
                with self.recorder.timed(W, "conditional write refused"):
                    rej_ok &= _condition_fails(attempt, ClientError)
            rej_ok &= table.get_item(Key=key, ConsistentRead=True)["Item"] == new
            with self.recorder.timed(W, "delete (conditional)"):
                table.delete_item(Key=key, ConditionExpression="version = :v", ExpressionAttributeValues={":v": 2})
            del_ok &= "Item" not in table.get_item(Key=key, ConsistentRead=True)
        n = len(keys)
        self.recorder.verify(W, "put (if not exists)", get_ok, f"{n} items read back", fail="read back differs")
        self.recorder.verify(W, "get (consistent)", get_ok, f"{n} items equal", fail="read back differs")
        self.recorder.verify(W, "update (expression + condition)", upd_ok, "ALL_NEW as expected",
                             fail="ALL_NEW differs")
        self.recorder.verify(W, "conditional write refused", rej_ok, "ConditionalCheckFailed, item unchanged",
                             fail="a refused write changed the item")
        self.recorder.verify(W, "delete (conditional)", del_ok, f"{n} items gone", fail="item still there")

    def _query_all(self, op: str, keys: Sequence[str], **kwargs: Any) -> list[dict[str, Any]]:
        """Every page of a query, projected on `keys` (what the checks compare)."""
        found: list[dict[str, Any]] = []
        names = {f"#k{i}": k for i, k in enumerate(keys)}
        kwargs |= {"ProjectionExpression": ", ".join(names),
                   "ExpressionAttributeNames": {**kwargs.get("ExpressionAttributeNames", {}), **names}}
        while True:  # DynamoDB ends a page at 1 MB: follow LastEvaluatedKey whatever the size
            start = time.perf_counter()
            page = self.table().query(**kwargs)
            self.recorder.add(W, op, time.perf_counter() - start, len(page["Items"]))
            found += page["Items"]
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def query_base(self, items: list[dict[str, Any]], mapper: ItemMapper) -> None:
        from boto3.dynamodb.conditions import Key

        h = mapper.shape.hash.name
        ok, checked = True, 0
        for value, expected in Counter(i[h] for i in items).most_common(3):
            got = self._query_all("query table", list(mapper.key(items[0])), KeyConditionExpression=Key(h).eq(value),
                                  ConsistentRead=True)
            ok &= sorted(map(mapper.ident, got)) == sorted(mapper.ident(i) for i in items if i[h] == value)
            checked += expected
        self.recorder.verify(W, "query table", ok, f"{checked} items in 3 partitions" if ok else "result differs")

    def query_index(self, index: IndexShape, items: list[dict[str, Any]], mapper: ItemMapper) -> None:
        """Query the index's busiest partition, whole and by a sort-key range, against what was written.

        Results are matched on the table's key, which every projection (even KEYS_ONLY) carries."""
        from boto3.dynamodb.conditions import Key

        op = f"query {index.kind} {index.name}"
        h, r = index.hash.name, index.range.name if index.range else None
        members = [i for i in items if h in i and (r is None or r in i)]
        if not members:
            self.recorder.verify(W, op, False, fail="no item carries this index's keys")
            return
        value = Counter(i[h] for i in members).most_common(1)[0][0]
        partition = [i for i in members if i[h] == value]
        cond = Key(h).eq(value)
        # LSIs can be read consistently; GSIs are eventually consistent, so give them a bounded catch-up.
        consistent = {"ConsistentRead": True} if index.kind == "LSI" else {}

        def fetch(condition) -> Callable[[], list]:
            return lambda: sorted(mapper.ident(g) for g in self._query_all(
                op, list(mapper.key(items[0])), IndexName=index.name, KeyConditionExpression=condition, **consistent))

        expect_all = sorted(mapper.ident(i) for i in partition)
        got_all = self._poll(fetch(cond), expect_all)
        ok, detail = got_all == expect_all, f"{len(got_all)} of {len(expect_all)} items"
        if r and ok:
            bounds = sorted(i[r] for i in partition)
            low, high = bounds[len(bounds) // 4], bounds[3 * len(bounds) // 4]
            expect = sorted(mapper.ident(i) for i in partition if low <= i[r] <= high)
            got = self._poll(fetch(cond & Key(r).between(low, high)), expect)
            ok = got == expect
            detail += f", {len(got)} of {len(expect)} in a {r} range"
        self.recorder.verify(W, op, ok, detail)

    @staticmethod
    def _poll(fetch: Callable[[], list], expect: list, deadline: float = 5.0) -> list:
        stop = time.monotonic() + deadline
        got = fetch()
        while got != expect and time.monotonic() < stop:
            time.sleep(0.2)
            got = fetch()
        return got

    def transactions(self, mapper: ItemMapper, product_item: dict[str, Any], orders: int = 10) -> None:
        """Order placement: decrement stock and write the order atomically; an oversold order changes nothing."""
        from botocore.exceptions import ClientError

        client = self.table().meta.client  # the resource's client takes plain Python values
        name = self.endpoints.table_name
        pkey = mapper.key(product_item)
        stock = int(self.table().get_item(Key=pkey, ConsistentRead=True)["Item"]["stock"])
        restock = max(0, orders - stock)
        if restock:
            self.table().update_item(Key=pkey, UpdateExpression="SET stock = stock + :r",
                                     ExpressionAttributeValues={":r": restock})
            stock += restock
        order_keys = []
        for n in range(orders):
            okey = mapper.raw_key(f"ORDER#{self.run_id}", f"LINE#{n:04d}")
            order_keys.append(okey)
            with self.recorder.timed(W, "transact write"):
                client.transact_write_items(TransactItems=[
                    {"Update": {"TableName": name, "Key": pkey, "UpdateExpression": "SET stock = stock - :q",
                                "ConditionExpression": "stock >= :q", "ExpressionAttributeValues": {":q": 1}}},
                    {"Put": {"TableName": name, "Item": {**okey, ENTITY: "order", "sku": product_item["sku"], "qty": 1},
                             "ConditionExpression": "attribute_not_exists(#h)",
                             "ExpressionAttributeNames": {"#h": mapper.shape.hash.name}}},
                ])
        after = int(self.table().get_item(Key=pkey, ConsistentRead=True)["Item"]["stock"])
        written = sum("Item" in self.table().get_item(Key=k, ConsistentRead=True) for k in order_keys)
        ok = after == stock - orders and written == orders
        self.recorder.verify(W, "transact write", ok, f"stock {stock}->{after}, {written}/{orders} orders")

        oversold = mapper.raw_key(f"ORDER#{self.run_id}", "LINE#oversold")
        with self.recorder.timed(W, "transact write cancelled"):
            cancelled = _condition_fails(lambda: client.transact_write_items(TransactItems=[
                {"Update": {"TableName": name, "Key": pkey, "UpdateExpression": "SET stock = stock - :q",
                            "ConditionExpression": "stock >= :q", "ExpressionAttributeValues": {":q": after + 1}}},
                {"Put": {"TableName": name, "Item": {**oversold, ENTITY: "order"}}},
            ]), ClientError, codes=("TransactionCanceledException",))
        untouched = (int(self.table().get_item(Key=pkey, ConsistentRead=True)["Item"]["stock"]) == after
                     and "Item" not in self.table().get_item(Key=oversold, ConsistentRead=True))
        self.recorder.verify(W, "transact write cancelled", cancelled and untouched,
                             "cancelled, nothing written", fail="partial effect, or not refused")
        with self.table().batch_writer() as writer:  # orders are this run's scratch; the catalog stays loaded
            for k in order_keys:
                writer.delete_item(Key=k)
        self.table().update_item(Key=pkey, UpdateExpression="SET stock = :s",
                                 ExpressionAttributeValues={":s": stock - restock})


def _condition_fails(call: Callable[[], Any], error: type[Exception],
                     codes: tuple[str, ...] = ("ConditionalCheckFailedException",)) -> bool:
    try:
        call()
    except error as exc:
        code = exc.response.get("Error", {}).get("Code")  # type: ignore[attr-defined]
        if code in codes:
            return True
        raise
    return False


UNPROCESSED_BACKOFF = Backoff(attempts=10)


def write_batch(client, table: str, requests: list[dict[str, Any]], backoff: Backoff = UNPROCESSED_BACKOFF) -> None:
    """One BatchWriteItem, re-sending UnprocessedItems (throttled or over capacity) with jittered backoff."""
    pending, delays = requests, backoff.delays()
    while pending:
        pending = client.batch_write_item(RequestItems={table: pending}).get("UnprocessedItems", {}).get(table, [])
        if pending:
            delay = next(delays, None)
            if delay is None:
                raise DynamoError(
                    f"{len(pending)} items still unprocessed after {backoff.attempts} BatchWriteItem calls")
            time.sleep(delay)


def put_loop(workload: DynamoWorkload, items: list[dict[str, Any]]) -> float:
    """The bench's reference: one PutItem request per item. Returns seconds."""
    table = workload.table()
    start = time.perf_counter()
    for item in items:
        table.put_item(Item=item)
    return time.perf_counter() - start
