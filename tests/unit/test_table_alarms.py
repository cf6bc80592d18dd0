"""TableAlarms in a bare Stack: what each alarm measures, and the ceilings of provisioned tables and GSIs."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk.assertions import Match, Template

from cdk_data_tier.constructs.alarm_topic import AlarmTopic
from cdk_data_tier.constructs.table_alarms import CapacityCeiling, TableAlarms


def _template(**props: object) -> tuple[Template, TableAlarms]:
    stack = cdk.Stack(cdk.App(), "Bare")
    table = dynamodb.TableV2(stack, "Table", partition_key=dynamodb.Attribute(name="pk",
                                                                              type=dynamodb.AttributeType.STRING))
    alarms = TableAlarms(stack, "Alarms", table=table, **props)
    AlarmTopic(stack, "Topic", description="test").notify(*alarms.alarms)
    return Template.from_stack(stack), alarms


def _metric_names(alarm: dict) -> set[str]:
    return {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Properties"]["Metrics"] if "MetricStat" in m}


def test_on_demand_alarms_on_throttles_and_system_errors_only() -> None:
    template, alarms = _template(throttle_threshold=5)
    found = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(found) == len(alarms.alarms) == 2
    by_description = {a["Properties"]["AlarmDescription"]: a for a in found.values()}
    throttles = by_description["Requests throttled by DynamoDB"]
    assert _metric_names(throttles) == {"ThrottledRequests"}
    assert throttles["Properties"]["Threshold"] == 5
    # An alarm's metric math may reference at most 10 metrics.
    assert len([m for m in throttles["Properties"]["Metrics"] if "MetricStat" in m]) == 10
    assert _metric_names(by_description["DynamoDB returned HTTP 500s"]) == {"SystemErrors"}
    for alarm in found.values():
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"
        assert alarm["Properties"]["AlarmActions"] == alarm["Properties"]["OKActions"] != []


def test_provisioned_alarms_compare_consumption_per_second_with_each_ceiling() -> None:
    template, alarms = _template(ceilings={None: CapacityCeiling(read_units=100, write_units=40),
                                           "gsi1": CapacityCeiling(read_units=10, write_units=20)},
                                 capacity_percent=75)
    assert len(alarms.alarms) == 2 + 4
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmDescription": Match.string_like_regexp("read capacity of the table above 75%"),
        "Threshold": 75,
        "Metrics": Match.array_with([
            Match.object_like({"Expression": "consumed / 60", "ReturnData": True}),
            Match.object_like({"Id": "consumed", "MetricStat": Match.object_like({
                "Metric": {"Namespace": "AWS/DynamoDB", "MetricName": "ConsumedReadCapacityUnits",
                           "Dimensions": [{"Name": "TableName", "Value": Match.any_value()}]},
                "Period": 60, "Stat": "Sum"})}),
        ]),
    })
    template.has_resource_properties("AWS::CloudWatch::Alarm", {
        "AlarmDescription": Match.string_like_regexp("write capacity of the index gsi1"),
        "Threshold": 15,
        "Metrics": Match.array_with([Match.object_like({"MetricStat": Match.object_like({
            "Metric": Match.object_like({"MetricName": "ConsumedWriteCapacityUnits", "Dimensions": Match.array_with(
                [{"Name": "GlobalSecondaryIndexName", "Value": "gsi1"}])})})})]),
    })
