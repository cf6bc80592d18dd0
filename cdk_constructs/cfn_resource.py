"""The CloudFormation resource behind a construct, for escape hatches (metadata, DependsOn, raw properties)."""

from __future__ import annotations

from aws_cdk import CfnResource
from constructs import IConstruct


def cfn_resource(construct: IConstruct | None) -> CfnResource:
    """`construct` itself when it is a CfnResource, else its default child, which must be one."""
    if isinstance(construct, CfnResource):
        return construct
    child = construct.node.default_child if construct is not None else None
    if not isinstance(child, CfnResource):
        raise TypeError(f"{construct.node.path if construct else None} has no CloudFormation resource as its "
                        f"default child")
    return child
