"""`<env>-App`: the app host's instance and the release of app_code installed on it.

It depends on Network only (the VPC, and the host's security group and role, which stay there because
the data stacks open their ports to them and grant them). A new release of app_code changes this stack
alone: the association's parameters and two assets, never the instance, the VPC or the data stores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct

from cdk_data_tier.constructs.app_host import HOST_PYTHON, AppHost
from cdk_data_tier.constructs.app_install import RUN_AS, VENV, AppInstall
from cdk_data_tier.constructs.nag_ids import nag_rendered
from cdk_data_tier.constructs.wheelhouse import Wheelhouse
from cdk_data_tier.stacks.config import EnvConfig
from cdk_data_tier.stacks.network_stack import NetworkStack

CONSOLE_SCRIPT = "data-tier"
# What a release must import before it is switched to: every workload, so every compiled dependency loads.
APP_MODULES = ["cdk_data_tier.app.run", "cdk_data_tier.app.sql", "cdk_data_tier.app.dynamo",
               "cdk_data_tier.app.cache", "cdk_data_tier.app.remote"]


class AppStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig, network: NetworkStack,
                 wheelhouse: Wheelhouse, stack_names: Sequence[str], **kwargs: Any) -> None:
        """stack_names: the environment's stacks, whose outputs app_code reads on the host (DescribeStacks)."""
        super().__init__(scope, construct_id, **kwargs)
        net = config.network
        self.app_host = AppHost(
            self,
            "AppHost",
            vpc=network.vpc,
            subnets=network.host_subnets,
            identity=network.app_identity,
            instance_type=net.app_instance_type,
            termination_protection=config.termination_protection,
        )
        network.patching.enroll(self.app_host.instance)
        self.install = AppInstall(self, "Install", wheelhouse=wheelhouse, instance=self.app_host.instance,
                                  role=network.app_role, imports=APP_MODULES, console_script=CONSOLE_SCRIPT,
                                  python=f"python{HOST_PYTHON}")
        # app_code finds its endpoints itself (`data-tier run all --env NAME`): the outputs of this
        # environment's stacks, and nothing else in CloudFormation.
        stacks = [self.format_arn(service="cloudformation", resource="stack", resource_name=f"{name}/*")
                  for name in stack_names]
        outputs = iam.ManagedPolicy(self, "ReadOutputs", roles=[network.app_role],
                                    description="app_code reads the outputs of its environment's stacks",
                                    statements=[iam.PolicyStatement(actions=["cloudformation:DescribeStacks"],
                                                                    resources=stacks)])
        Validations.of(outputs).acknowledge(*[Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_rendered(self, arn)}]",
            reason="Rule is wrong here: the wildcard stands for the stack's ID, which CloudFormation assigns at "
            "creation; the ARN names exactly one stack of this environment by name.") for arn in stacks])

        CfnOutput(self, "AppHostInstanceId", value=self.app_host.instance.instance_id,
                  description="Instance that runs app_code (python -m app_code remote run all --env NAME)")
        CfnOutput(self, "AppVenv", value=VENV, description="venv of app_code on the app host")
        CfnOutput(self, "AppRunAs", value=RUN_AS, description="Unprivileged account the workloads run as on the host")
        CfnOutput(self, "AppRelease", value=wheelhouse.release,
                  description="Release of app_code installed on the app host (version-code hash-pins hash)")
