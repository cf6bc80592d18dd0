"""moto's server on loopback: the AWS APIs of the twin (DynamoDB, Secrets Manager, EC2 ids).

It runs with the template's account id (MOTO_ACCOUNT_ID), so ARNs carry the same account and
region as the deployed stacks'. Clients reach it through `aws_endpoint_url` in twin.json.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from typing import Any

from botocore.config import Config

from cdk_data_tier.app.aws_session import isolated_session, no_proxies
from cdk_data_tier.app.local import ports
from cdk_data_tier.app.local.procs import IMPORT_ROOT, spawn, start_on_free_port
from cdk_data_tier.app.local.spec import NetworkResource, TableSpec
from cdk_data_tier.app.local.state import State

READY_TIMEOUT = 30


# Loopback is reached directly: an HTTP(S)_PROXY of the user's shell would carry the probe elsewhere.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_ok(url: str) -> bool:
    try:
        with _DIRECT.open(url, timeout=1) as response:
            return bool(response.status < 500)
    except urllib.error.HTTPError as err:
        return err.code < 500


class MotoTwin:
    def __init__(self, state: State, account: str, region: str) -> None:
        self.state = state
        self.account = account
        self.region = region
        self.port = 0
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def endpoint_url(self) -> str:
        return f"http://{ports.HOST}:{self.port}"

    def start(self) -> None:
        log = self.state.path("logs", "moto.log")
        log.parent.mkdir(exist_ok=True)
        # The server runs boto3 inside (moto's backends): none of the user's AWS settings may reach it either.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
            "MOTO_ACCOUNT_ID": self.account, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_ACCESS_KEY_ID": "twin", "AWS_SECRET_ACCESS_KEY": "twin", "AWS_DEFAULT_REGION": self.region}

        def start(port: int) -> tuple[Any, Any]:
            self.port = port
            # SIGKILL: moto keeps everything in memory, and on SIGTERM its threaded server waits for
            # clients' idle keep-alive connections to close, which can take many seconds.
            # moto_app: moto.server with DynamoDB requests one at a time (its backend is not thread-safe).
            return spawn("moto", "moto", [sys.executable, "-m", "cdk_data_tier.app.local.moto_app", "-H", ports.HOST,
                                          "-p", str(port)], log=log, port=port, env=env, stop_signal=signal.SIGKILL,
                         cwd=IMPORT_ROOT)

        start_on_free_port(pick_port=ports.free_port, start=start, record=self.state.add_proc,
                           ready=lambda: http_ok(f"{self.endpoint_url}/moto-api/"), log=log, what="moto server",
                           timeout=READY_TIMEOUT)

    def client(self, service: str) -> Any:
        # Building a boto3 client costs a few hundred ms (it loads the service model): build each once.
        with self._lock:
            if service not in self._clients:
                self._clients[service] = isolated_session(self.region).client(
                    service, endpoint_url=self.endpoint_url,
                    config=Config(retries={"mode": "standard", "max_attempts": 3}, **no_proxies()))
            return self._clients[service]

    # -- resources ------------------------------------------------------------------------------
    def create_table(self, spec: TableSpec, name: str) -> dict[str, str]:
        ddb = self.client("dynamodb")
        provisioned = spec.billing_mode == "PROVISIONED"
        throughput = {"ReadCapacityUnits": spec.read_capacity or 5, "WriteCapacityUnits": spec.write_capacity or 5}

        def index(ix: Any, is_global: bool) -> dict[str, Any]:
            out: dict[str, Any] = {
                "IndexName": ix.name,
                "KeySchema": [{"AttributeName": a, "KeyType": t} for a, t in ix.key_schema],
                "Projection": {"ProjectionType": ix.projection_type,
                               **({"NonKeyAttributes": list(ix.non_key_attributes)} if ix.non_key_attributes else {})},
            }
            if is_global and provisioned:
                out["ProvisionedThroughput"] = throughput
            return out

        args: dict[str, Any] = {
            "TableName": name,
            "KeySchema": [{"AttributeName": a, "KeyType": t} for a, t in spec.key_schema],
            "AttributeDefinitions": [{"AttributeName": a, "AttributeType": t} for a, t in spec.attributes],
            "BillingMode": spec.billing_mode,
            "DeletionProtectionEnabled": spec.deletion_protection,
        }
        if provisioned:
            args["ProvisionedThroughput"] = throughput
        if spec.gsis:
            args["GlobalSecondaryIndexes"] = [index(g, True) for g in spec.gsis]
        if spec.lsis:
            args["LocalSecondaryIndexes"] = [index(i, False) for i in spec.lsis]
        if spec.stream_view_type:
            args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": spec.stream_view_type}
        table = ddb.create_table(**args)["TableDescription"]
        if spec.ttl_attribute:
            ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "Enabled": True, "AttributeName": spec.ttl_attribute})
        if spec.pitr:
            ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True})
        attrs = {"Arn": table["TableArn"], "TableId": table.get("TableId", name)}
        if table.get("LatestStreamArn"):
            attrs["StreamArn"] = table["LatestStreamArn"]
        return attrs

    def create_secret(self, name: str, value: dict[str, Any] | str, description: str) -> str:
        text = value if isinstance(value, str) else json.dumps(value)
        return str(self.client("secretsmanager").create_secret(Name=name, SecretString=text,
                                                               Description=description)["ARN"])

    def create_network(self, resources: list[NetworkResource]) -> dict[tuple[str, str], dict[str, str]]:
        """VPCs and instances exist in moto's EC2, so their ids are real to EC2 API calls against the twin."""
        if not resources:
            return {}
        ec2 = self.client("ec2")
        out: dict[tuple[str, str], dict[str, str]] = {}
        for res in (r for r in resources if r.type == "AWS::EC2::VPC"):
            cidr = res.properties.get("CidrBlock")
            vpc = ec2.create_vpc(CidrBlock=cidr if isinstance(cidr, str) else "10.0.0.0/16")["Vpc"]
            out[(res.stack, res.logical_id)] = {"Ref": vpc["VpcId"], "CidrBlock": vpc["CidrBlock"],
                                                "VpcId": vpc["VpcId"]}
        for res in (r for r in resources if r.type == "AWS::EC2::Instance"):
            kind = res.properties.get("InstanceType")
            instance = ec2.run_instances(ImageId="ami-00000000000twin", MinCount=1, MaxCount=1,
                                         InstanceType=kind if isinstance(kind, str) else "t3.micro")["Instances"][0]
            out[(res.stack, res.logical_id)] = {
                "Ref": instance["InstanceId"], "InstanceId": instance["InstanceId"],
                "PrivateIp": instance.get("PrivateIpAddress", ""), "AvailabilityZone":
                    instance.get("Placement", {}).get("AvailabilityZone", "")}
        return out
