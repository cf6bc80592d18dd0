"""An SNS topic for alarm notifications: KMS-encrypted with its own rotating key, TLS-only publishing, and the
people or endpoints it notifies (email addresses, HTTPS URLs; an email subscription waits for its recipient
to confirm it).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct


class AlarmTopic(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, description: str,
                 removal_policy: RemovalPolicy = RemovalPolicy.DESTROY, emails: Sequence[str] = (),
                 https_urls: Sequence[str] = ()) -> None:
        super().__init__(scope, construct_id)
        self._account = Stack.of(self).account
        self.key = kms.Key(self, "Key", description=f"Encrypts the {description} alarm topic",
                           enable_key_rotation=True, removal_policy=removal_policy)
        # CloudWatch publishes alarm notifications itself, so the key must let it encrypt: for this account's
        # alarms only, not for whoever else's CloudWatch might be pointed at the topic.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceAccount": self._account}},
        ))
        self.topic = sns.Topic(self, "Topic", display_name=f"{description} alarms", master_key=self.key,
                               enforce_ssl=True)
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        for url in https_urls:
            if not url.startswith("https://"):
                raise ValueError(f"https_urls={url!r} is not allowed: an https:// URL")
            self.topic.add_subscription(subscriptions.UrlSubscription(url, protocol=sns.SubscriptionProtocol.HTTPS))
        self._action = cw_actions.SnsAction(self.topic)

    def notify(self, *alarms: cloudwatch.Alarm) -> None:
        for alarm in alarms:
            alarm.add_alarm_action(self._action)
            alarm.add_ok_action(self._action)

    def allow_service(self, service: str, source_arns: Sequence[str]) -> None:
        """Let an AWS service publish (RDS event notifications, say), only for these resources of this account."""
        conditions = {"StringEquals": {"aws:SourceAccount": self._account},
                      "ArnLike": {"aws:SourceArn": list(source_arns)}}
        principal = iam.ServicePrincipal(service)
        self.topic.add_to_resource_policy(iam.PolicyStatement(
            actions=["sns:Publish"], principals=[principal], resources=[self.topic.topic_arn], conditions=conditions))
        self.key.add_to_resource_policy(iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey*"], principals=[principal], resources=["*"],
            conditions=conditions))
