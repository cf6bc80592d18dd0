"""Network pieces that outlive the stacks: ENIs of VPC Lambdas, and Elastic IPs.

A VPC function's ENI stays `available` for a while after the function is gone, and until Lambda releases it
the subnet and security group it sits in cannot be deleted (the Network stack's delete then fails). Lambda
describes its ENIs as `AWS Lambda VPC ENI-<function>-<uuid>`; the function's name ties the ENI to the
environment, and so does a VPC still tagged with its Network stack. Elastic IPs are tagged by CloudFormation
and named by CDK (`<env>-Network/Vpc/publicSubnet1`). Nothing of either is kept by any config.
"""

from __future__ import annotations

import re

from cdk_data_tier.app.ops.teardown_items import Leftover, orphan
from cdk_data_tier.app.ops.teardown_scan import STACK_TAG, Scan, Tie

LAMBDA_ENI = re.compile(r"^AWS Lambda VPC ENI-(?P<function>.+?)(-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12})?$")


def lambda_enis(scan: Scan) -> list[Leftover]:
    vpcs = _env_vpcs(scan)
    found = []
    for eni in scan.pages("ec2", "describe_network_interfaces", "NetworkInterfaces",
                          Filters=[{"Name": "status", "Values": ["available"]}]):
        match = LAMBDA_ENI.match(eni.get("Description", ""))
        if not match and eni.get("InterfaceType") != "lambda":
            continue
        function = match.group("function") if match else ""
        ident = eni["NetworkInterfaceId"]
        arn = scan.arn("ec2", f"network-interface/{ident}")
        resource = scan.plan.function_names.get(function) or scan.plan.generated(function, "AWS::Lambda::Function")
        tie = scan.tie(arn, resource, function)
        if tie is None and eni.get("VpcId") in vpcs:
            tie = Tie("tag", vpcs[eni["VpcId"]], None)
        if tie is None:
            continue
        found.append(Leftover(
            "network interface", ident, arn, tie.stack, tie.how,
            *orphan(f"left by Lambda {function or '?'} (available): until it is released, subnet "
                    f"{eni.get('SubnetId', '?')} and its security groups cannot be deleted; Lambda releases it in "
                    f"time, else aws ec2 delete-network-interface --network-interface-id {ident}")))
    return found


def elastic_ips(scan: Scan) -> list[Leftover]:
    found = []
    # DescribeAddresses has no pagination: one call returns every address of the region.
    for address in scan.client("ec2").describe_addresses().get("Addresses", []):
        tags = {t["Key"]: t.get("Value", "") for t in address.get("Tags", [])}
        ident = address.get("AllocationId") or address.get("PublicIp", "")
        arn = scan.arn("ec2", f"elastic-ip/{ident}")
        tie = scan.tie_from_tags(tags) or scan.tie(arn, None, tags.get("Name", ""))
        if tie is None:
            continue
        if tie.how == "prefix" and tags.get("Name", "").startswith(f"{tie.stack}/"):
            tie = Tie("name", tie.stack, None)  # CDK names it by its construct path in the stack
        attached = address.get("AssociationId") or address.get("NetworkInterfaceId") or address.get("InstanceId")
        state = f"still associated with {attached}" if attached else "unassociated, billed by the hour"
        found.append(Leftover("elastic ip", f"{ident} ({address.get('PublicIp', '?')})", arn, tie.stack, tie.how,
                              *orphan(f"{state}: aws ec2 release-address --allocation-id {ident}")))
    return found


def _env_vpcs(scan: Scan) -> dict[str, str]:
    """VPC id -> Network stack, for the VPCs still tagged with one (a failed delete leaves them)."""
    vpcs = scan.pages("ec2", "describe_vpcs", "Vpcs",
                      Filters=[{"Name": f"tag:{STACK_TAG}", "Values": scan.plan.stacks}])
    return {vpc["VpcId"]: next(t["Value"] for t in vpc.get("Tags", []) if t["Key"] == STACK_TAG) for vpc in vpcs}
