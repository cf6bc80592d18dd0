"""An SNS topic for alarm notifications: KMS-encrypted with its own rotating key, TLS-only publishing."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


class AlarmTopic(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, description: str,
                 removal_policy: RemovalPolicy = RemovalPolicy.DESTROY) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(self, "Key", description=f"Encrypts the {description} alarm topic",
                           enable_key_rotation=True, removal_policy=removal_policy)
        # CloudWatch publishes alarm notifications itself, so the key must let it encrypt: for this account's
        # alarms only, not for whoever else's CloudWatch might be pointed at the topic.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
        ))
        self.topic = sns.Topic(self, "Topic", display_name=f"{description} alarms", master_key=self.key,
                               enforce_ssl=True)
        self._action = cw_actions.SnsAction(self.topic)

    def notify(self, *alarms: cloudwatch.Alarm) -> None:
        for alarm in alarms:
            alarm.add_alarm_action(self._action)
            alarm.add_ok_action(self._action)
