"""Rotation of a database's secrets, run from the database's isolated subnets.

The admin secret rotates itself (single user); each application user's secret rotates with the multi-user
strategy, whose function logs in as the admin to give the user's alternate login (`<user>_clone`) a new
password, so the login a running client holds keeps working until the next rotation. Each rotation
function (AWS's serverless application, deployed by CDK as a nested stack) logs in to the
database and calls Secrets Manager. Isolated subnets have no route out, so it reaches Secrets Manager
through an interface endpoint of its own. Private DNS stays off on that endpoint: turning it on would
reroute every Secrets Manager call in the VPC (the app host's too) through a security group that admits
only the rotation function.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sam as sam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_data_tier.constructs.encrypted_log_group import EncryptedLogGroup


class PrivateRotation(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        target: rds.DatabaseInstance | rds.DatabaseCluster,
        port: int,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        every: Duration,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        user_secrets: Mapping[str, secretsmanager.ISecret] | None = None,
    ) -> None:
        """user_secrets: construct ID -> an application user's secret, attached to `target` and holding
        `masterarn` (rds.DatabaseSecret(master_secret=...)), rotated multi-user with the admin secret."""
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="Secret rotation function: out to the database and the Secrets Manager endpoint only")
        endpoint_sg = ec2.SecurityGroup(
            self, "EndpointSecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="Secrets Manager endpoint of the rotation function: HTTPS from that function only")
        self.endpoint = ec2.InterfaceVpcEndpoint(
            self, "SecretsManagerEndpoint", vpc=vpc, service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            subnets=subnets, private_dns_enabled=False, security_groups=[endpoint_sg], open=False)
        self.endpoint.connections.allow_default_port_from(self.security_group, "Rotation function to Secrets Manager")
        # Also opens the database port from the function's group (the function logs in to change the password).
        self.rotation: secretsmanager.SecretRotation = target.add_rotation_single_user(
            automatically_after=every, endpoint=self.endpoint, security_group=self.security_group, vpc_subnets=subnets)
        self.user_rotations: dict[str, secretsmanager.SecretRotation] = {
            rotation_id: target.add_rotation_multi_user(
                rotation_id, secret=secret, automatically_after=every, endpoint=self.endpoint,
                security_group=self.security_group, vpc_subnets=subnets)
            for rotation_id, secret in (user_secrets or {}).items()}
        self._literal_port(target, port)
        self._function_log_group("FunctionLogs", self.rotation, log_retention, removal_policy)
        for rotation_id, rotation in self.user_rotations.items():
            self._function_log_group(f"{rotation_id}FunctionLogs", rotation, log_retention, removal_policy)

    def _function_log_group(self, construct_id: str, rotation: secretsmanager.SecretRotation,
                            retention: logs.RetentionDays, removal_policy: RemovalPolicy) -> None:
        """Lambda would create the function's log group on first run: unencrypted, kept forever, and left
        behind by `cdk destroy`. The function name is fixed at synth time, so the group is declared first."""
        application = rotation.node.find_child("Resource")
        assert isinstance(application, sam.CfnApplication)
        function_name = application.parameters["functionName"]  # type: ignore[index]
        group = EncryptedLogGroup(self, construct_id, retention=retention, removal_policy=removal_policy,
                                  description="secret rotation function", log_group_name=f"/aws/lambda/{function_name}")
        application.add_resource_dependency(group.cfn_log_group)

    def _literal_port(self, target: rds.DatabaseInstance | rds.DatabaseCluster, port: int) -> None:
        """Write the database port into the rules the rotation added, instead of the endpoint's Port attribute.

        The attribute only resolves at deploy time, so cdk-nag's port rules (EC2RestrictedCommonPorts,
        EC2RestrictedSSH) could not check them; the port is known here, and it is the same value.
        """
        stack = Stack.of(self)
        rotation_sg = stack.resolve(self.security_group.security_group_id)
        target_sgs = [stack.resolve(sg.security_group_id) for sg in target.connections.security_groups]
        for sg in [*target.connections.security_groups, self.security_group]:
            for rule in sg.node.children:
                if isinstance(rule, ec2.CfnSecurityGroupIngress):
                    peer = stack.resolve(rule.source_security_group_id)
                    matches = peer == rotation_sg
                elif isinstance(rule, ec2.CfnSecurityGroupEgress):
                    matches = stack.resolve(rule.destination_security_group_id) in target_sgs
                else:
                    continue
                if matches:
                    rule.from_port = rule.to_port = port
