"""Scheduled rotation of a cache's AUTH token or RBAC user password, by a function of its own.

Secrets Manager has no hosted rotation for ElastiCache credentials, so the function ships here
(lambdas/cache_auth_rotation). It only calls AWS APIs, never the cache, and runs in the given
private subnets with its own interface endpoints for Secrets Manager and ElastiCache. Their private
DNS stays off: turning it on would send every such call in the VPC through a group that admits
only this function. Its security group may reach those endpoints and nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from aws_cdk import Acknowledgment, ArnFormat, Duration, Fn, RemovalPolicy, Stack, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_data_tier.constructs.cfn_resource import cfn_resource
from cdk_data_tier.constructs.checkov_skips import skip_checkov
from cdk_data_tier.constructs.encrypted_log_group import EncryptedLogGroup
from cdk_data_tier.constructs.local_grantee import LocalGrantee
from cdk_data_tier.constructs.subnet_selection import select

HANDLER_DIR = Path(__file__).parent / "lambdas" / "cache_auth_rotation"
# ROTATE/SET and ModifyUser wait for the group to apply each change, which takes minutes on AWS.
TIMEOUT = Duration.minutes(15)


class CacheAuthRotation(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        secret: secretsmanager.ISecret,
        mode: Literal["auth_token", "rbac"],
        target_id: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        every: Duration,
        key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        """target_id: the replication group's ID (auth_token) or the RBAC user's ID (rbac).
        key: encrypts the function's environment; the secret's own key is granted through the secret."""
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="Cache credential rotation: out to its Secrets Manager and ElastiCache endpoints only")
        urls: dict[str, str] = {}
        for name, service, env in (("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
                                    "SECRETS_MANAGER_ENDPOINT"),
                                   ("ElastiCache", ec2.InterfaceVpcEndpointAwsService.ELASTICACHE,
                                    "ELASTICACHE_ENDPOINT")):
            endpoint_sg = ec2.SecurityGroup(
                self, f"{name}EndpointSecurityGroup", vpc=vpc, allow_all_outbound=False,
                description=f"{name} endpoint of the cache credential rotation: HTTPS from that function only")
            endpoint = ec2.InterfaceVpcEndpoint(self, f"{name}Endpoint", vpc=vpc, service=service, subnets=subnets,
                                                private_dns_enabled=False, security_groups=[endpoint_sg], open=False)
            endpoint.connections.allow_default_port_from(self.security_group, f"rotation function to {name}")
            # "Z123:vpce-...amazonaws.com": the regional DNS name, without its hosted-zone prefix.
            urls[env] = "https://" + Fn.select(1, Fn.split(":", Fn.select(0, endpoint.vpc_endpoint_dns_entries)))

        logs_group = EncryptedLogGroup(self, "Logs", retention=log_retention, removal_policy=removal_policy,
                                       description="cache credential rotation function")
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                             description="Cache credential rotation function")
        # Every permission goes through one customer-managed policy (HIPAA and NIST flag inline ones), so
        # the function and the rotation schedule get the role frozen: their own grants would go inline.
        self.access = LocalGrantee(self, "Access", role=self.role, description="Cache credential rotation")
        self.function = lambda_.Function(
            self, "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.lambda_handler",
            # Tests import the handler: its bytecode must not change the asset (and its hash).
            code=lambda_.Code.from_asset(str(HANDLER_DIR), exclude=["__pycache__", "*.pyc"]),
            role=self.role.without_policy_updates(),
            timeout=TIMEOUT,
            memory_size=256,
            # Secrets Manager never rotates one secret twice at once; a second copy could only race the first.
            reserved_concurrent_executions=1,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            environment={"MODE": mode, "REPLICATION_GROUP_ID" if mode == "auth_token" else "USER_ID": target_id,
                         **urls},
            environment_encryption=key,
            log_group=logs_group.log_group,
            description=f"Rotates the cache's {'AUTH token' if mode == 'auth_token' else 'RBAC user password'}",
        )
        cfn_function = cfn_resource(self.function)
        # ENI permissions before Lambda creates the ENIs.
        cfn_function.add_resource_dependency(cfn_resource(self.access.policy))
        # Function always adds DependsOn its role, which the GetAtt of the role's ARN already implies: harmless.
        cfn_function.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        stack = Stack.of(self)
        # Network interfaces have no ID before Lambda creates them: the policy and its acknowledgment name them so.
        self._eni_arn = stack.format_arn(service="ec2", resource="network-interface", resource_name="*")
        self._grant(secret, mode, target_id, key, logs_group.log_group, select(vpc, subnets).subnet_ids)
        self.schedule = secret.add_rotation_schedule("Rotation", rotation_lambda=self.function,
                                                     automatically_after=every)
        # Only for this secret (the service principal alone would admit any account's Secrets Manager).
        for child in self.function.node.children:
            if isinstance(child, lambda_.CfnPermission) and child.principal == "secretsmanager.amazonaws.com":
                child.source_account = stack.account
                child.source_arn = secret.secret_arn
        self._acknowledge()

    def _grant(self, secret: secretsmanager.ISecret, mode: str, target_id: str, key: kms.IKey,
               log_group: logs.ILogGroup, subnet_ids: list[str]) -> None:
        stack = Stack.of(self)

        def ec2_arn(resource: str, name: str) -> str:
            return stack.format_arn(service="ec2", resource=resource, resource_name=name)

        target_arn = stack.format_arn(service="elasticache",
                                      resource="replicationgroup" if mode == "auth_token" else "user",
                                      resource_name=target_id, arn_format=ArnFormat.COLON_RESOURCE_NAME)
        policy = self.access.policy
        secret.grant_read(self.access)
        secret.grant_write(self.access)  # with UpdateSecretVersionStage, which finishSecret needs
        key.grant_decrypt(self.access)
        policy.add_statements(
            iam.PolicyStatement(actions=["elasticache:DescribeReplicationGroups", "elasticache:ModifyReplicationGroup"]
                                if mode == "auth_token" else ["elasticache:DescribeUsers", "elasticache:ModifyUser"],
                                resources=[target_arn]),
            iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                                resources=[log_group.log_group_arn]),
            # The function's network interfaces: only in its subnets, with its security group. Their IDs do
            # not exist until Lambda creates them, so the interfaces themselves can only be named by wildcard.
            iam.PolicyStatement(actions=["ec2:CreateNetworkInterface"], resources=[
                self._eni_arn, ec2_arn("security-group", self.security_group.security_group_id),
                *(ec2_arn("subnet", s) for s in subnet_ids)]),
            iam.PolicyStatement(actions=["ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
                                         "ec2:UnassignPrivateIpAddresses"],
                                resources=[self._eni_arn]),
            # None takes a resource: GetRandomPassword acts on no secret; the Describe calls list, they name
            # nothing (Lambda's own AWSLambdaVPCAccessExecutionRole grants the same two).
            iam.PolicyStatement(actions=["secretsmanager:GetRandomPassword", "ec2:DescribeNetworkInterfaces",
                                         "ec2:DescribeSubnets"], resources=["*"]),
        )

    def _acknowledge(self) -> None:
        wrong = ("Rule is wrong here: secretsmanager:GetRandomPassword, ec2:DescribeNetworkInterfaces and "
                 "ec2:DescribeSubnets support no resource-level permissions, so '*' is their only resource")
        eni = Stack.of(self).resolve(self._eni_arn)
        if not isinstance(eni, str):  # an environment-agnostic stack: cdk-nag names the pseudo parameters
            eni = "arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:network-interface/*"
        unnamed = ("Rule is wrong here: a network interface has no ID until Lambda creates it for the function, so "
                   "the interfaces can only be named by wildcard; creating one is limited to the function's own "
                   "subnets and security group")
        Validations.of(self.access).acknowledge(
            Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::*]", reason=wrong),
            Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{eni}]", reason=unnamed))
        no_dlq = ("Rule is wrong here: Secrets Manager invokes rotation synchronously and records a failed step in "
                  "the secret's rotation status; a dead-letter queue only receives failed asynchronous invocations")
        Validations.of(self.function).acknowledge(
            Acknowledgment(id="HIPAA.Security::HIPAA.Security-LambdaDLQ", reason=no_dlq),
            Acknowledgment(id="NIST.800.53.R5::NIST.800.53.R5-LambdaDLQ", reason=no_dlq))
        skip_checkov(self.function, CKV_AWS_116=no_dlq,
                     CKV_AWS_272="Deliberate trade-off: the code is this repository's own asset, deployed by the "
                                 "same pipeline that deploys the stack; a Signer profile would add no other author")

