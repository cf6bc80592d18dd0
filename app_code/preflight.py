"""Before any work: every endpoint a workload will use answers, within seconds, or the run stops as bad input.

A client's own retries are for a service that hiccups; against an endpoint that is wrong (a port that is
closed, a listener that never answers, something that is not the engine) they would only turn the mistake
into minutes of waiting. So each endpoint gets one bounded first contact that names it when it fails.
"""

from __future__ import annotations

from collections.abc import Sequence

from cdk_data_tier.app.endpoints import Endpoints, HostPort
from cdk_data_tier.app.errors import BadInput
from cdk_data_tier.app.probe import probe, probe_url

ANSWER_TIMEOUT_S = 5


def preflight(endpoints: Endpoints, workloads: Sequence[str], *, cache_ca_bundle: str | None = None) -> None:
    """Fail fast, as bad input, on outputs a workload cannot use or endpoints that do not answer."""
    twin = endpoints.aws.endpoint_url and endpoints.source.startswith("outputs file")
    hint = f"; is the twin up? (python -m app_code local up -e {endpoints.env})" if twin else ""
    api = "the AWS API endpoint (moto)" if twin else "AWS_ENDPOINT_URL"
    probe_url(endpoints.aws.endpoint_url, api, hint)
    targets: list[tuple[HostPort, str]] = []
    if "sql" in workloads or "cache" in workloads:
        db = endpoints.database
        targets += [(db.writer, "database writer")] + [(r, "database replica") for r in db.readers]
    if "dynamo" in workloads:
        endpoints.dynamo  # noqa: B018 - parse (and so validate) the outputs before any work
    if "cache" in workloads:
        targets.append((endpoints.cache.endpoint, "cache endpoint"))
        if endpoints.cache.reader:
            targets.append((endpoints.cache.reader, "cache reader endpoint"))
    for hp, what in targets:
        probe(hp.host, hp.port, what, hint)
    if "dynamo" in workloads:
        _api_answers(endpoints, "dynamodb", "DescribeTable",
                     lambda c: c.describe_table(TableName=endpoints.dynamo.table_name))
    if "sql" in workloads or "cache" in workloads:
        _api_answers(endpoints, "secretsmanager", "DescribeSecret",
                     lambda c: c.describe_secret(SecretId=endpoints.database.app_login_arn))
    if "cache" in workloads:
        for hp, what in targets:
            if what.startswith("cache"):
                _redis_answers(endpoints, hp, what, cache_ca_bundle or endpoints.aws.ca_bundle)


def _api_answers(endpoints: Endpoints, service: str, operation: str, call) -> None:
    """One call with short timeouts and no retry: an API that does not answer is named, not waited on."""
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

    client = endpoints.aws.client(service, max_attempts=1, connect_timeout=3, read_timeout=ANSWER_TIMEOUT_S)
    where = endpoints.aws.endpoint_url or f"{service} in {client.meta.region_name}"
    try:
        call(client)
    except (ConnectTimeoutError, ReadTimeoutError, EndpointConnectionError) as exc:
        raise BadInput(f"{where} did not answer {operation} within {ANSWER_TIMEOUT_S} s "
                       f"({type(exc).__name__})") from None
    except client.exceptions.ClientError:
        pass  # it answered; what it answered is the workload's to report (a missing table, a missing secret)


def _redis_answers(endpoints: Endpoints, hp: HostPort, what: str, ca_bundle: str | None) -> None:
    """PING without credentials: NOAUTH is an answer, and proves a Redis (with TLS when the outputs say so)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    cache = endpoints.cache
    conn = redis.Redis(host=hp.host, port=hp.port, socket_timeout=ANSWER_TIMEOUT_S,
                       socket_connect_timeout=ANSWER_TIMEOUT_S, ssl=cache.tls,
                       ssl_ca_certs=ca_bundle if cache.tls else None, retry=Retry(NoBackoff(), 0))
    try:
        conn.ping()
    except redis.AuthenticationError:
        pass
    except redis.ResponseError as exc:
        if "NOAUTH" not in str(exc) and "NOPERM" not in str(exc):
            raise BadInput(f"{what} at {hp} answered PING with {exc}") from None
    except redis.TimeoutError:
        raise BadInput(f"{what} at {hp} did not answer PING within {ANSWER_TIMEOUT_S} s"
                       f"{' (TLS handshake)' if cache.tls else ''}") from None
    except redis.ConnectionError as exc:
        kind = "a Redis server with TLS" if cache.tls else "a Redis server"
        raise BadInput(f"{what} at {hp} is not {kind}: {' '.join(str(exc).split())}") from None
    finally:
        conn.close()
