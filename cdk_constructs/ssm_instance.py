"""A private EC2 instance reached only through SSM Session Manager.

The shared core of the bastion and the app host: Amazon Linux 2023, IMDSv2 with a hop limit of 1, encrypted gp3 root
volume, detailed monitoring, no key pair, no public IP, and a security group with no ingress.

The security group and the role can live apart from the instance (`SsmHostIdentity`): the data stacks open
their ports to the group and grant the role, so these two belong with the VPC, while an instance that is
redeployed with its application can sit in a stack of its own.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct


class SsmHostIdentity(Construct):
    """A host's security group (no ingress, HTTPS out) and its role with Session Manager's permissions."""

    def __init__(self, scope: Construct, construct_id: str, *, vpc: ec2.IVpc, description: str) -> None:
        super().__init__(scope, construct_id)
        self.security_group, self.role, self.session_policy = _identity(self, vpc, description)


def _identity(scope: Construct, vpc: ec2.IVpc, description: str) -> tuple[ec2.SecurityGroup, iam.Role,
                                                                            iam.ManagedPolicy]:
    security_group = ec2.SecurityGroup(
        scope,
        "SecurityGroup",
        vpc=vpc,
        description=f"{description}: no ingress; reached through SSM Session Manager",
        allow_all_outbound=False,
    )
    # AWS APIs (SSM, Secrets Manager, ...) and S3/DynamoDB through their gateway endpoints. Routes confine
    # it: NAT where there is one, else only the VPC's endpoints answer. The data stores' ports are opened
    # toward their own security groups by the stacks that own them.
    security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs")
    role = iam.Role(
        scope,
        "Role",
        assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
        description=f"Instance role of the {description}",
    )
    # The AWS managed AmazonSSMManagedInstanceCore also grants ssm:GetParameters on every parameter;
    # Session Manager needs only these.
    session_policy = iam.ManagedPolicy(
        scope,
        "SessionManagerPolicy",
        description=f"Session Manager agent of the {description}",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                actions=[
                    "ssm:UpdateInstanceInformation",
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                    "ec2messages:AcknowledgeMessage",
                    "ec2messages:DeleteMessage",
                    "ec2messages:FailMessage",
                    "ec2messages:GetEndpoint",
                    "ec2messages:GetMessages",
                    "ec2messages:SendReply",
                ],
                resources=["*"],
                # The actions take no resource ARNs, so the region is the narrowest constraint available.
                conditions={"StringEquals": {"aws:RequestedRegion": Stack.of(scope).region}},
            )
        ],
    )
    Validations.of(session_policy).acknowledge(
        Acknowledgment(
            id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            reason="Rule is wrong here: the ssmmessages and ec2messages actions and ssm:UpdateInstanceInformation "
            "support no resource-level permissions, so '*' is the only valid resource.",
        )
    )
    return security_group, role, session_policy


_CPU = {ec2.InstanceArchitecture.ARM_64: ec2.AmazonLinuxCpuType.ARM_64,
        ec2.InstanceArchitecture.X86_64: ec2.AmazonLinuxCpuType.X86_64}


class SsmInstance(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        instance_type: str,
        description: str,
        root_volume_gib: int = 8,
        termination_protection: bool = False,
        user_data: ec2.UserData | None = None,
        identity: SsmHostIdentity | None = None,
    ) -> None:
        """identity: a security group and role made elsewhere (for example in another stack); else its own."""
        super().__init__(scope, construct_id)
        if identity is None:
            self.security_group, self.role, self.session_policy = _identity(self, vpc, description)
        else:
            self.security_group, self.role = identity.security_group, identity.role
            self.session_policy = identity.session_policy
        architecture = ec2.InstanceType(instance_type).architecture
        self.instance = ec2.Instance(
            self,
            "Instance",
            vpc=vpc,
            vpc_subnets=subnets,
            instance_type=ec2.InstanceType(instance_type),
            # The AMI follows the instance type's processor (Graviton types get arm64).
            machine_image=ec2.MachineImage.latest_amazon_linux2023(cpu_type=_CPU[architecture]),
            role=self.role,
            security_group=self.security_group,
            # IMDSv2 only, and one hop: a container or proxy on the host cannot reach the role's credentials.
            http_tokens=ec2.HttpTokens.REQUIRED,
            http_put_response_hop_limit=1,
            http_endpoint=True,
            detailed_monitoring=True,
            ebs_optimized=True,
            # Termination protection blocks `cdk destroy`, so the caller decides per environment.
            disable_api_termination=termination_protection,
            user_data=user_data,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        root_volume_gib,
                        encrypted=True,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        delete_on_termination=True,
                    ),
                )
            ],
        )
        # CDK acknowledges its literal AZs where the VPC is built; an instance in another stack repeats them.
        Validations.of(self.instance).acknowledge(Acknowledgment(
            id="CloudFormation-Validate::W3010",
            reason="Deliberate: the AZ is the instance's subnet's, which the environment-bound VPC resolved from "
            "cdk.context.json (stack.availabilityZones); an instance must sit in its subnet's AZ."))
        if not termination_protection:
            Validations.of(self.instance).acknowledge(
                Acknowledgment(
                    id="AwsSolutions::AwsSolutions-EC29",
                    reason="Deliberate trade-off: this environment is configured to tear down clean with cdk destroy, "
                    "which API termination protection would block; it is on wherever termination_protection is set.",
                )
            )
