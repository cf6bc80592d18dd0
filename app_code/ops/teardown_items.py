"""One thing teardown verification found, how it was found, and whether the config keeps it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from cdk_data_tier.app.ops.teardown_plan import Resource

# How a leftover was tied to the environment, strongest first: its own stack-name tag; a name (or description)
# the templates give it or its source; an ARN that something of the environment points at; the env's prefix alone.
HOW_FOUND = ("tag", "name", "arn", "prefix")
EXPECTED, ORPHAN = "expected", "orphan"


@dataclass(frozen=True)
class Leftover:
    kind: str
    id: str
    arn: str
    stack: str
    how_found: str
    verdict: str
    reason: str
    # KMS keys (ids or ARNs) the leftover is encrypted with: a key pending deletion must not take a kept one along.
    uses: tuple[str, ...] = field(default=(), compare=False)
    pending_deletion: datetime | None = field(default=None, compare=False)

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id, "arn": self.arn, "stack": self.stack, "how_found": self.how_found,
                "verdict": self.verdict, "reason": self.reason}


@dataclass(frozen=True)
class Unchecked:
    """A listing that failed: the report cannot say nothing is left there."""

    what: str
    error: str


def expected(reason: str) -> tuple[str, str]:
    return EXPECTED, reason


def orphan(reason: str) -> tuple[str, str]:
    return ORPHAN, reason


def live_verdict(resource: Resource | None, delete: str) -> tuple[str, str]:
    """A resource that should have gone with its stack, unless its template keeps it."""
    if resource is not None and resource.kept:
        return expected(f"kept by config: {resource.why()}")
    if resource is not None:
        return orphan(f"cdk destroy should have deleted it ({resource.why()}): {delete}")
    return orphan(f"not in the templates: {delete}")


def stronger(a: str, b: str) -> str:
    return min(a, b, key=HOW_FOUND.index)


def merge(items: list[Leftover]) -> list[Leftover]:
    """One item per resource (by ARN, else kind and id): the first finder's verdict, the strongest way found."""
    merged: dict[str, Leftover] = {}
    for item in items:
        key = normal_arn(item.arn) or f"{item.kind}:{item.id}"
        if key not in merged:
            merged[key] = item
            continue
        first = merged[key]
        merged[key] = replace(first, how_found=stronger(first.how_found, item.how_found),
                              stack=first.stack or item.stack)
    return list(merged.values())


def normal_arn(arn: str) -> str:
    # DescribeLogGroups gives `...:log-group:NAME:*`, the tagging API `...:log-group:NAME`.
    return arn.removesuffix(":*")


def key_id(reference: str) -> str:
    """The key id in a KMS key reference (an id, or a key ARN); aliases stay as they are."""
    return reference.rsplit("key/", 1)[-1] if ":key/" in reference else reference


def day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else "?"
