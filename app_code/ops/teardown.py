"""Teardown verification: what `cdk destroy` left behind of an environment, and whether the config meant it.

Real leftovers are often untagged or only named, so each kind is listed by what ties it to the environment:
the CloudFormation stack-name tag (the Resource Groups Tagging API, and the tags services list themselves),
the names the synthesized templates give (teardown_plan), ARNs that something of the environment points at,
and the environment's name prefixes. Each item is `expected` when the templates keep it (DeletionPolicy
Retain or Snapshot, recovery points within their lifecycle, deletions cdk destroy scheduled) or an `orphan`.

One module per family of kinds: teardown_stores (snapshots and backups), teardown_keys (secrets and KMS keys),
teardown_logs, teardown_vaults, teardown_network (Lambda ENIs, Elastic IPs). A listing AWS refuses is
reported as unchecked: the report then cannot say that nothing is left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from cdk_data_tier.app.endpoints import AwsTarget
from cdk_data_tier.app.ops import teardown_keys, teardown_logs, teardown_network, teardown_stores, teardown_vaults
from cdk_data_tier.app.ops.teardown_items import ORPHAN, Leftover, Unchecked, live_verdict, merge, orphan
from cdk_data_tier.app.ops.teardown_plan import Plan
from cdk_data_tier.app.ops.teardown_scan import LOGICAL_ID_TAG, STACK_TAG, Scan


@dataclass
class Report:
    env: str
    region: str
    account: str
    configured_account: str
    items: list[Leftover] = field(default_factory=list)
    unchecked: list[Unchecked] = field(default_factory=list)

    @property
    def orphans(self) -> list[Leftover]:
        return [item for item in self.items if item.verdict == ORPHAN]

    @property
    def clean(self) -> bool:
        return not self.orphans and not self.unchecked

    def as_json(self) -> dict:
        return {"env": self.env, "region": self.region, "account": self.account,
                "items": [item.as_json() for item in self.items], "orphans": len(self.orphans),
                "unchecked": [{"what": u.what, "error": u.error} for u in self.unchecked]}


FINDERS = (
    ("DB snapshots", teardown_stores.db_snapshots),
    ("DB cluster snapshots", teardown_stores.db_cluster_snapshots),
    ("retained RDS automated backups", teardown_stores.db_automated_backups),
    ("ElastiCache snapshots", teardown_stores.cache_snapshots),
    ("DynamoDB backups", teardown_stores.dynamo_backups),
    ("Secrets Manager secrets", teardown_keys.secrets),
    ("CloudWatch log groups", teardown_logs.log_groups),
    ("AWS Backup vaults", teardown_vaults.vaults),
    ("Lambda ENIs", teardown_network.lambda_enis),
    ("Elastic IPs", teardown_network.elastic_ips),
)


def teardown_report(plan: Plan, aws: AwsTarget) -> Report:
    scan = Scan(plan=plan, aws=aws, account=_account(aws))
    items: list[Leftover] = scan.guarded("CloudFormation stacks", lambda: _stacks(scan))
    # Copies first: a copy restored from a snapshot may carry its source's stack tags, yet no policy keeps it.
    tagged = scan.guarded("backups and copies app_code ops made", lambda: _made_by_ops(scan))
    tagged += scan.guarded("the Resource Groups Tagging API", lambda: _tagged(scan))
    for what, find in FINDERS:
        items += scan.guarded(what, partial(find, scan))
    # Last: whether a key pending deletion may go depends on what else is kept.
    items += scan.guarded("KMS keys pending deletion", lambda: teardown_keys.pending_keys(scan, merge(items + tagged)))
    return Report(env=plan.env, region=aws.region or plan.region, account=scan.account,
                  configured_account=plan.account, items=merge(items + tagged), unchecked=scan.unchecked)


def _account(aws: AwsTarget) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return aws.client("sts").get_caller_identity()["Account"]
    except (ClientError, BotoCoreError):
        return ""


def _stacks(scan: Scan) -> list[Leftover]:
    """Stacks that still exist: cdk destroy has not run, is running, or failed."""
    cfn = scan.client("cloudformation")
    left = []
    for name in scan.plan.stacks:
        try:
            described = cfn.describe_stacks(StackName=name)["Stacks"]
        except cfn.exceptions.ClientError as exc:
            if "does not exist" in str(exc):
                continue
            raise
        for stack in described:
            if stack["StackStatus"] != "DELETE_COMPLETE":
                left.append(Leftover("cloudformation stack", name, stack.get("StackId", ""), name, "name",
                                     *orphan(f"{stack['StackStatus']}: cdk destroy has not finished, or failed "
                                             "(its events say what blocked it)")))
    return left


def _tagged(scan: Scan) -> list[Leftover]:
    """Everything still tagged with one of the environment's stacks (nested stacks' too), judged by its
    template's policy. Also fills scan.tagged, which the finders use to see a tag behind an ARN."""
    found = []
    # The tag key alone: values are matched here, so that nested stacks (`<stack>-<LogicalId>-<suffix>`) count.
    for res in scan.pages("resourcegroupstaggingapi", "get_resources", "ResourceTagMappingList",
                          TagFilters=[{"Key": STACK_TAG}]):
        tags = {t["Key"]: t["Value"] for t in res.get("Tags", [])}
        stack = scan.plan.owns_stack(tags.get(STACK_TAG, "") or "\0")
        if stack is None:
            continue
        arn = res["ResourceARN"]
        logical_id = tags.get(LOGICAL_ID_TAG, "")
        scan.tagged[arn] = (stack, logical_id)
        resource = scan.plan.by_logical_id(stack, logical_id)
        verdict = live_verdict(resource, "delete it with its service's console or CLI")
        found.append(Leftover(_kind(arn), arn.split(":", 5)[-1], arn, stack, "tag", *verdict))
    return found


# ARN resource types of the copies restores make; the rest of what carries the tags are backups, which the
# finders judge by their source.
COPY_TYPES = {("rds", "db"), ("rds", "cluster"), ("dynamodb", "table"), ("elasticache", "replicationgroup")}


def _made_by_ops(scan: Scan) -> list[Leftover]:
    """What `ops backup` and the restores made for this environment, by the tags they give it. A restored copy
    is an orphan wherever it is: no config keeps it."""
    found = []
    from cdk_data_tier.app.ops.copies import tags

    filters = [{"Key": t["Key"], "Values": [t["Value"]]} for t in tags(scan.env)]  # what ops puts on its own
    for res in scan.pages("resourcegroupstaggingapi", "get_resources", "ResourceTagMappingList", TagFilters=filters):
        arn = res["ResourceARN"]
        scan.made_by_ops.add(arn)
        service, kind = arn.split(":")[2], _kind(arn).split(" ", 1)[-1]
        if (service, kind) not in COPY_TYPES:
            continue
        name = arn.split(":", 5)[-1].split("/", 1)[-1].split(":", 1)[-1]
        found.append(Leftover("restored copy", name, arn, scan.stack_of_service(arn), "tag", *orphan(
            f"a {_kind(arn)} a restore made, which no config keeps: python -m app_code ops remove-copy "
            f"--env {scan.env} --target {name}")))
    return found


def _kind(arn: str) -> str:
    """`dynamodb table`, `kms key`, ... from the ARN."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "unknown"
    resource = parts[5].split("/", 1)[0].split(":", 1)[0]
    return f"{parts[2]} {resource}".strip()
