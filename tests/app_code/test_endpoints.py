"""The endpoints contract from a `cdk deploy --outputs-file` JSON, from the twin's state dir, and from
CloudFormation DescribeStacks on a real moto server."""

from __future__ import annotations

import json
import uuid

import pytest

from cdk_data_tier.app.endpoints import Endpoints, EndpointsError, HostPort
from tests.app_code.conftest import REGION, cdk_outputs


def test_reads_every_stack_of_a_cdk_outputs_file(outputs_file):
    ep = Endpoints.from_outputs_file(outputs_file(cdk_outputs()))
    assert ep.env == "dev"
    assert ep.network.vpc_id.startswith("vpc-")
    app = ep.app
    assert (app.instance_id, app.venv, app.run_as) == ("i-0fedcba9876543210", "/opt/cdk-data-tier/venv", "data-tier")
    db = ep.database
    assert db.writer == HostPort(f"dev-database-primary.c9akciq32.{REGION}.rds.amazonaws.com", 5433)
    assert [r.port for r in db.readers] == [5433]
    assert (db.engine, db.family, db.database_name) == ("postgres", "postgres", "catalog")
    dy = ep.dynamo
    assert (dy.table_name, dy.gsi_names, dy.lsi_names, dy.partition_key, dy.sort_key, dy.stream_arn) == (
        "dev-catalog", ("gsi1",), ("lsi1",), "pk", "sk", None)
    cache = ep.cache
    assert (cache.cluster_mode, cache.tls, cache.engine, cache.endpoint.port) == (False, True, "valkey", 6380)
    assert cache.reader and cache.reader.host.startswith("replica.")
    assert cache.auth_secret_arn and cache.auth_secret_arn.endswith("XyZ123")


def test_workloads_get_the_app_users_secret_and_never_fall_back_to_the_admins(outputs_file):
    db = Endpoints.from_outputs_file(outputs_file(cdk_outputs())).database
    assert db.app_login_arn.endswith("/database/app-GhIjKl") and db.admin_secret_arn.endswith("/database/admin-AbCdEf")
    assert db.iam_user == "app_iam"
    older = cdk_outputs()
    del older["dev-Database"]["AppSecretArn"], older["dev-Database"]["IamAuthUser"]
    db = Endpoints.from_outputs_file(outputs_file(older)).database  # stacks from before the app user still parse
    assert (db.app_secret_arn, db.iam_user) == (None, None)
    with pytest.raises(EndpointsError, match=r"stack dev-Database output AppSecretArn is missing: workloads log in "
                       r"as the application user, never the admin; deploy the current Database stack, then run "
                       r"`python -m app_code ops bootstrap-db`"):
        db.app_login_arn  # noqa: B018


def test_the_region_comes_from_the_arns_when_none_is_configured(outputs_file, monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    data = json.loads(json.dumps(cdk_outputs()).replace(REGION, "eu-west-3"))
    assert Endpoints.from_outputs_file(outputs_file(data)).aws.region == "eu-west-3"


def test_twin_endpoints_carry_ports_and_the_twin_json(outputs_file, tmp_path):
    data = cdk_outputs(
        Database={"WriterEndpoint": "127.0.0.1:41001", "ReaderEndpoints": "127.0.0.1:41002, 127.0.0.1:41003"},
        Cache={"Endpoint": "127.0.0.1:41010", "ClusterMode": "enabled", "ReaderEndpoint": "", "AuthSecretArn": ""},
    )
    outputs_file(data)
    (tmp_path / "twin.json").write_text(json.dumps({
        "env": "dev", "region": "eu-central-1", "aws_endpoint_url": "http://127.0.0.1:41020",
        "ca_bundle": str(tmp_path / "ca.pem"), "components": []}))
    ep = Endpoints.from_twin(tmp_path)
    assert ep.database.writer == HostPort("127.0.0.1", 41001)
    assert ep.database.readers == (HostPort("127.0.0.1", 41002), HostPort("127.0.0.1", 41003))
    assert ep.cache.cluster_mode and ep.cache.reader is None and ep.cache.auth_secret_arn is None
    assert (ep.aws.region, ep.aws.endpoint_url, ep.aws.ca_bundle) == (
        "eu-central-1", "http://127.0.0.1:41020", str(tmp_path / "ca.pem"))


@pytest.mark.parametrize(
    ("data", "access", "message"),
    [
        ({k: v for k, v in cdk_outputs().items() if k != "dev-Cache"}, "cache",
         "stack dev-Cache not found (stacks present: dev-App, dev-Database, dev-Dynamo, dev-Network)"),
        (cdk_outputs(Database={"SecretArn": "  "}), "database", "stack dev-Database output SecretArn is empty"),
        ({**cdk_outputs(), "dev-Dynamo": {"TableName": "t"}}, "dynamo", "stack dev-Dynamo output TableArn is missing"),
        (cdk_outputs(Database={"Port": "fifty"}), "database", "stack dev-Database output Port='fifty' is not a port"),
        (cdk_outputs(Database={"Engine": "oracle"}), "database",
         "stack dev-Database output Engine='oracle' is not one of postgres, mysql, aurora-postgresql, aurora-mysql"),
        (cdk_outputs(Cache={"ClusterMode": "on"}), "cache",
         "stack dev-Cache output ClusterMode='on' is not one of enabled, disabled"),
        (cdk_outputs(Database={"WriterEndpoint": "db:x"}), "database",
         "stack dev-Database output WriterEndpoint='db:x' is not a host or host:port"),
    ],
)
def test_a_bad_output_names_the_stack_and_the_key(outputs_file, data, access, message):
    path = outputs_file(data)
    ep = Endpoints.from_outputs_file(path)
    with pytest.raises(EndpointsError) as err:
        getattr(ep, access)
    assert str(err.value) == f"outputs file {path}: {message}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON (Expecting property name enclosed in double quotes at line 1)"),
        ('["dev-Network"]', "not shaped {StackName: {OutputKey: value}}"),
        ('{"dev-Network": "vpc-1"}', "not shaped {StackName: {OutputKey: value}}"),
        ('{"SomethingElse": {}}', "no stack named <env>-{Network,Database,Dynamo,Cache,App}"),
        (json.dumps({**cdk_outputs("dev"), **cdk_outputs("prod")}),
         "stacks of several environments (dev, prod); pick one with --env"),
    ],
)
def test_a_malformed_outputs_file_is_one_clear_error(outputs_file, content, message):
    path = outputs_file(content)
    with pytest.raises(EndpointsError) as err:
        Endpoints.from_outputs_file(path)
    assert str(err.value) == f"outputs file {path}: {message}"


def test_an_env_picks_one_environment_of_a_shared_outputs_file(outputs_file):
    path = outputs_file({**cdk_outputs("dev"), **cdk_outputs("prod", Dynamo={"TableName": "prod-t"})})
    assert Endpoints.from_outputs_file(path, env="prod").dynamo.table_name == "prod-t"


def test_a_missing_outputs_file_or_twin(tmp_path):
    with pytest.raises(EndpointsError, match=f"outputs file {tmp_path}/nope.json does not exist"):
        Endpoints.from_outputs_file(tmp_path / "nope.json")
    with pytest.raises(EndpointsError, match="no twin in .*outputs.json missing.*local up"):
        Endpoints.from_twin(tmp_path)


def _create_stack(aws, name: str, outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Marker": {"Type": "AWS::SSM::Parameter",
                                 "Properties": {"Type": "String", "Value": name, "Name": f"/{name}/marker"}}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    aws.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_describe_stacks_gives_the_same_endpoints_as_the_outputs_file(aws, outputs_file):
    env = f"t{uuid.uuid4().hex[:8]}"
    data = cdk_outputs(env)
    for name, outputs in data.items():
        _create_stack(aws, name, outputs)
    from_cfn = Endpoints.from_cloudformation(env, aws=aws)
    from_file = Endpoints.from_outputs_file(outputs_file(data))
    assert from_cfn.env == env
    for view in ("network", "database", "dynamo", "cache", "app"):
        assert getattr(from_cfn, view) == getattr(from_file, view)


def test_describe_stacks_errors_name_the_stack_and_the_key(aws):
    env = f"t{uuid.uuid4().hex[:8]}"
    _create_stack(aws, f"{env}-Dynamo", {"TableName": "t", "TableArn": "arn:aws:dynamodb:us-east-1:1:table/t"})
    ep = Endpoints.from_cloudformation(env, aws=aws)
    with pytest.raises(EndpointsError, match=rf"CloudFormation \({env}\): stack {env}-Dynamo output PartitionKey is missing"):
        _ = ep.dynamo
    with pytest.raises(EndpointsError, match=rf"stack {env}-Database not found \(stacks present: {env}-Dynamo\)"):
        _ = ep.database
    with pytest.raises(EndpointsError, match="CloudFormation has no stack nosuchenv-"):
        Endpoints.from_cloudformation("nosuchenv", aws=aws)


def test_describe_stacks_honours_aws_endpoint_url(moto_url, monkeypatch):
    env = f"t{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    from cdk_data_tier.app.endpoints import AwsTarget

    _create_stack(AwsTarget(region=REGION, endpoint_url=moto_url), f"{env}-Network",
                  cdk_outputs(env)[f"{env}-Network"])
    assert Endpoints.from_cloudformation(env).network.bastion_instance_id == "i-0123456789abcdef0"


def test_secrets_come_from_secrets_manager(aws, outputs_file):
    arn = aws.client("secretsmanager").create_secret(
        Name=f"db-{uuid.uuid4().hex[:6]}", SecretString=json.dumps({"username": "app", "password": "s3cr3t"}))["ARN"]
    ep = Endpoints.from_outputs_file(outputs_file(cdk_outputs()))
    ep.aws = aws
    assert ep.secret(arn) == {"username": "app", "password": "s3cr3t"}
    with pytest.raises(EndpointsError, match="secret arn:aws:secretsmanager:us-east-1:1:secret:gone cannot be read"):
        ep.secret("arn:aws:secretsmanager:us-east-1:1:secret:gone")
