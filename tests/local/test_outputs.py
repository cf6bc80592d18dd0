"""Evaluating the templates' Outputs against the twin's physical values."""

from __future__ import annotations

from typing import Any

from cdk_data_tier.app.local.outputs import Physical, Resolver, contract_keys


def resolver(outputs: dict[str, Any], physical: dict[tuple[str, str], Physical] | None = None,
             extra: dict[str, dict[str, Any]] | None = None, **template: Any) -> Resolver:
    templates = {"dev-Db": {"Resources": {"Db": {"Type": "AWS::RDS::DBInstance"},
                                          "Role": {"Type": "AWS::IAM::Role"}},
                            "Outputs": outputs, **template}, **(extra or {})}
    return Resolver(templates, physical or {("dev-Db", "Db"): Physical("db-1", {"Endpoint.Address": "127.0.0.1:5"})},
                    "111111111111", "us-east-1")


def test_ref_getatt_join_sub_select() -> None:
    filled, missing = resolver({
        "Id": {"Value": {"Ref": "Db"}},
        "Addr": {"Value": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}},
        "Dotted": {"Value": {"Fn::GetAtt": "Db.Endpoint.Address"}},
        "Joined": {"Value": {"Fn::Join": [",", [{"Fn::GetAtt": ["Db", "Endpoint.Address"]}, "x"]]}},
        "Sub": {"Value": {"Fn::Sub": "${AWS::Region}/${Db}/${Db.Endpoint.Address}/${!Literal}"}},
        "Picked": {"Value": {"Fn::Select": [1, {"Fn::Split": [":", {"Fn::GetAtt": ["Db", "Endpoint.Address"]}]}]}},
        "Plain": {"Value": "postgres"},
    }).outputs()
    assert missing == {}
    assert filled["dev-Db"] == {"Id": "db-1", "Addr": "127.0.0.1:5", "Dotted": "127.0.0.1:5", "Joined": "127.0.0.1:5,x",
                                "Sub": "us-east-1/db-1/127.0.0.1:5/${Literal}", "Picked": "5", "Plain": "postgres"}


def test_something_the_twin_did_not_build_is_reported_not_invented() -> None:
    filled, missing = resolver({"RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}},
                                "Port": {"Value": {"Fn::GetAtt": ["Db", "Endpoint.Port"]}}}).outputs()
    assert filled["dev-Db"] == {}
    assert "AWS::IAM::Role" in missing["dev-Db"]["RoleArn"] and "Endpoint.Port" in missing["dev-Db"]["Port"]


def test_cdk_cross_stack_plumbing_is_not_part_of_the_contract() -> None:
    body: dict[str, Any] = {"Outputs": {"VpcId": {}, "ExportsOutputRefVpc8378EB38": {}, "PublishOutputRefAppHostRole3EB": {}}}
    assert contract_keys(body) == ["VpcId"]


def test_conditions_and_imports() -> None:
    r = resolver(
        {"Maybe": {"Value": "yes", "Condition": "Off"}, "Either": {"Value": {"Fn::If": ["On", "a", "b"]}},
         "Imported": {"Value": {"Fn::ImportValue": "dev-Other:Name"}},
         "Stacked": {"Value": {"Fn::GetStackOutput": {"StackName": "dev-Other", "OutputName": "Name"}}}},
        Conditions={"On": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}, "Off": {"Fn::Not": [{"Condition": "On"}]}},
        extra={"dev-Other": {"Resources": {}, "Outputs": {"Name": {"Value": "other", "Export": {"Name": "dev-Other:Name"}}}}})
    filled, missing = r.outputs()
    assert missing == {}
    assert filled["dev-Db"] == {"Either": "a", "Imported": "other", "Stacked": "other"}
