"""Secrets and KMS keys, including those pending deletion, which `cdk destroy` schedules rather than removes.

A deletion that cdk destroy scheduled for a resource the config does not keep is expected: the service
finishes it when the waiting period ends. It is an orphan when the config keeps the resource (someone scheduled
the deletion of what prod retains), and a KMS key pending deletion is one when anything kept is encrypted with
it: once the key is gone, that snapshot or backup cannot be restored (teardown.py checks this last).

Secrets are unnamed in the templates, so CloudFormation names them `<LogicalId>-<suffix>`, the same in every
environment: their tags, or the description the templates give them (it names the stack), tie them to one.
KMS keys pending deletion are tied by their tags, aliases, description, or by an ARN something of the
environment holds. Keys in use are listed only when tagged (the tagging API finds those).
"""

from __future__ import annotations

from datetime import datetime

from cdk_data_tier.app.ops.teardown_items import EXPECTED, Leftover, day, expected, key_id, live_verdict, orphan
from cdk_data_tier.app.ops.teardown_scan import Scan, Tie

SECRET, KEY, ALIAS = "AWS::SecretsManager::Secret", "AWS::KMS::Key", "AWS::KMS::Alias"


def secrets(scan: Scan) -> list[Leftover]:
    found = []
    for secret in scan.pages("secretsmanager", "list_secrets", "SecretList", IncludePlannedDeletion=True):
        arn, name = secret["ARN"], secret["Name"]
        resource = scan.plan.named(name, SECRET) or scan.plan.described(secret.get("Description", ""), SECRET)
        tie = scan.tie_from_tags({t["Key"]: t.get("Value", "") for t in secret.get("Tags", [])}) or \
            scan.tie(arn, resource, name)
        if tie is None:
            continue
        resource = tie.resource or resource
        deleted = secret.get("DeletedDate")
        if deleted is not None and resource is not None and resource.kept:
            verdict = orphan(f"the config keeps it ({resource.why()}) but its deletion was scheduled on {day(deleted)}:"
                             f" aws secretsmanager restore-secret --secret-id {arn}")
        elif deleted is not None:
            verdict = expected(f"deletion scheduled on {day(deleted)}"
                               f"{f' by cdk destroy ({resource.why()})' if resource else ''}: Secrets Manager "
                               "removes it when the recovery window ends")
        else:
            verdict = live_verdict(resource, f"aws secretsmanager delete-secret --secret-id {arn}")
        found.append(Leftover("secret", name, arn, tie.stack, tie.how, *verdict,
                              uses=(secret["KmsKeyId"],) if secret.get("KmsKeyId") else (),
                              pending_deletion=deleted))
    return found


def pending_keys(scan: Scan, items: list[Leftover]) -> list[Leftover]:
    """Customer keys pending deletion that belong to the environment, given everything else found: a key that
    something kept is encrypted with is an orphan whatever else is true of it."""
    kms = scan.client("kms")
    aliases: dict[str, list[str]] = {}
    for alias in scan.pages("kms", "list_aliases", "Aliases"):
        if alias.get("TargetKeyId"):
            aliases.setdefault(alias["TargetKeyId"], []).append(alias["AliasName"])
    targets = {name: target for target, names in aliases.items() for name in names}
    users = _users(items, targets)
    found = []
    for key in scan.pages("kms", "list_keys", "Keys"):
        if any(a.startswith("alias/aws/") for a in aliases.get(key["KeyId"], [])):
            continue  # AWS managed: never the stacks'
        meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if meta.get("KeyManager") == "AWS" or meta.get("KeyState") != "PendingDeletion":
            continue
        using = users.get(meta["KeyId"], [])
        tie = _key_tie(scan, meta, aliases.get(key["KeyId"], []), using)
        if tie is None:
            continue
        when: datetime | None = meta.get("DeletionDate")
        resource, kept_users = tie.resource, [u for u in using if u.verdict == EXPECTED]
        cancel = f"aws kms cancel-key-deletion --key-id {meta['KeyId']}"
        if kept_users:
            verdict = orphan(f"pending deletion on {day(when)}, yet kept {kept_users[0].kind} {kept_users[0].id} is "
                             f"encrypted with it and cannot be restored without it: {cancel}")
        elif resource is not None and resource.kept:
            verdict = orphan(f"the config keeps it ({resource.why()}) but it is pending deletion on {day(when)}: "
                             f"{cancel}")
        else:
            verdict = expected(f"pending deletion on {day(when)}"
                               f"{f' by cdk destroy ({resource.why()})' if resource else ''}: KMS deletes it then")
        found.append(Leftover("kms key", meta["KeyId"], meta["Arn"], tie.stack, tie.how, *verdict,
                              pending_deletion=when))
    return found


def _users(items: list[Leftover], alias_targets: dict[str, str]) -> dict[str, list[Leftover]]:
    """Key id -> the items encrypted with it (a reference by alias resolved to its key)."""
    users: dict[str, list[Leftover]] = {}
    for item in items:
        for reference in item.uses:
            ident = key_id(reference)
            if "alias/" in ident:
                ident = alias_targets.get("alias/" + ident.split("alias/", 1)[1], ident)
            users.setdefault(ident, []).append(item)
    return users


def _key_tie(scan: Scan, meta: dict, aliases: list[str], using: list[Leftover]) -> Tie | None:
    tags = scan.client("kms").list_resource_tags(KeyId=meta["KeyId"]).get("Tags", [])
    tie = scan.tie_from_tags({t["TagKey"]: t.get("TagValue", "") for t in tags})
    if tie is not None:
        return tie
    for alias in aliases:
        resource = scan.plan.named(alias, ALIAS)
        if resource is not None:
            return Tie("name", resource.stack, None)
    resource = scan.plan.described(meta.get("Description", ""), KEY)
    if resource is not None:
        return Tie("name", resource.stack, resource)
    if using:
        return Tie("arn", using[0].stack, None)
    for alias in aliases:
        if scan.plan.has_prefix(alias.removeprefix("alias/")):
            return Tie("prefix", scan.plan.stack_of_name(alias.removeprefix("alias/")), None)
    return None
