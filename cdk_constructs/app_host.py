"""App host: the private instance that runs app_code against the data tier's endpoints."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_data_tier.constructs.ssm_instance import SsmInstance


class AppHost(Construct):
    """Its role starts with SSM access only; each data stack grants it exactly what app_code needs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        instance_type: str = "t3.small",
        termination_protection: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        user_data = ec2.UserData.for_linux()
        # app_code needs Python 3.11+ and the PostgreSQL client for psql-based checks.
        user_data.add_commands("dnf install -y python3.11 python3.11-pip postgresql16 git")
        host = SsmInstance(
            self,
            "Host",
            vpc=vpc,
            subnets=subnets,
            instance_type=instance_type,
            description="app host",
            root_volume_gib=16,
            termination_protection=termination_protection,
            user_data=user_data,
        )
        self.instance: ec2.Instance = host.instance
        self.security_group: ec2.SecurityGroup = host.security_group
        self.role: iam.Role = host.role
