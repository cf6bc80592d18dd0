"""`<env>-Network`: security and reliability properties, per environment, plus snapshots.

The hosts' properties are checked on both hosts: the bastion here, the app host's instance in `<env>-App`.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Capture, Match

from tests.fixtures_synth import Synthesized


def _resources(synth: Synthesized, kind: str) -> dict[str, Any]:
    return synth.template("Network").find_resources(kind)


def _hosts(synth: Synthesized) -> dict[str, Any]:
    """Both hosts' instances: the bastion in Network, the app host in App."""
    return {f"{concern}/{lid}": res for concern in ("Network", "App")
            for lid, res in synth.template(concern).find_resources("AWS::EC2::Instance").items()}


def test_no_ingress_from_anywhere(each_env: Synthesized) -> None:
    template = each_env.template_json("Network")
    for name, res in template["Resources"].items():
        rules = []
        if res["Type"] == "AWS::EC2::SecurityGroup":
            rules = res["Properties"].get("SecurityGroupIngress", [])
        elif res["Type"] == "AWS::EC2::SecurityGroupIngress":
            rules = [res["Properties"]]
        for rule in rules:
            assert rule.get("CidrIp") != "0.0.0.0/0", name
            assert rule.get("CidrIpv6") != "::/0", name


def test_hosts_require_imdsv2_with_one_hop_and_have_no_key_pair(each_env: Synthesized) -> None:
    instances = _hosts(each_env)
    assert len(instances) == 2 and len(_resources(each_env, "AWS::EC2::Instance")) == 1
    for inst in instances.values():
        assert "KeyName" not in inst["Properties"]
        assert inst["Properties"]["Monitoring"] is True
        assert inst["Properties"]["MetadataOptions"] == {
            "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1, "HttpTokens": "required"}
    assert not _resources(each_env, "AWS::EC2::LaunchTemplate")


def test_hosts_are_patched_weekly_by_tag_in_the_patch_window(each_env: Synthesized) -> None:
    (association,) = _resources(each_env, "AWS::SSM::Association").values()
    props = association["Properties"]
    assert props["Name"] == "AWS-RunPatchBaseline"
    assert props["Parameters"] == {"Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]}
    assert props["ApplyOnlyAtCronInterval"] is True and props["MaxConcurrency"] == "1"
    day, hour, minute = each_env.config.network.patch_start
    weekday = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")[day]
    assert props["ScheduleExpression"] == f"cron({minute} {hour} ? * {weekday} *)"
    ((target,),) = [props["Targets"]]
    key = target["Key"].removeprefix("tag:")
    for inst in _hosts(each_env).values():
        assert {"Key": key, "Value": target["Values"][0]} in inst["Properties"]["Tags"]
    # The agent may run it: its association and compliance calls, the document, the patch buckets.
    network = each_env.tier.network
    (policy,) = [p for k, p in _resources(each_env, "AWS::IAM::ManagedPolicy").items() if k.startswith("Patching")]
    assert sorted(r["Ref"] for r in policy["Properties"]["Roles"]) == sorted(
        network.get_logical_id(r.node.default_child) for r in (network.app_role, network.bastion_role))
    actions = {a for s in policy["Properties"]["PolicyDocument"]["Statement"]
               for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert {"ssm:ListInstanceAssociations", "ssm:UpdateInstanceAssociationStatus", "ssm:PutComplianceItems",
            "ssm:GetDeployablePatchSnapshotForInstance", "ssm:GetDocument", "s3:GetObject"} <= actions


def test_ebs_is_encrypted(each_env: Synthesized) -> None:
    for inst in _hosts(each_env).values():
        for mapping in inst["Properties"]["BlockDeviceMappings"]:
            assert mapping["Ebs"]["Encrypted"] is True


def test_flow_logs_go_to_an_encrypted_log_group(each_env: Synthesized) -> None:
    template = each_env.template("Network")
    template.has_resource_properties("AWS::EC2::FlowLog", {
        "ResourceType": "VPC", "TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs",
    })
    template.has_resource_properties("AWS::Logs::LogGroup", {
        "KmsKeyId": Match.object_like({"Fn::GetAtt": Match.array_with([Match.string_like_regexp("FlowLogsKey")])}),
        "RetentionInDays": each_env.config.network.flow_log_retention_days,
    })
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_gateway_endpoints_for_s3_and_dynamodb(each_env: Synthesized) -> None:
    endpoints = _resources(each_env, "AWS::EC2::VPCEndpoint")
    services = {str(e["Properties"]["ServiceName"]) for e in endpoints.values()
                if e["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"}
    assert any(".s3" in s for s in services) and any(".dynamodb" in s for s in services)


def _endpoint_policy(synth: Synthesized, service: str) -> list[dict[str, Any]]:
    (endpoint,) = [e for e in _resources(synth, "AWS::EC2::VPCEndpoint").values()
                   if e["Properties"].get("VpcEndpointType") == "Gateway"
                   and service in json.dumps(e["Properties"]["ServiceName"])]
    return endpoint["Properties"]["PolicyDocument"]["Statement"]


def test_s3_endpoint_admits_this_account_and_the_aws_buckets_the_hosts_need(each_env: Synthesized) -> None:
    account, region = each_env.config.account, each_env.config.region
    statements = _endpoint_policy(each_env, ".s3")
    (own,) = [s for s in statements if s["Resource"] == "*"]
    assert own["Condition"] == {"StringEquals": {"aws:ResourceAccount": account}}
    (aws_owned,) = [s for s in statements if s is not own]
    assert aws_owned["Action"] == "s3:GetObject"
    buckets = {r.removeprefix("arn:aws:s3:::").removesuffix("/*") for r in aws_owned["Resource"]}
    assert f"al2023-repos-{region}-*" in buckets  # dnf
    assert {f"aws-ssm-{region}", f"patch-baseline-snapshot-{region}"} <= buckets  # AWS-RunPatchBaseline
    assert all(region in b for b in buckets)
    assert all(s["Effect"] == "Allow" for s in statements)


def test_dynamodb_endpoint_admits_this_accounts_tables_only(each_env: Synthesized) -> None:
    account, region = each_env.config.account, each_env.config.region
    statements = _endpoint_policy(each_env, ".dynamodb")
    (tables,) = [s for s in statements if s["Action"] == "dynamodb:*"]
    assert tables["Resource"] == f"arn:aws:dynamodb:{region}:{account}:*"
    (unscoped,) = [s for s in statements if s is not tables]
    assert all(a.startswith(("dynamodb:List", "dynamodb:Describe")) for a in unscoped["Action"])


def test_hosts_send_only_https_from_this_stack(each_env: Synthesized) -> None:
    """The data stacks add the database and cache ports (tests/stacks/test_access_model.py)."""
    network = each_env.tier.network
    for group in (network.app_security_group, network.bastion_security_group):
        sg = _resources(each_env, "AWS::EC2::SecurityGroup")[network.get_logical_id(group.node.default_child)]
        assert sg["Properties"]["SecurityGroupEgress"] == [
            {"CidrIp": "0.0.0.0/0", "Description": "HTTPS to AWS APIs", "FromPort": 443, "IpProtocol": "tcp",
             "ToPort": 443}]


def test_sessions_are_encrypted_and_logged_to_an_encrypted_group(each_env: Synthesized) -> None:
    template = each_env.template("Network")
    key, group = Capture(), Capture()
    template.has_resource_properties("AWS::SSM::Document", {
        "Name": "SSM-SessionManagerRunShell", "DocumentType": "Session", "UpdateMethod": "NewVersion",
        "Content": Match.object_like({"sessionType": "Standard_Stream", "inputs": Match.object_like({
            "kmsKeyId": {"Ref": key}, "cloudWatchLogGroupName": {"Ref": group},
            "cloudWatchEncryptionEnabled": True, "cloudWatchStreamingEnabled": True, "runAsEnabled": False})})})
    keys, groups = _resources(each_env, "AWS::KMS::Key"), _resources(each_env, "AWS::Logs::LogGroup")
    assert keys[key.as_string()]["Properties"]["EnableKeyRotation"] is True
    log_group = groups[group.as_string()]["Properties"]
    assert log_group["RetentionInDays"] == each_env.config.network.session_log_retention_days
    assert log_group["KmsKeyId"]["Fn::GetAtt"][0] != key.as_string()  # the transcripts have a key of their own
    (policy,) = [p for k, p in _resources(each_env, "AWS::IAM::ManagedPolicy").items() if k.startswith("SessionLog")]
    statements = {tuple(sorted(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])): s["Resource"]
                  for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    account, region = each_env.config.account, each_env.config.region
    assert statements == {
        ("logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"):
            {"Fn::GetAtt": [group.as_string(), "Arn"]},
        ("logs:DescribeLogGroups",): f"arn:aws:logs:{region}:{account}:log-group:*",
        ("kms:Decrypt", "kms:GenerateDataKey"): {"Fn::GetAtt": [key.as_string(), "Arn"]},
    }
    network = each_env.tier.network
    assert sorted(r["Ref"] for r in policy["Properties"]["Roles"]) == sorted(
        network.get_logical_id(r.node.default_child) for r in (network.app_role, network.bastion_role))


def test_default_security_group_is_restricted(each_env: Synthesized) -> None:
    each_env.template("Network").resource_count_is("Custom::VpcRestrictDefaultSG", 1)


def test_subnet_tiers_and_nat_count_follow_config(each_env: Synthesized) -> None:
    net = each_env.config.network
    subnets = _resources(each_env, "AWS::EC2::Subnet")
    assert len(subnets) == 3 * net.az_count
    assert all(s["Properties"]["MapPublicIpOnLaunch"] is False for s in subnets.values())
    assert len(_resources(each_env, "AWS::EC2::NatGateway")) == net.nat_gateways


def test_zero_nat_drops_the_egress_tier_and_adds_the_hosts_endpoints(synth_variant) -> None:
    """SSM for both hosts, with KMS and CloudWatch Logs for their encrypted, logged sessions; CloudFormation and
    Secrets Manager for app_code on the app host, which reads its stacks' outputs and its secrets itself (S3 and
    DynamoDB have their gateway endpoints)."""
    synth = synth_variant("dev", {"network": {"nat_gateways": 0}})
    template = synth.template("Network")
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    names = [s["Properties"]["Tags"] for s in template.find_resources("AWS::EC2::Subnet").values()]
    assert not any("private" in str(t) for t in names)
    interface = [e["Properties"] for e in template.find_resources("AWS::EC2::VPCEndpoint").values()
                 if e["Properties"].get("VpcEndpointType") == "Interface"]
    services = sorted(json.dumps(e["ServiceName"]).split(".")[-1].strip('"]}') for e in interface)
    assert services == ["cloudformation", "ec2messages", "kms", "logs", "secretsmanager", "ssm", "ssmmessages"]
    assert all(e["PrivateDnsEnabled"] is True for e in interface)
    for inst in template.find_resources("AWS::EC2::Instance").values():
        assert "dataSubnet" in inst["Properties"]["SubnetId"]["Ref"]
    (app_host,) = synth.template("App").find_resources("AWS::EC2::Instance").values()
    assert "dataSubnet" in app_host["Properties"]["SubnetId"]["Fn::GetStackOutput"]["OutputName"]


def test_outputs_are_the_contract(each_env: Synthesized) -> None:
    outputs = each_env.template_json("Network")["Outputs"]
    assert {"VpcId", "BastionInstanceId"} <= set(outputs)
    assert "AppHostInstanceId" not in outputs  # the App stack's


def test_prod_protects_hosts_and_dev_does_not(dev: Synthesized, prod: Synthesized) -> None:
    for synth, expected in ((dev, False), (prod, True)):
        for inst in _hosts(synth).values():
            assert inst["Properties"]["DisableApiTermination"] is expected


def test_snapshot(each_env: Synthesized, snapshot) -> None:
    assert each_env.template_json("Network") == snapshot
