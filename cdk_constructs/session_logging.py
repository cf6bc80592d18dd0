"""Session Manager preferences for the account and region: every shell session encrypted and logged.

Session Manager reads its preferences from one Session document per account and region, named
`SSM-SessionManagerRunShell`; without it sessions are neither KMS-encrypted end to end nor recorded. This
construct owns that document, so it cannot coexist with one created in the console (delete or import that
one first), and two environments sharing an account and region cannot both deploy it. Session data is
encrypted with a key of its own (the agent decrypts, the operator starting a session generates data keys),
and the transcript streams to a KMS-encrypted log group. The hosts' roles get exactly what the agent needs
for both, in one managed policy.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, ArnFormat, RemovalPolicy, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cdk_data_tier.constructs.encrypted_log_group import EncryptedLogGroup
from cdk_data_tier.constructs.nag_ids import nag_rendered

DOCUMENT_NAME = "SSM-SessionManagerRunShell"


class SessionLogging(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        roles: Sequence[iam.IRole],
        retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        idle_timeout_minutes: int = 20,
    ) -> None:
        super().__init__(scope, construct_id)
        if not 1 <= idle_timeout_minutes <= 60:
            raise ValueError(f"idle_timeout_minutes={idle_timeout_minutes} is not allowed: 1-60")
        stack = Stack.of(self)
        self.logs = EncryptedLogGroup(self, "Logs", retention=retention, removal_policy=removal_policy,
                                      description="Session Manager transcripts")
        self.key = kms.Key(self, "SessionKey", description="Encrypts Session Manager session data",
                           enable_key_rotation=True, removal_policy=removal_policy)
        self.document = ssm.CfnDocument(
            self, "Preferences", name=DOCUMENT_NAME, document_type="Session", document_format="JSON",
            # A fixed name cannot be replaced in place; a new version keeps the same document.
            update_method="NewVersion",
            content={
                "schemaVersion": "1.0",
                "description": "Session Manager preferences: KMS-encrypted sessions, transcripts to CloudWatch Logs",
                "sessionType": "Standard_Stream",
                "inputs": {
                    "kmsKeyId": self.key.key_id,
                    "cloudWatchLogGroupName": self.logs.log_group.log_group_name,
                    "cloudWatchEncryptionEnabled": True,
                    "cloudWatchStreamingEnabled": True,
                    "s3BucketName": "",
                    "s3KeyPrefix": "",
                    "s3EncryptionEnabled": True,
                    "runAsEnabled": False,
                    "runAsDefaultUser": "",
                    "idleSessionTimeout": str(idle_timeout_minutes),
                    "maxSessionDuration": "",
                    "shellProfile": {"linux": "", "windows": ""},
                },
            },
        )
        # DescribeLogGroups authorizes against the account's log-group:* ARN only, never one group.
        all_groups = stack.format_arn(service="logs", resource="log-group", resource_name="*",
                                      arn_format=ArnFormat.COLON_RESOURCE_NAME)
        self.policy = iam.ManagedPolicy(
            self, "AgentPolicy", description="SSM Agent: encrypted sessions, transcripts to their log group",
            roles=list(roles), statements=[
                iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                                    resources=[self.logs.log_group.log_group_arn]),
                iam.PolicyStatement(actions=["logs:DescribeLogGroups"], resources=[all_groups]),
                iam.PolicyStatement(actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.key.key_arn]),
            ])
        Validations.of(self.policy).acknowledge(Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_rendered(stack, all_groups)}]",
            reason="Rule is wrong here: logs:DescribeLogGroups is authorized only against the account's "
            "log-group:* ARN, never a single group; SSM Agent calls it to find the session log group, and it reads "
            "names, not log events."))
