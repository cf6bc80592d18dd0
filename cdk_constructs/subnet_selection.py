"""Resolve a SubnetSelection (jsii's Python binding takes its fields only as keyword arguments)."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2

ISOLATED = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)


def select(vpc: ec2.IVpc, selection: ec2.SubnetSelection | None) -> ec2.SelectedSubnets:
    """`selection` from `vpc`, or its isolated subnets when there is none."""
    s = selection or ISOLATED
    return vpc.select_subnets(availability_zones=s.availability_zones, one_per_az=s.one_per_az,
                              subnet_filters=s.subnet_filters, subnet_group_name=s.subnet_group_name,
                              subnet_type=s.subnet_type, subnets=s.subnets)
