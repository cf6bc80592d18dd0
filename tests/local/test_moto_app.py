"""The twin's moto serves DynamoDB requests one at a time (moto's DynamoDB backend is not thread-safe)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cdk_data_tier.app.local.moto_app import OneDynamoRequestAtATime


class Overlap:
    """A WSGI app that takes a while and counts how many requests it serves at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.05)
        with self.lock:
            self.now -= 1
        start_response("200 OK", [])
        return [b"{}"]


def serve(target: str, requests: int = 8) -> int:
    app = Overlap()
    wrapped = OneDynamoRequestAtATime(app)
    with ThreadPoolExecutor(requests) as pool:
        bodies = list(pool.map(lambda _: b"".join(wrapped({"HTTP_X_AMZ_TARGET": target}, lambda *a: None)),
                               range(requests)))
    assert bodies == [b"{}"] * requests
    return app.most


def test_dynamodb_requests_never_overlap() -> None:
    assert serve("DynamoDB_20120810.BatchWriteItem") == 1
    assert serve("DynamoDBStreams_20120810.GetRecords") == 1


def test_other_services_stay_concurrent() -> None:
    assert serve("secretsmanager.GetSecretValue") > 1
    assert serve("") > 1  # query-string APIs (EC2, CloudFormation) carry no target header
