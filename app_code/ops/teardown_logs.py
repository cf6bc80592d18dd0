"""CloudWatch log groups of the environment: the stacks' own, and those the services create on first use.

The stacks declare the groups they know of (RDS exports, rotation functions, flow logs, session transcripts,
cache logs); a group the templates do not hold was created by Lambda (`/aws/lambda/<function>`) or RDS
(`/aws/rds/instance/<id>/<log>`, `/aws/rds/cluster/<id>/<log>`) and is never deleted by cdk destroy. The
prefixes listed are the environment's: CloudFormation's `<env>-...` names, CDK's `<env><Concern>...` function
names, and the templates' database identifiers.
"""

from __future__ import annotations

from cdk_data_tier.app.ops.teardown_items import Leftover, expected, orphan
from cdk_data_tier.app.ops.teardown_scan import Scan

LOG_GROUP = "AWS::Logs::LogGroup"
CREATORS = {"/aws/lambda/": "Lambda", "/aws/rds/": "RDS"}


def prefixes(scan: Scan) -> list[str]:
    """The fewest prefixes that cover every group name of the environment."""
    plan = scan.plan
    wanted = set(plan.prefixes)
    wanted |= {f"/aws/lambda/{p}" for p in plan.prefixes}
    wanted |= {f"/aws/rds/{kind}/{p}" for kind in ("instance", "cluster") for p in plan.prefixes}
    for r in plan.of_type("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
        kind = "cluster" if r.type.endswith("DBCluster") else "instance"
        if r.name:
            wanted.add(f"/aws/rds/{kind}/{r.name}/")
    wanted |= {f"/aws/lambda/{name}" for name in plan.function_names}
    wanted |= {r.name for r in plan.of_type(LOG_GROUP) if r.name}
    ordered = sorted(wanted)
    return [p for p in ordered if not any(p != q and p.startswith(q) for q in ordered)]


def log_groups(scan: Scan) -> list[Leftover]:
    seen: dict[str, Leftover] = {}
    for prefix in prefixes(scan):
        for group in scan.pages("logs", "describe_log_groups", "logGroups", logGroupNamePrefix=prefix):
            name = group["logGroupName"]
            if name in seen:
                continue
            arn = group.get("logGroupArn") or group.get("arn", "").removesuffix(":*")
            resource = scan.plan.find(name, LOG_GROUP)
            tie = scan.tie(arn, resource or _owner(scan, name), _owner_name(name))
            if tie is None:
                continue
            # A tie through the database or function the group is named after says nothing of the group's policy.
            resource = resource or (tie.resource if tie.resource and tie.resource.type == LOG_GROUP else None)
            delete = f"aws logs delete-log-group --log-group-name {name}"
            purpose = scan.plan.log_group_purpose(resource) if resource else ""
            what = f"{purpose}: " if purpose else ""
            if resource is not None and resource.kept:
                verdict = expected(f"{what}kept by config: {resource.why()}")
            elif resource is not None:
                verdict = orphan(f"{what}cdk destroy should have deleted it ({resource.why()}): {delete}")
            else:
                creator = next((who for start, who in CREATORS.items() if name.startswith(start)), "a service")
                verdict = orphan(f"not in the templates: {creator} created it on first use, and cdk destroy never "
                                 f"deletes it: {delete}")
            seen[name] = Leftover("log group", name, arn, tie.stack, tie.how, *verdict,
                                  uses=(group["kmsKeyId"],) if group.get("kmsKeyId") else ())
    return list(seen.values())


def _owner(scan: Scan, name: str):
    """The template's database or function a service-created group is named after."""
    owner = _owner_name(name)
    if owner == name:
        return None
    head = owner.split("/", 1)[0]
    functions = scan.plan.function_names
    return scan.plan.named(head, "AWS::RDS::DBInstance", "AWS::RDS::DBCluster") or functions.get(head) or \
        scan.plan.generated(head, "AWS::Lambda::Function")


def _owner_name(name: str) -> str:
    """The name a service group is named after (`/aws/lambda/dev-Cache-...` -> `dev-Cache-...`)."""
    for start in ("/aws/lambda/", "/aws/rds/instance/", "/aws/rds/cluster/"):
        if name.startswith(start):
            return name[len(start):]
    return name
