"""RDS event notifications for a database's instances (and its cluster): failover, failure, storage, changes.

Alarms see metrics; what RDS does to the database (a Multi-AZ failover, a storage-full failure, a parameter
change applied, a master password reset) arrives only as an RDS event. These subscriptions send those
categories to the alarm topic, which admits RDS as a publisher only for these sources.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_rds as rds
from constructs import Construct, IConstruct

from cdk_data_tier.constructs.alarm_topic import AlarmTopic

INSTANCE_CATEGORIES = ("failover", "failure", "low storage", "configuration change")
# RDS has no "low storage" category for clusters: Aurora's volume grows by itself.
CLUSTER_CATEGORIES = ("failover", "failure", "configuration change")


class DatabaseEvents(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, topic: AlarmTopic, instance_identifiers: Sequence[str],
                 cluster_identifier: str | None = None, database: IConstruct | None = None) -> None:
        """database: the construct holding those instances: RDS rejects a subscription to sources that do not
        exist yet, and the identifiers are plain strings, so the dependency must be stated."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(service="rds", resource=resource, resource_name=name,
                                    arn_format=ArnFormat.COLON_RESOURCE_NAME)

        sources = [arn("db", i) for i in instance_identifiers]
        if cluster_identifier:
            sources.append(arn("cluster", cluster_identifier))
        topic.allow_service("events.rds.amazonaws.com", sources)
        self.subscriptions = [rds.CfnEventSubscription(
            self, "Instances", sns_topic_arn=topic.topic.topic_arn, source_type="db-instance",
            source_ids=list(instance_identifiers), event_categories=list(INSTANCE_CATEGORIES), enabled=True)]
        if cluster_identifier:
            self.subscriptions.append(rds.CfnEventSubscription(
                self, "Cluster", sns_topic_arn=topic.topic.topic_arn, source_type="db-cluster",
                source_ids=[cluster_identifier], event_categories=list(CLUSTER_CATEGORIES), enabled=True))
        if database is not None:
            for subscription in self.subscriptions:
                subscription.node.add_dependency(database)
