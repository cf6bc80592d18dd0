"""What an environment's synthesized templates say `cdk destroy` leaves: names, and the deletion policy of each.

Teardown verification matches what it finds in the account against this, never against a second copy of the
config: a resource the templates give DeletionPolicy Retain (or Snapshot, for the stores) is kept on purpose,
anything else of the environment that is still there is an orphan. Names come from the templates too: literal
identifiers (`dev-database-writer`, `/aws/rds/instance/dev-database-writer/postgresql`, vault names), the names
CloudFormation generates for the rest (`<stack>-<LogicalId>-<suffix>`), and the prefixes CDK gives physical
names (`<env><Concern>...`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdk_data_tier.app.endpoints import STACK_SUFFIXES

# The property that holds a resource type's physical name, when the template sets one.
NAME_KEYS = {
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Backup::BackupVault": "BackupVaultName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::DynamoDB::GlobalTable": "TableName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::ElastiCache::ReplicationGroup": "ReplicationGroupId",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::KMS::Alias": "AliasName",
}
# Which store's config key a stack's deletion policies follow (stacks/retention.py), for the reasons printed.
REMOVAL_KEYS = {"Database": "database.removal", "Dynamo": "dynamo.removal", "Cache": "cache.removal"}
KEEPING = ("Retain", "RetainExceptOnCreate", "Snapshot")


@dataclass(frozen=True)
class Resource:
    stack: str
    logical_id: str
    type: str
    policy: str  # Delete, Retain, Snapshot, RetainExceptOnCreate
    props: dict[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def name(self) -> str | None:
        key = NAME_KEYS.get(self.type)
        return text(self.props.get(key), self.stack) if key else None

    @property
    def kept(self) -> bool:
        return self.policy in KEEPING

    def why(self) -> str:
        """The policy and the config key behind it, as a reason line's core."""
        concern = self.stack.rsplit("-", 1)[-1]
        key = REMOVAL_KEYS.get(concern, "removal")
        return f"{self.stack}/{self.logical_id} DeletionPolicy {self.policy}, per {key}"


def text(value: Any, stack: str) -> str | None:
    """A property as a string when the template fixes it: a literal, or a join of literals and the stack name."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"Fn::Join"}:
        sep, parts = value["Fn::Join"]
        resolved = [stack if part == {"Ref": "AWS::StackName"} else part for part in parts]
        if all(isinstance(part, str) for part in resolved):
            return sep.join(resolved)
    return None


def _default_policy(kind: str, props: dict[str, Any]) -> str:
    # CloudFormation's own default: Snapshot for clusters and for instances outside a cluster.
    if kind == "AWS::RDS::DBCluster" or (kind == "AWS::RDS::DBInstance" and "DBClusterIdentifier" not in props):
        return "Snapshot"
    return "Delete"


@dataclass(frozen=True)
class Plan:
    env: str
    account: str
    region: str
    resources: tuple[Resource, ...]

    @classmethod
    def from_templates(cls, env: str, templates: dict[str, dict[str, Any]], *, account: str = "",
                       region: str = "") -> Plan:
        resources = tuple(
            Resource(stack, lid, res.get("Type", ""), res.get("DeletionPolicy")
                     or _default_policy(res.get("Type", ""), res.get("Properties", {})), res.get("Properties", {}))
            for stack, body in sorted(templates.items())
            for lid, res in body.get("Resources", {}).items())
        return cls(env=env, account=account, region=region, resources=resources)

    @classmethod
    def from_assembly(cls, env: str, outdir: Path) -> Plan:
        from cdk_data_tier.app.local.templates import environment, stack_templates

        files = stack_templates(outdir, env)
        templates = {name: json.loads(path.read_text()) for name, path in files.items()}
        account, region = environment(outdir, next(iter(sorted(files)))) if files else ("", "")
        if not (outdir / "manifest.json").exists():
            account, region = "", ""  # without a manifest `environment` only has moto's defaults to give
        return cls.from_templates(env, templates, account=account, region=region)

    # -- the stacks and their prefixes -----------------------------------------------------------------
    @property
    def stacks(self) -> list[str]:
        return sorted({f"{self.env}-{suffix}" for suffix in STACK_SUFFIXES} | {r.stack for r in self.resources})

    def owns_stack(self, stack: str) -> str | None:
        """The environment's stack a stack-name tag names (nested stacks are `<stack>-<LogicalId>-<suffix>`)."""
        return next((s for s in self.stacks if stack == s or stack.startswith(f"{s}-")), None)

    @property
    def prefixes(self) -> tuple[str, ...]:
        """Name prefixes of the environment: CloudFormation's `<env>-...` and CDK's `<env><Concern>...`."""
        return (f"{self.env}-", *(f"{self.env}{s.split('-', 1)[1]}" for s in self.stacks if "-" in s))

    def stack_of_name(self, name: str) -> str:
        """The stack a name points at by its prefix alone ('' when it names none)."""
        for stack in sorted(self.stacks, key=len, reverse=True):
            concern = stack.split("-", 1)[1] if "-" in stack else stack
            if name.startswith((f"{stack}-", f"{stack}/", f"{self.env}{concern}")):
                return stack
        return ""

    def has_prefix(self, name: str) -> bool:
        return any(name.startswith(prefix) for prefix in self.prefixes)

    # -- resources by name ----------------------------------------------------------------------------
    def of_type(self, *types: str) -> list[Resource]:
        return [r for r in self.resources if r.type in types]

    def by_logical_id(self, stack: str, logical_id: str) -> Resource | None:
        return next((r for r in self.resources if r.stack == stack and r.logical_id == logical_id), None)

    def named(self, name: str, *types: str) -> Resource | None:
        """The resource whose template gives it exactly this name."""
        return next((r for r in self.of_type(*types) if r.name == name), None)

    def generated(self, name: str, *types: str) -> Resource | None:
        """The unnamed resource CloudFormation named `<stack>-<LogicalId, maybe cut short>-<suffix>`."""
        best: tuple[int, Resource | None] = (0, None)
        for r in self.of_type(*types):
            if r.name is not None or not name.startswith(f"{r.stack}-"):
                continue
            head = name[len(r.stack) + 1:].rsplit("-", 1)[0]
            # CloudFormation cuts long logical ids short; a head this short would match by chance.
            if len(head) >= 8 and r.logical_id.startswith(head) and len(head) > best[0]:
                best = (len(head), r)
        return best[1]

    def find(self, name: str, *types: str) -> Resource | None:
        return self.named(name, *types) or self.generated(name, *types)

    def described(self, description: str, *types: str) -> Resource | None:
        """A resource whose literal description is this one and names the environment (so no other env's)."""
        for r in self.of_type(*types):
            own = text(r.props.get("Description") or r.props.get("ReplicationGroupDescription"), r.stack)
            if own and own == description and (self.env in own.replace("-", " ").split() or r.stack in own):
                return r
        return None

    @property
    def function_names(self) -> dict[str, Resource]:
        """Lambda function names the templates fix: functions' own, and the rotation applications' parameter."""
        names = {r.name: r for r in self.of_type("AWS::Lambda::Function") if r.name}
        for r in self.of_type("AWS::Serverless::Application"):
            name = text(r.props.get("Parameters", {}).get("functionName"), r.stack)
            if name:
                names[name] = r
        return names

    def retention_days(self, vault: Resource) -> int | None:
        """DeleteAfterDays of the plan rules that write into this vault."""
        days = [rule.get("Lifecycle", {}).get("DeleteAfterDays")
                for plan in self.of_type("AWS::Backup::BackupPlan") if plan.stack == vault.stack
                for rule in plan.props.get("BackupPlan", {}).get("BackupPlanRule", [])
                if vault.logical_id in json.dumps(rule.get("TargetBackupVault"))]
        known = [d for d in days if isinstance(d, int)]
        return max(known) if known else None

    def log_group_purpose(self, group: Resource) -> str:
        for r in self.of_type("AWS::EC2::FlowLog"):
            if r.stack == group.stack and r.props.get("LogGroupName") == {"Ref": group.logical_id}:
                return "VPC flow logs"
        return ""
