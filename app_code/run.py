"""`run`: the workloads against an environment's endpoints, in order, ending with the summary table.

The demo runs the same code through `run_workloads`, so what it shows is what `run all` does.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack

from cdk_data_tier.app.endpoints import Endpoints, EndpointsError
from cdk_data_tier.app.errors import EXIT_FAILED, EXIT_OK, BadInput
from cdk_data_tier.app.preflight import preflight

WORKLOADS = ("sql", "dynamo", "cache")


def run_workloads(endpoints: Endpoints, workloads: Sequence[str], *, max_lag: float = 1.0,
                  db_ca_bundle: str | None = None, cache_ca_bundle: str | None = None, progress: bool = True):
    """Run the workloads in order and return the Recorder; a workload that raises is one failed row."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cdk_data_tier.app.metrics import Recorder
    from cdk_data_tier.app.sql import SqlSettings

    sql_settings = SqlSettings(max_lag_s=max_lag, ca_bundle=db_ca_bundle or endpoints.aws.ca_bundle)
    cache_ca = cache_ca_bundle or endpoints.aws.ca_bundle
    recorder = Recorder()
    err_console = Console(stderr=True)
    with ExitStack() as stack:
        bars: list[Progress] = []  # started on the first load, so a run that fails before any prints no bar

        def track(label: str, total: int) -> Callable[[int], None]:
            if not progress:
                return lambda n: None
            if not bars:
                bars.append(stack.enter_context(Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err_console)))
            task = bars[0].add_task(label, total=total)
            return lambda n: bars[0].advance(task, n)

        for name in workloads:
            try:
                RUNNERS[name](endpoints, recorder, track, sql_settings, cache_ca)
            except (BadInput, EndpointsError):
                raise
            except Exception as exc:  # noqa: BLE001 - reported as a failed row, the other workloads still run
                unreachable = _unreachable(exc)
                if unreachable:
                    raise BadInput(f"{name}: {unreachable}") from None
                recorder.verify(name, "workload", False, fail=f"{type(exc).__name__}: {' '.join(str(exc).split())}")
    return recorder


def _unreachable(exc: BaseException) -> str | None:
    from botocore.exceptions import EndpointConnectionError

    if isinstance(exc, EndpointConnectionError):
        return f"AWS endpoint unreachable: {exc}"
    return None


def _run_sql(endpoints: Endpoints, recorder, track, sql_settings, cache_ca) -> None:
    from cdk_data_tier.app.sql import SqlClient, SqlWorkload

    with SqlClient.from_endpoints(endpoints, sql_settings) as client:
        SqlWorkload(client, recorder, progress=track).run()


def _run_dynamo(endpoints: Endpoints, recorder, track, sql_settings, cache_ca) -> None:
    from cdk_data_tier.app.dynamo import DynamoWorkload

    DynamoWorkload(endpoints.dynamo, endpoints.aws, recorder, progress=track).run()


def _run_cache(endpoints: Endpoints, recorder, track, sql_settings, cache_ca) -> None:
    from cdk_data_tier.app.cache import run_cache

    run_cache(endpoints, recorder, progress=track, sql_settings=sql_settings, ca_bundle=cache_ca)


RUNNERS = {"sql": _run_sql, "dynamo": _run_dynamo, "cache": _run_cache}


def run(endpoints: Endpoints, workload: str, *, max_lag: float = 1.0, db_ca_bundle: str | None = None,
        cache_ca_bundle: str | None = None, progress: bool = True) -> int:
    """`run WORKLOAD`: preflight, the workloads, the summary; exit 1 when a check did not verify."""
    from cdk_data_tier.app.metrics import render

    workloads = WORKLOADS if workload == "all" else (workload,)
    preflight(endpoints, workloads, cache_ca_bundle=cache_ca_bundle)
    recorder = run_workloads(endpoints, workloads, max_lag=max_lag, db_ca_bundle=db_ca_bundle,
                             cache_ca_bundle=cache_ca_bundle, progress=progress)
    render(recorder)
    failures = recorder.failures
    if failures:
        print(f"FAILED: {len(failures)} check(s) did not verify: "
              + "; ".join(f"{f.workload} {f.operation}: {f.detail}" for f in failures), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
