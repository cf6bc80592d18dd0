"""Bastion host: an SSM-only jump box for port forwarding to the private data tier."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_data_tier.constructs.ssm_instance import SsmInstance


class BastionHost(Construct):
    """`aws ssm start-session --document-name AWS-StartPortForwardingSessionToRemoteHost` is the way in."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        instance_type: str = "t3.micro",
        termination_protection: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        host = SsmInstance(
            self,
            "Host",
            vpc=vpc,
            subnets=subnets,
            instance_type=instance_type,
            description="bastion host",
            termination_protection=termination_protection,
        )
        self.instance: ec2.Instance = host.instance
        self.security_group: ec2.SecurityGroup = host.security_group
        self.role: iam.Role = host.role
