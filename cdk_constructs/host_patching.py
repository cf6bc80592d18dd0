"""Weekly patching of SSM-managed hosts: a State Manager association running AWS-RunPatchBaseline by tag.

Security Hub's SSM.2 and SSM.3 want managed instances patched and their associations compliant; without an
association nothing ever installs a patch. The hosts are targeted by a tag this construct puts on them, so a
replaced instance is patched too, one host at a time, starting at the given weekly time (never when the
association is created), rebooting when a patch needs it. The agent's share is in one managed policy per role.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, Stack, Tags, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cdk_data_tier.constructs.endpoint_policies import ssm_agent_buckets
from cdk_data_tier.constructs.nag_ids import nag_rendered

_DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
# What SSM Agent calls to run an association and report patch compliance; none takes a resource that this
# construct could name before deploy except the document itself.
_AGENT_ACTIONS = ["ssm:ListAssociations", "ssm:ListInstanceAssociations", "ssm:DescribeAssociation",
                  "ssm:UpdateAssociationStatus", "ssm:UpdateInstanceAssociationStatus",
                  "ssm:GetDeployablePatchSnapshotForInstance", "ssm:PutComplianceItems", "ssm:PutInventory"]


class HostPatching(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        instances: Sequence[ec2.Instance],
        roles: Sequence[iam.IRole],
        tag_key: str,
        tag_value: str,
        weekly_start: tuple[int, int, int],
    ) -> None:
        """weekly_start: (day 0=Monday..6, hour, minute) in UTC, the start of a window kept free for patching."""
        super().__init__(scope, construct_id)
        day, hour, minute = weekly_start
        if not (0 <= day <= 6 and 0 <= hour <= 23 and 0 <= minute <= 59):
            raise ValueError(f"weekly_start={weekly_start!r} is not allowed: (day 0-6, hour 0-23, minute 0-59)")
        self.tag = (tag_key, tag_value)
        for instance in instances:
            self.enroll(instance)
        stack = Stack.of(self)
        self.association = ssm.CfnAssociation(
            self, "Association", name="AWS-RunPatchBaseline",
            targets=[ssm.CfnAssociation.TargetProperty(key=f"tag:{tag_key}", values=[tag_value])],
            schedule_expression=f"cron({minute} {hour} ? * {_DAYS[day]} *)",
            apply_only_at_cron_interval=True,
            parameters={"Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]},
            compliance_severity="HIGH", max_concurrency="1", max_errors="1")
        document = stack.format_arn(service="ssm", account="", resource="document",
                                    resource_name="AWS-RunPatchBaseline")
        buckets = [f"arn:{stack.partition}:s3:::{b}/*" for b in ssm_agent_buckets(stack.region)]
        self.policy = iam.ManagedPolicy(
            self, "AgentPolicy", description="SSM Agent: run the patching association and report compliance",
            roles=list(roles), statements=[
                iam.PolicyStatement(actions=["ssm:GetDocument", "ssm:DescribeDocument"], resources=[document]),
                iam.PolicyStatement(actions=_AGENT_ACTIONS, resources=["*"],
                                    conditions={"StringEquals": {"aws:RequestedRegion": stack.region}}),
                # The agent signs its downloads of patch documents and baseline snapshots with the instance's role.
                iam.PolicyStatement(actions=["s3:GetObject"], resources=buckets),
            ])
        Validations.of(self.policy).acknowledge(
            Acknowledgment(id="AwsSolutions::AwsSolutions-IAM5[Resource::*]", reason=(
                "Deliberate trade-off: SSM Agent makes these association and patch-reporting calls about the "
                "instance it runs on; AWS's AmazonSSMManagedInstanceCore grants them on '*', and this policy keeps "
                "'*' limited to this region rather than guess per-action resource types it cannot test here.")),
            *[Acknowledgment(id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_rendered(stack, b)}]", reason=(
                "Rule is wrong here: the wildcard is the objects of one AWS-owned bucket that SSM Agent downloads "
                "patch documents, agent updates or baseline snapshots from; read-only, and nothing of ours is in it."))
              for b in buckets])

    def enroll(self, instance: ec2.Instance) -> None:
        """Patch `instance` too (it may live in another stack: the association finds it by its tag). Its role
        must be among `roles`."""
        Tags.of(instance).add(*self.tag)
