"""BastionHost and AppHost in a bare Stack: SSM-only access, IMDSv2, encrypted EBS, no key pair, no ingress.

The app host's security group and role (AppHostIdentity) can live in another stack than its instance.
"""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Capture, Match, Template

from cdk_data_tier.constructs.app_host import AppHost, AppHostIdentity, host_machine
from cdk_data_tier.constructs.bastion_host import BastionHost

ENV = cdk.Environment(account="111111111111", region="us-east-1")
PRIVATE = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)


def _host_template(kind: type, **props: object) -> Template:
    app = cdk.App()
    stack = cdk.Stack(app, "Bare", env=ENV)
    vpc = ec2.Vpc(stack, "Vpc", availability_zones=["us-east-1a", "us-east-1b"])
    if kind is AppHost:
        props = {"identity": AppHostIdentity(stack, "Identity", vpc=vpc), **props}
    kind(stack, "Host", vpc=vpc, subnets=PRIVATE, **props)
    return Template.from_stack(stack)


@pytest.fixture(scope="module", params=[BastionHost, AppHost], ids=["bastion", "app-host"])
def template(request: pytest.FixtureRequest) -> Template:
    return _host_template(request.param)


def test_instance_is_private_monitored_and_has_no_key_pair(template: Template) -> None:
    instances = template.find_resources("AWS::EC2::Instance")
    assert len(instances) == 1
    props = next(iter(instances.values()))["Properties"]
    assert "KeyName" not in props
    assert props["Monitoring"] is True
    assert props["EbsOptimized"] is True
    assert props["SubnetId"]["Ref"].startswith("VpcPrivateSubnet")
    assert props["ImageId"]["Ref"].startswith("SsmParameterValueawsserviceamiamazonlinuxlatestal2023")


def test_root_volume_is_encrypted_gp3(template: Template) -> None:
    template.has_resource_properties("AWS::EC2::Instance", {
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda",
                                 "Ebs": Match.object_like({"Encrypted": True, "VolumeType": "gp3"})}],
    })


def test_imdsv2_is_required_with_a_hop_limit_of_one(template: Template) -> None:
    template.has_resource_properties("AWS::EC2::Instance", {
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"},
    })


def test_security_group_has_no_ingress_and_only_https_out(template: Template) -> None:
    (sg,) = [s for s in template.find_resources("AWS::EC2::SecurityGroup").values()
             if "Session Manager" in s["Properties"]["GroupDescription"]]
    assert "SecurityGroupIngress" not in sg["Properties"]
    assert template.find_resources("AWS::EC2::SecurityGroupIngress") == {}
    assert [(r["CidrIp"], r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in sg["Properties"]["SecurityGroupEgress"]
            ] == [("0.0.0.0/0", "tcp", 443, 443)]


def test_session_manager_policy_is_customer_managed_and_region_scoped(template: Template) -> None:
    actions = Capture()
    template.has_resource_properties("AWS::IAM::ManagedPolicy", {
        "PolicyDocument": {"Statement": [Match.object_like({
            "Action": actions,
            "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
        })]},
    })
    assert "ssmmessages:OpenDataChannel" in actions.as_array()
    assert not any(a.endswith(":*") for a in actions.as_array())
    role = next(iter(template.find_resources("AWS::IAM::Role").values()))["Properties"]
    assert "ManagedPolicyArns" not in role


def test_termination_protection_follows_the_prop() -> None:
    protected = _host_template(BastionHost, termination_protection=True)
    protected.has_resource_properties("AWS::EC2::Instance", {"DisableApiTermination": True})
    _host_template(BastionHost).has_resource_properties("AWS::EC2::Instance", {"DisableApiTermination": False})


def test_props_are_keyword_only() -> None:
    stack = cdk.Stack(cdk.App(), "Bare")
    vpc = ec2.Vpc(stack, "Vpc")
    with pytest.raises(TypeError):
        BastionHost(stack, "Host", vpc, ec2.SubnetSelection())  # type: ignore[misc]


def test_the_app_hosts_group_and_role_stay_with_the_vpc_and_its_instance_moves() -> None:
    app = cdk.App()
    network = cdk.Stack(app, "Network", env=ENV)
    vpc = ec2.Vpc(network, "Vpc", availability_zones=["us-east-1a", "us-east-1b"])
    identity = AppHostIdentity(network, "AppHost", vpc=vpc)
    apps = cdk.Stack(app, "App", env=ENV)
    AppHost(apps, "AppHost", vpc=vpc, subnets=PRIVATE, identity=identity)

    here, there = Template.from_stack(network), Template.from_stack(apps)
    here.resource_count_is("AWS::EC2::Instance", 0)
    here.resource_count_is("AWS::IAM::Role", 1)
    there.resource_count_is("AWS::EC2::Instance", 1)
    there.resource_count_is("AWS::IAM::Role", 0)
    there.resource_count_is("AWS::EC2::SecurityGroup", 0)
    assert [d.node.id for d in apps.dependencies] == ["Network"]  # one way only: no cycle
    assert network.dependencies == []


@pytest.mark.parametrize("instance_type, machine, ami", [
    ("t3.small", "x86_64", "x8664"), ("m7i.large", "x86_64", "x8664"), ("t4g.small", "aarch64", "arm64"),
    ("m7g.large", "aarch64", "arm64"), ("c7gn.xlarge", "aarch64", "arm64")])
def test_the_ami_and_the_wheels_follow_the_instance_types_processor(instance_type: str, machine: str,
                                                                    ami: str) -> None:
    assert host_machine(instance_type) == machine
    template = _host_template(AppHost, instance_type=instance_type)
    (instance,) = template.find_resources("AWS::EC2::Instance").values()
    assert ami in instance["Properties"]["ImageId"]["Ref"]
