"""moto's server as the twin runs it: `python -m moto.server`, except that DynamoDB requests run one at a time
and point-in-time restores honour the time asked for (app_code.local.moto_pitr).

moto's DynamoDB backend is not thread-safe, and its threaded server lets concurrent requests race on a table:
parallel BatchWriteItem calls into a new table lost items (3 of 200 in 1 of 30 loads of the workload's
catalog), where DynamoDB loses nothing. moto holds the GIL for nearly all of a request anyway, so serving
DynamoDB requests one at a time costs the twin next to no throughput; the other services stay concurrent.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

DYNAMODB_TARGETS = ("DynamoDB_", "DynamoDBStreams_")


class OneDynamoRequestAtATime:
    """WSGI middleware: a lock around every DynamoDB (and DynamoDB Streams) request, body included."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith(DYNAMODB_TARGETS):
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))  # the response is built under the lock too


def main(argv: list[str] | None = None) -> None:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import run_simple

    from cdk_data_tier.app.local import moto_pitr

    parser = argparse.ArgumentParser(prog="python -m app_code.local.moto_app", description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # what moto.server sets: moto builds its own URLs from it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    moto_pitr.install()
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # type: ignore[attr-defined]  # as moto.server: errors come back with their traceback
    run_simple(args.host, args.port, OneDynamoRequestAtATime(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
