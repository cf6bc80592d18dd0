"""`<env>-Network`: the VPC, its endpoints and flow logs, the bastion, and the app host's security group and role.

The app host's instance lives in `<env>-App` (stacks/app_stack.py), so that a release of app_code never
touches this stack; its security group and role stay here, where the data stacks reference them.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, RemovalPolicy, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_data_tier.constructs.app_host import AppHostIdentity
from cdk_data_tier.constructs.bastion_host import BastionHost
from cdk_data_tier.constructs.cfn_resource import cfn_resource
from cdk_data_tier.constructs.checkov_skips import skip_checkov
from cdk_data_tier.constructs.encrypted_log_group import EncryptedLogGroup
from cdk_data_tier.constructs.endpoint_policies import dynamodb_endpoint_statements, s3_endpoint_statements
from cdk_data_tier.constructs.host_patching import HostPatching
from cdk_data_tier.constructs.log_retention import retention_days
from cdk_data_tier.constructs.session_logging import SessionLogging
from cdk_data_tier.stacks.config import EnvConfig


class NetworkStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        net = config.network
        removal = RemovalPolicy.RETAIN if config.removal == "retain" else RemovalPolicy.DESTROY

        subnets = [
            # Nothing here should get a public IP by accident: NAT gateways bring their own EIPs.
            ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24,
                                    map_public_ip_on_launch=False),
            ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
        ]
        if net.nat_gateways > 0:
            subnets.insert(1, ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS,
                                                      cidr_mask=22))
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(net.vpc_cidr),
            max_azs=net.az_count,
            nat_gateways=net.nat_gateways,
            subnet_configuration=subnets,
            restrict_default_security_group=True,
        )
        here = {"account": self.account, "region": self.region, "partition": self.partition}
        for name, gateway, statements in (
                ("S3", ec2.GatewayVpcEndpointAwsService.S3, s3_endpoint_statements(**here)),
                ("DynamoDB", ec2.GatewayVpcEndpointAwsService.DYNAMODB, dynamodb_endpoint_statements(**here))):
            endpoint = self.vpc.add_gateway_endpoint(name, service=gateway)
            for statement in statements:
                endpoint.add_to_policy(statement)
        flow_logs = EncryptedLogGroup(
            self,
            "FlowLogs",
            retention=retention_days(net.flow_log_retention_days),
            removal_policy=removal,
            description="VPC flow logs",
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                flow_logs.log_group, _flow_log_role(self, flow_logs.log_group)
            ),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        for subnet in self.vpc.public_subnets:
            Validations.of(subnet).acknowledge(*_PUBLIC_ROUTE_ACKS)

        _tidy_restrict_default_sg_provider(self, retention=retention_days(net.flow_log_retention_days),
                                           removal_policy=removal)

        if net.nat_gateways > 0:
            host_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        else:
            # Without NAT the hosts sit in isolated subnets and reach SSM through interface endpoints.
            host_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
            endpoint_sg = ec2.SecurityGroup(self, "EndpointSecurityGroup", vpc=self.vpc, allow_all_outbound=False,
                                            description="Interface endpoints of the hosts: HTTPS from inside the VPC")
            # A literal CIDR (not the VPC's CidrBlock attribute) keeps the rule checkable at synth time.
            endpoint_sg.add_ingress_rule(ec2.Peer.ipv4(net.vpc_cidr), ec2.Port.tcp(443), "HTTPS from the VPC")
            # The app host reads its stacks' outputs and its secrets itself: CloudFormation and Secrets
            # Manager need endpoints too. One endpoint per service may have private DNS in a VPC: the
            # rotation functions' own Secrets Manager endpoints keep theirs off and name their URL.
            # SessionLogging's preferences encrypt every session with a KMS key and stream its transcript
            # to CloudWatch Logs: the agent must reach both, or no session (the bastion's only way in) opens.
            for name, service in (("Ssm", ec2.InterfaceVpcEndpointAwsService.SSM),
                                  ("SsmMessages", ec2.InterfaceVpcEndpointAwsService.SSM_MESSAGES),
                                  ("Ec2Messages", ec2.InterfaceVpcEndpointAwsService.EC2_MESSAGES),
                                  ("Kms", ec2.InterfaceVpcEndpointAwsService.KMS),
                                  ("Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
                                  ("CloudFormation", ec2.InterfaceVpcEndpointAwsService.CLOUDFORMATION),
                                  ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER)):
                self.vpc.add_interface_endpoint(name, service=service, subnets=host_subnets, private_dns_enabled=True,
                                                security_groups=[endpoint_sg], open=False)
        self.host_subnets = host_subnets

        self.data_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.bastion = BastionHost(
            self,
            "Bastion",
            vpc=self.vpc,
            subnets=host_subnets,
            instance_type=net.bastion_instance_type,
            termination_protection=config.termination_protection,
        )
        # The app host's instance is in `<env>-App`; what the data stacks reference stays here.
        self.app_identity = AppHostIdentity(self, "AppHost", vpc=self.vpc)
        SessionLogging(self, "SessionLogging", roles=[self.bastion.role, self.app_identity.role],
                       retention=retention_days(net.session_log_retention_days), removal_policy=removal)
        # The App stack enrolls the app host (its role is granted here already).
        self.patching = HostPatching(self, "Patching", instances=[self.bastion.instance],
                                     roles=[self.bastion.role, self.app_identity.role],
                                     tag_key="cdk-data-tier:patching", tag_value=self.stack_name,
                                     weekly_start=net.patch_start)
        self.bastion_security_group: ec2.ISecurityGroup = self.bastion.security_group
        self.app_security_group: ec2.ISecurityGroup = self.app_identity.security_group
        self.app_role: iam.IRole = self.app_identity.role
        # The operator's way in, and so the role that runs the one-time bootstrap of the application users.
        self.bastion_role: iam.IRole = self.bastion.role

        CfnOutput(self, "VpcId", value=self.vpc.vpc_id, description="VPC of the data tier")
        CfnOutput(self, "BastionInstanceId", value=self.bastion.instance.instance_id,
                  description="aws ssm start-session --target <this>")



_IGW_REASON = (
    "Deliberate trade-off: the public tier holds only the NAT gateways, which need the default route to the "
    "internet gateway; instances and data stores live in private and isolated subnets."
)
_PUBLIC_ROUTE_ACKS = [
    Acknowledgment(id=f"{pack}::{pack}-VPCNoUnrestrictedRouteToIGW", reason=_IGW_REASON)
    for pack in ("HIPAA.Security", "NIST.800.53.R5")
]


def _flow_log_role(scope: Construct, log_group: logs.ILogGroup) -> iam.IRole:
    """A role whose permissions sit in a customer-managed policy, not in an inline default policy."""
    stack = Stack.of(scope)
    # Confused deputy: only flow logs of this account may assume the role.
    role = iam.Role(scope, "FlowLogRole", assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com", conditions={
        "StringEquals": {"aws:SourceAccount": stack.account},
        "ArnLike": {"aws:SourceArn": stack.format_arn(service="ec2", resource="vpc-flow-log", resource_name="*")}}),
                    description="Publishes VPC flow logs to CloudWatch Logs")
    iam.ManagedPolicy(
        scope,
        "FlowLogPolicy",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                # The log group's Arn attribute already ends in ':*', which covers its streams.
                resources=[log_group.log_group_arn],
            ),
        ],
    )
    # The flow-log construct would otherwise add its grants to an inline DefaultPolicy.
    return role.without_policy_updates()


def _tidy_restrict_default_sg_provider(stack: Stack, *, retention: logs.RetentionDays,
                                       removal_policy: RemovalPolicy) -> None:
    """Settle the linters' findings on the CDK-owned Lambda that strips the default security group's rules,
    and give it a log group: Lambda would otherwise create `/aws/lambda/<name>` on first run, unencrypted,
    kept forever and left behind by `cdk destroy`."""
    provider = stack.node.try_find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
    if provider is None:
        return
    handler = cfn_resource(provider.node.find_child("Handler"))
    role = cfn_resource(provider.node.find_child("Role"))
    logs_group = EncryptedLogGroup(stack, "RestrictDefaultSgLogs", retention=retention, removal_policy=removal_policy,
                                   description="default security group custom resource")
    handler.add_property_override("LoggingConfig", {"LogGroup": logs_group.log_group.log_group_name})
    # The handler's Role GetAtt already orders it after the role; the extra DependsOn is cfn-lint W3005.
    handler.remove_resource_dependency(role)
    skip_checkov(
        handler,
        CKV_AWS_116="Rule is wrong here: CloudFormation invokes this CDK provider synchronously, so a DLQ never "
        "receives anything.",
        CKV_AWS_117="Deliberate trade-off: the provider only calls the EC2 API once at deploy time; putting it in "
        "the VPC would need NAT or an EC2 interface endpoint for no isolation gain.",
        CKV_AWS_115="Rule is wrong here: the provider runs once per deployment; reserved concurrency protects "
        "nothing.",
    )
