"""DataTable in a bare Stack: production defaults, both capacity modes, index schemas, TTL, stream, SSE."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from cdk_data_tier.constructs.data_table import DataTable

S = dynamodb.AttributeType.STRING


def _template(**props: object) -> Template:
    stack = cdk.Stack(cdk.App(), "Bare", env=cdk.Environment(account="111111111111", region="us-east-1"))
    if props.pop("cmk", False):
        props["encryption_key"] = kms.Key(stack, "Key")
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
    # Application Auto Scaling lives inside the GlobalTable resource, not in separate scaling resources.
    assert template.find_resources("AWS::ApplicationAutoScaling::ScalableTarget") == {}
    assert template.find_resources("AWS::ApplicationAutoScaling::ScalingPolicy") == {}


def test_ttl_stream_and_customer_managed_key() -> None:
    template = _template(time_to_live_attribute="expires_at", stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
                         cmk=True)
    template.has_resource_properties("AWS::DynamoDB::GlobalTable", {
        "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
        "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
        "Replicas": [Match.object_like({"SSESpecification": {"KMSMasterKeyId": Match.any_value()}})],
    })


def test_dev_style_removal_destroys() -> None:
    template = _template(deletion_protection=False, removal_policy=cdk.RemovalPolicy.DESTROY)
    template.has_resource("AWS::DynamoDB::GlobalTable", {
        "DeletionPolicy": "Delete",
        "Properties": Match.object_like({"Replicas": [Match.object_like({"DeletionProtectionEnabled": False})]}),
    })


def test_a_gsi_without_its_own_capacity_inherits_the_tables_autoscaling() -> None:
    """The Dynamo stack relies on this to give every GSI autoscaling without repeating the table's."""
    table_cap = dynamodb.Capacity.autoscaled(min_capacity=3, max_capacity=30)
    template = _template(
        billing=dynamodb.Billing.provisioned(read_capacity=table_cap, write_capacity=table_cap),
        global_secondary_indexes=[dynamodb.GlobalSecondaryIndexPropsV2(
            index_name="byOwner", partition_key=dynamodb.Attribute(name="owner", type=S))],
    )
    scaling = Match.object_like({"MinCapacity": 3, "MaxCapacity": 30})
    template.has_resource_properties("AWS::DynamoDB::GlobalTable", {
        "GlobalSecondaryIndexes": [Match.object_like({
            "WriteProvisionedThroughputSettings": {"WriteCapacityAutoScalingSettings": scaling}})],
        "Replicas": [Match.object_like({"GlobalSecondaryIndexes": [Match.object_like({
            "ReadProvisionedThroughputSettings": {"ReadCapacityAutoScalingSettings": scaling}})]})],
    })


def test_on_demand_has_no_throughput_settings_and_index_names_keep_their_order() -> None:
    stack = cdk.Stack(cdk.App(), "Bare")
    gsis = [dynamodb.GlobalSecondaryIndexPropsV2(index_name=name, partition_key=dynamodb.Attribute(name=name, type=S))
            for name in ("zeta", "alpha")]
    table = DataTable(stack, "Data", partition_key=dynamodb.Attribute(name="pk", type=S),
                      sort_key=dynamodb.Attribute(name="sk", type=S), global_secondary_indexes=gsis,
                      local_secondary_indexes=[dynamodb.LocalSecondaryIndexProps(
                          index_name="byDate", sort_key=dynamodb.Attribute(name="d", type=S))])
    assert (table.gsi_names, table.lsi_names) == (["zeta", "alpha"], ["byDate"])
    props = next(iter(Template.from_stack(stack).find_resources("AWS::DynamoDB::GlobalTable").values()))["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert "WriteProvisionedThroughputSettings" not in props
    assert all("ReadProvisionedThroughputSettings" not in r for r in props["Replicas"])
