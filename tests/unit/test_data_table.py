"""DataTable in a bare Stack: production defaults, both capacity modes, index schemas, alarms."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Capture, Match, Template

from cdk_constructs.alarm_topic import AlarmTopic
from cdk_constructs.data_table import CapacityCeiling, DataTable

S = dynamodb.AttributeType.STRING


def _template(**props: object) -> Template:
    stack = cdk.Stack(cdk.App(), "Bare", env=cdk.Environment(account="111111111111", region="us-east-1"))
    if props.pop("cmk", False):
        props["encryption_key"] = kms.Key(stack, "Key")
    props.setdefault("alarm_topic", AlarmTopic(stack, "Alarms", description="test"))
    DataTable(stack, "Data", partition_key=dynamodb.Attribute(name="pk", type=S), **props)
    return Template.from_stack(stack)


def test_defaults_keep_data_and_recover() -> None:
    template = _template(sort_key=dynamodb.Attribute(name="sk", type=S))
    template.has_resource("AWS::DynamoDB::GlobalTable", {
        "DeletionPolicy": "Retain",
        "Properties": Match.object_like({
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "Replicas": [Match.object_like({
                "DeletionProtectionEnabled": True,
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 35},
            })],
        }),
    })


def test_indexes_keep_their_key_schemas_and_projections() -> None:
    template = _template(
        sort_key=dynamodb.Attribute(name="sk", type=S),
        global_secondary_indexes=[dynamodb.GlobalSecondaryIndexPropsV2(
            index_name="byEmail", partition_key=dynamodb.Attribute(name="email", type=S),
            projection_type=dynamodb.ProjectionType.INCLUDE, non_key_attributes=["name"])],
        local_secondary_indexes=[dynamodb.LocalSecondaryIndexProps(
            index_name="byDate", sort_key=dynamodb.Attribute(name="created", type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY)],
    )
    template.has_resource_properties("AWS::DynamoDB::GlobalTable", {
        "GlobalSecondaryIndexes": [{"IndexName": "byEmail",
                                    "KeySchema": [{"AttributeName": "email", "KeyType": "HASH"}],
                                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["name"]}}],
        "LocalSecondaryIndexes": [{"IndexName": "byDate",
                                   "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                 {"AttributeName": "created", "KeyType": "RANGE"}],
                                   "Projection": {"ProjectionType": "KEYS_ONLY"}}],
    })


def test_provisioned_billing_autoscales_table_and_every_gsi() -> None:
    cap = dynamodb.Capacity.autoscaled(min_capacity=2, max_capacity=50, target_utilization_percent=60)
    template = _template(
        billing=dynamodb.Billing.provisioned(read_capacity=cap, write_capacity=cap),
        global_secondary_indexes=[dynamodb.GlobalSecondaryIndexPropsV2(
            index_name="g1", partition_key=dynamodb.Attribute(name="g", type=S), read_capacity=cap,
            write_capacity=cap)],
        capacity_ceiling=CapacityCeiling(read_units=50, write_units=50, percent=80),
    )
    scaling = {"MinCapacity": 2, "MaxCapacity": 50,
               "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 60}}
    template.has_resource_properties("AWS::DynamoDB::GlobalTable", {
        "BillingMode": "PROVISIONED",
        "WriteProvisionedThroughputSettings": {"WriteCapacityAutoScalingSettings": scaling},
        "GlobalSecondaryIndexes": [Match.object_like({
            "IndexName": "g1", "WriteProvisionedThroughputSettings": {"WriteCapacityAutoScalingSettings": scaling}})],
        "Replicas": [Match.object_like({
            "ReadProvisionedThroughputSettings": {"ReadCapacityAutoScalingSettings": scaling},
            "GlobalSecondaryIndexes": [Match.object_like({
                "IndexName": "g1",
                "ReadProvisionedThroughputSettings": {"ReadCapacityAutoScalingSettings": scaling}})],
        })],
    })
    threshold = Capture()
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmDescription": Match.string_like_regexp("Consumed write capacity"), "Threshold": threshold})
    assert threshold.as_number() == 40


def test_ttl_stream_and_customer_managed_key() -> None:
    template = _template(time_to_live_attribute="expires_at", stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
                         cmk=True)
    template.has_resource_properties("AWS::DynamoDB::GlobalTable", {
        "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
        "Replicas": [Match.object_like({"SSESpecification": {"KMSMasterKeyId": Match.any_value()}})],
    })


def test_alarms_notify_the_topic() -> None:
    template = _template()
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == 2  # throttles and system errors; capacity alarms only when provisioned
    topic = next(iter(template.find_resources("AWS::SNS::Topic")))
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic}]
    template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})


def test_dev_style_removal_destroys() -> None:
    template = _template(deletion_protection=False, removal_policy=cdk.RemovalPolicy.DESTROY)
    template.has_resource("AWS::DynamoDB::GlobalTable", {
        "DeletionPolicy": "Delete",
        "Properties": Match.object_like({"Replicas": [Match.object_like({"DeletionProtectionEnabled": False})]}),
    })
