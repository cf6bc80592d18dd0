"""The endpoints contract (docs/endpoints-contract.md) as one typed object.

Three sources give the same keys: the JSON that `cdk deploy --outputs-file` writes, CloudFormation
DescribeStacks for an environment's stacks, and the local twin's `.twin/<env>/outputs.json` (whose
sibling `twin.json` says how to reach moto and which CA the twin's TLS chains to). A stack is only
looked at when a workload asks for it, so `run dynamo` works with an outputs file holding only Dynamo.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from cdk_data_tier.app.aws_session import TWIN_CREDENTIALS, isolated_session, no_proxies, user_session

# Every stack of an environment, `<env>-<suffix>` (stacks/data_tier.py builds the same list).
STACK_SUFFIXES = ("Network", "Database", "Dynamo", "Cache", "App")
DB_ENGINES = ("postgres", "mysql", "aurora-postgresql", "aurora-mysql")
CACHE_ENGINES = ("valkey", "redis")


class EndpointsError(Exception):
    """Outputs that cannot be used: the message names the source, the stack and the key."""


@dataclass(frozen=True)
class HostPort:
    host: str
    port: int

    @classmethod
    def parse(cls, value: str, default_port: int, *, where: str) -> HostPort:
        value = value.strip()
        host, sep, port = value.rpartition(":")
        if not sep:
            return cls(value, default_port)
        if not host or not port.isdigit():
            raise EndpointsError(f"{where}={value!r} is not a host or host:port")
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class AwsTarget:
    """Where the AWS APIs are: real AWS (endpoint_url None) or moto on loopback."""

    region: str | None = None
    endpoint_url: str | None = None
    ca_bundle: str | None = None  # the trust store for the data tier's TLS (RDS/ElastiCache CA, or the twin's CA)
    # The twin: placeholder keys, and a session that reads nothing of the user's AWS configuration.
    static_credentials: tuple[str, str] | None = None
    profile: str | None = None  # AWS: the user's named profile (None: AWS_PROFILE or the default chain)

    def _kwargs(self, max_attempts: int, config: dict[str, Any]) -> dict[str, Any]:
        from botocore.config import Config

        # Standard mode retries throttling and transient errors with jittered backoff, a bounded number of times.
        settings = {"connect_timeout": 5, "read_timeout": 30, **(no_proxies() if self.static_credentials else {}),
                    **config}
        cfg = Config(retries={"mode": "standard", "max_attempts": max_attempts}, **settings)
        return {"region_name": self.region, "endpoint_url": self.endpoint_url, "config": cfg}

    def session(self):
        if self.static_credentials:
            return isolated_session(self.region, self.static_credentials)
        return user_session(self.profile, self.region)

    def client(self, service: str, *, max_attempts: int = 5, **config: Any):
        return self.session().client(service, **self._kwargs(max_attempts, config))

    def resource(self, service: str, *, max_attempts: int = 5, **config: Any):
        return self.session().resource(service, **self._kwargs(max_attempts, config))


@dataclass(frozen=True)
class NetworkEndpoints:
    vpc_id: str
    bastion_instance_id: str


@dataclass(frozen=True)
class AppEndpoints:
    """The app host and the release of app_code on it (`remote run` sends its commands there)."""

    instance_id: str
    venv: str  # the venv's fixed path: <venv>/bin/data-tier
    run_as: str  # the unprivileged account the workloads run as
    release: str


@dataclass(frozen=True)
class DatabaseEndpoints:
    writer: HostPort
    readers: tuple[HostPort, ...]
    port: int
    admin_secret_arn: str  # SecretArn: the master user's, for its rotation and the bootstrap only
    engine: str
    database_name: str
    # AppSecretArn: the application user's login, what workloads use (absent from stacks older than it)
    app_secret_arn: str | None = None
    iam_user: str | None = None  # IamAuthUser: the user IAM database authentication admits
    where: str = field(default="", compare=False)  # the source and stack, named by a missing AppSecretArn

    @property
    def family(self) -> str:
        return "mysql" if self.engine.endswith("mysql") else "postgres"

    @property
    def app_login_arn(self) -> str:
        """The app user's secret: workloads never log in with the admin's."""
        if not self.app_secret_arn:
            raise EndpointsError(f"{self.where} output AppSecretArn is missing: workloads log in as the application "
                                 "user, never the admin; deploy the current Database stack, then run "
                                 "`python -m app_code ops bootstrap-db`")
        return self.app_secret_arn


@dataclass(frozen=True)
class DynamoEndpoints:
    table_name: str
    table_arn: str
    gsi_names: tuple[str, ...]
    lsi_names: tuple[str, ...]
    partition_key: str
    sort_key: str | None
    stream_arn: str | None = None


@dataclass(frozen=True)
class CacheEndpoints:
    endpoint: HostPort
    reader: HostPort | None
    port: int
    cluster_mode: bool
    tls: bool
    auth_secret_arn: str | None
    engine: str


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _region_from_arn(arn: str) -> str | None:
    parts = arn.split(":")
    return (parts[3] or None) if len(parts) > 5 and parts[0] == "arn" else None


@dataclass
class Endpoints:
    env: str
    source: str  # where the outputs came from, for error messages
    stacks: dict[str, dict[str, str]]
    aws: AwsTarget = field(default_factory=AwsTarget)

    # --- construction -------------------------------------------------------------------------------

    @classmethod
    def from_outputs_file(cls, path: str | os.PathLike[str], *, env: str | None = None) -> Endpoints:
        path = Path(path)
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            raise EndpointsError(f"outputs file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise EndpointsError(f"outputs file {path}: cannot be read: {exc}") from None
        except json.JSONDecodeError as exc:
            raise EndpointsError(f"outputs file {path}: not JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
            raise EndpointsError(f"outputs file {path}: not shaped {{StackName: {{OutputKey: value}}}}")
        stacks = {name: {k: "" if v is None else str(v) for k, v in outs.items()} for name, outs in raw.items()}
        source = f"outputs file {path}"
        env = env or _single_env(stacks, source=source)
        aws = _twin_target(path.parent / "twin.json") or AwsTarget()
        return cls(env=env, source=source, stacks=stacks, aws=_with_region_default(aws, stacks))

    @classmethod
    def from_twin(cls, state_dir: str | os.PathLike[str]) -> Endpoints:
        outputs = Path(state_dir) / "outputs.json"
        if not outputs.exists():
            raise EndpointsError(f"no twin in {state_dir} ({outputs} missing): run `python -m app_code local up`")
        return cls.from_outputs_file(outputs)

    @classmethod
    def from_cloudformation(cls, env: str, *, aws: AwsTarget | None = None) -> Endpoints:
        """Read the outputs of `<env>-Network/-Database/-Dynamo/-Cache/-App`; stacks that are absent stay absent."""
        from botocore.exceptions import BotoCoreError, ClientError

        aws = aws or AwsTarget(region=_env_region(), endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
        cfn = aws.client("cloudformation")
        stacks: dict[str, dict[str, str]] = {}
        for suffix in STACK_SUFFIXES:
            name = f"{env}-{suffix}"
            try:
                described = cfn.describe_stacks(StackName=name)["Stacks"]
            except ClientError as exc:
                if "does not exist" in str(exc):
                    continue
                raise EndpointsError(f"DescribeStacks {name}: {exc}") from None
            except BotoCoreError as exc:
                raise EndpointsError(f"DescribeStacks {name}: {exc}") from None
            for stack in described:
                if stack.get("StackStatus", "").endswith("_FAILED") or stack.get("StackStatus") == "DELETE_COMPLETE":
                    raise EndpointsError(f"stack {name} is {stack['StackStatus']}, its outputs cannot be trusted")
                stacks[name] = {o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])}
        if not stacks:
            raise EndpointsError(f"CloudFormation has no stack {env}-{{{','.join(STACK_SUFFIXES)}}} for env {env!r}")
        return cls(env=env, source=f"CloudFormation ({env})", stacks=stacks, aws=_with_region_default(aws, stacks))

    # --- typed views, each failing with the stack and the key ---------------------------------------

    def _stack(self, suffix: str) -> dict[str, str]:
        name = f"{self.env}-{suffix}"
        if name not in self.stacks:
            present = ", ".join(sorted(self.stacks)) or "none"
            raise EndpointsError(f"{self.source}: stack {name} not found (stacks present: {present})")
        return self.stacks[name]

    def _get(self, suffix: str, key: str, *, required: bool = True) -> str:
        outs = self._stack(suffix)
        value = outs.get(key)
        if value is None and not required:
            return ""  # the contract leaves optional outputs out rather than emitting "" (endpoints-contract.md)
        if value is None or (required and not value.strip()):
            state = "missing" if value is None else "empty"
            raise EndpointsError(f"{self.source}: stack {self.env}-{suffix} output {key} is {state}")
        return value.strip()

    def _int(self, suffix: str, key: str) -> int:
        value = self._get(suffix, key)
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise EndpointsError(f"{self.source}: stack {self.env}-{suffix} output {key}={value!r} is not a port")
        return int(value)

    def _choice(self, suffix: str, key: str, allowed: tuple[str, ...]) -> str:
        value = self._get(suffix, key)
        if value not in allowed:
            raise EndpointsError(
                f"{self.source}: stack {self.env}-{suffix} output {key}={value!r} is not one of {', '.join(allowed)}"
            )
        return value

    def _where(self, suffix: str, key: str) -> str:
        return f"{self.source}: stack {self.env}-{suffix} output {key}"

    @cached_property
    def network(self) -> NetworkEndpoints:
        return NetworkEndpoints(
            vpc_id=self._get("Network", "VpcId"),
            bastion_instance_id=self._get("Network", "BastionInstanceId"),
        )

    @cached_property
    def app(self) -> AppEndpoints:
        return AppEndpoints(
            instance_id=self._get("App", "AppHostInstanceId"),
            venv=self._get("App", "AppVenv"),
            run_as=self._get("App", "AppRunAs"),
            release=self._get("App", "AppRelease", required=False),
        )

    @cached_property
    def database(self) -> DatabaseEndpoints:
        port = self._int("Database", "Port")
        readers = self._get("Database", "ReaderEndpoints", required=False)
        return DatabaseEndpoints(
            writer=HostPort.parse(self._get("Database", "WriterEndpoint"), port,
                                  where=self._where("Database", "WriterEndpoint")),
            readers=tuple(HostPort.parse(r, port, where=self._where("Database", "ReaderEndpoints"))
                          for r in _split(readers)),
            port=port,
            admin_secret_arn=self._get("Database", "SecretArn"),
            engine=self._choice("Database", "Engine", DB_ENGINES),
            database_name=self._get("Database", "DatabaseName"),
            app_secret_arn=self._get("Database", "AppSecretArn", required=False) or None,
            iam_user=self._get("Database", "IamAuthUser", required=False) or None,
            where=f"{self.source}: stack {self.env}-Database",
        )

    @cached_property
    def dynamo(self) -> DynamoEndpoints:
        outs = self._stack("Dynamo")
        return DynamoEndpoints(
            table_name=self._get("Dynamo", "TableName"),
            table_arn=self._get("Dynamo", "TableArn"),
            gsi_names=_split(self._get("Dynamo", "GsiNames", required=False)),
            lsi_names=_split(outs.get("LsiNames", "")),
            partition_key=self._get("Dynamo", "PartitionKey"),
            sort_key=(outs.get("SortKey") or "").strip() or None,
            stream_arn=(outs.get("StreamArn") or "").strip() or None,
        )

    @cached_property
    def cache(self) -> CacheEndpoints:
        port = self._int("Cache", "Port")
        cluster = self._choice("Cache", "ClusterMode", ("enabled", "disabled")) == "enabled"
        reader = self._stack("Cache").get("ReaderEndpoint", "").strip()
        return CacheEndpoints(
            endpoint=HostPort.parse(self._get("Cache", "Endpoint"), port, where=self._where("Cache", "Endpoint")),
            reader=None if cluster or not reader
            else HostPort.parse(reader, port, where=self._where("Cache", "ReaderEndpoint")),
            port=port,
            cluster_mode=cluster,
            tls=self._choice("Cache", "TlsEnabled", ("true", "false")) == "true",
            auth_secret_arn=self._get("Cache", "AuthSecretArn", required=False) or None,
            engine=self._choice("Cache", "Engine", CACHE_ENGINES),
        )

    # --- credentials --------------------------------------------------------------------------------

    def secret(self, arn: str) -> dict[str, Any]:
        """A Secrets Manager secret's JSON: credentials never travel in the outputs."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            # By stage, not the bare call: moto answers that from a secret's first version even after a rotation.
            value = self.aws.client("secretsmanager").get_secret_value(
                SecretId=arn, VersionStage="AWSCURRENT")["SecretString"]
        except (ClientError, BotoCoreError, KeyError) as exc:
            raise EndpointsError(f"secret {arn} cannot be read: {exc}") from None
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            raise EndpointsError(f"secret {arn} is not JSON") from None
        if not isinstance(parsed, dict):
            raise EndpointsError(f"secret {arn} is not a JSON object")
        return parsed


def _single_env(stacks: dict[str, dict[str, str]], *, source: str) -> str:
    envs = {name.rsplit("-", 1)[0] for name in stacks if name.rsplit("-", 1)[-1] in STACK_SUFFIXES and "-" in name}
    if len(envs) == 1:
        return envs.pop()
    if not envs:
        raise EndpointsError(f"{source}: no stack named <env>-{{{','.join(STACK_SUFFIXES)}}}")
    raise EndpointsError(f"{source}: stacks of several environments ({', '.join(sorted(envs))}); pick one with --env")


def _twin_target(twin_json: Path) -> AwsTarget | None:
    if not twin_json.exists():
        return None
    try:
        twin = json.loads(twin_json.read_text())
        return AwsTarget(region=twin.get("region"), endpoint_url=twin.get("aws_endpoint_url"),
                         ca_bundle=twin.get("ca_bundle"), static_credentials=TWIN_CREDENTIALS)
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise EndpointsError(f"{twin_json} is not a twin description: {exc}") from None


def _env_region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def _with_region_default(aws: AwsTarget, stacks: dict[str, dict[str, str]]) -> AwsTarget:
    """On the app host no region may be configured; the ARNs in the outputs carry it."""
    if aws.region:
        return aws
    region = _env_region()
    if not region:
        for outs in stacks.values():
            for key in ("TableArn", "AppSecretArn", "SecretArn", "AuthSecretArn"):
                region = region or _region_from_arn(outs.get(key, ""))
    return dataclasses.replace(aws, region=region,
                               endpoint_url=aws.endpoint_url or os.environ.get("AWS_ENDPOINT_URL"))
