"""App host: the private instance that runs app_code against the data tier's endpoints.

Its security group and role (`AppHostIdentity`) are what the data stacks open their ports to and grant, so
they stay with the VPC; the instance (`AppHost`) can then live in a stack of its own, where a new release of
app_code is deployed without touching the VPC or the data stores.
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_data_tier.constructs.ssm_instance import SsmHostIdentity, SsmInstance

# Amazon Linux 2023's own python3.11 package: the interpreter the app's venv is made with.
HOST_PYTHON = "3.11"
# glibc of Amazon Linux 2023: the newest manylinux wheels the host can load.
HOST_GLIBC = (2, 34)
_MACHINE = {ec2.InstanceArchitecture.ARM_64: "aarch64", ec2.InstanceArchitecture.X86_64: "x86_64"}


def host_machine(instance_type: str) -> str:
    """`uname -m` of an instance type: aarch64 for Graviton, x86_64 otherwise (what its wheels must be built for)."""
    return _MACHINE[ec2.InstanceType(instance_type).architecture]


class AppHostIdentity(Construct):
    """The app host's security group (no ingress) and role (Session Manager only, until others grant more)."""

    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc) -> None:
        super().__init__(scope, construct_id)
        self.host = SsmHostIdentity(self, "Host", vpc=vpc, description="app host")
        self.security_group: ec2.SecurityGroup = self.host.security_group
        self.role: iam.Role = self.host.role


class AppHost(Construct):
    """The instance, booted with the Python its venv is made with; `AppInstall` puts app_code on it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        identity: AppHostIdentity,
        instance_type: str = "t3.small",
        termination_protection: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        user_data = ec2.UserData.for_linux()
        # app_code needs Python 3.11+ and the PostgreSQL client for psql-based checks. The user data never
        # changes with a release of app_code: changing it would stop the instance.
        user_data.add_commands(f"dnf install -y python{HOST_PYTHON} python{HOST_PYTHON}-pip postgresql16 git")
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
            identity=identity.host,
        )
        self.instance: ec2.Instance = host.instance
        self.security_group: ec2.ISecurityGroup = identity.security_group
        self.role: iam.IRole = identity.role
        self.machine = host_machine(instance_type)
